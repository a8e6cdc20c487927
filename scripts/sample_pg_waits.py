"""Sample what PostgreSQL backends wait on, and the CPU of every process, until stopped.

Used for docs/benchmarks.md, "PostgreSQL, payment groups of several processes overlap":
started beside ``centime bench api --store postgres --processes 1,2``, stopped (SIGTERM or
SIGINT) when it ends. Every 0.5 s it reads ``pg_stat_activity`` for the backends of the
databases named ``centime_bench...`` (state, wait event, and for a lock wait or an idle
transaction the statement's start) and each process's CPU ticks from ``/proc``; at the end
it writes, to the file given, the CPU seconds per kind of process (summed per interval, so
processes that ended meanwhile count) and per database the most frequent states of its busy
backends.

    .venv/bin/python scripts/sample_pg_waits.py waits.txt &
    .venv/bin/centime bench api --store postgres --processes 1,2 --runs 3 --duration-s 6
    kill %1

With a second argument, the pid of one ``centime bench`` process, only the databases its
own servers use are counted (a backend is the bench's when its client's socket belongs to
that process or one of its descendants): other sessions' benches on the same PostgreSQL
server are left out. The CPU figures are of every process either way.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from types import FrameType

import psycopg

SERVER = os.environ.get(
    "CENTIME_SAMPLE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
QUERY = (
    "SELECT datname, state, coalesce(wait_event_type, '-'), coalesce(wait_event, '-'),"
    " left(regexp_replace(query, '\\s+', ' ', 'g'), 60), coalesce(client_port, -1)"
    " FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " AND datname LIKE 'centime_bench%'"
)
_stop = threading.Event()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop.set()


def _ticks() -> dict[str, tuple[int, str]]:
    """CPU ticks (user + system) and command line of every process."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12]), command)
    return found


def _tree(root: int) -> set[int]:
    """``root`` and every process descended from it."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = {root}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                grew = True
    return found


def _ports_of(pids: set[int]) -> set[int]:
    """The local TCP ports of the sockets the processes ``pids`` hold open."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _kind(command: str) -> str:
    if command.startswith("postgres"):
        return "postgres"
    if "centime bench" in command:
        return "load generator (centime bench)"
    if "centime" in command and "serve" in command:
        return "centime serve (API)"
    if "spawn_main" in command:
        return "API worker (spawned)"
    if "pytest" in command:
        return "pytest"
    if "redis" in command:
        return "redis"
    return "other"


def main(out: str, bench_pid: int | None = None) -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    states: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    cpu: collections.Counter[str] = collections.Counter()
    start = time.monotonic()
    previous = _ticks()
    samples = 0
    mine: set[str] = set()  # the databases of the bench's servers (with bench_pid)
    with psycopg.connect(SERVER, autocommit=True) as conn:
        while not _stop.is_set():
            now = _ticks()
            for pid, (ticks, command) in now.items():
                cpu[_kind(command)] += ticks - (previous[pid][0] if pid in previous else 0)
            previous = now
            samples += 1
            rows = conn.execute(QUERY).fetchall()
            if bench_pid is not None:
                ports = _ports_of(_tree(bench_pid))
                mine.update(row[0] for row in rows if row[5] in ports)
            for db, state, wait_type, wait, query, _ in rows:
                if state == "idle" or (bench_pid is not None and db not in mine):
                    continue
                shown = query if wait_type == "Lock" or state.startswith("idle in") else ""
                states[(db, state, f"{wait_type}/{wait}", shown)] += 1
            time.sleep(0.5)
    elapsed = time.monotonic() - start
    hz = os.sysconf("SC_CLK_TCK")
    with open(out, "w") as f:
        f.write(f"samples {samples} over {elapsed:.0f}s\n")
        f.write(f"CPU seconds by kind (all cores: at most {os.cpu_count() or 1} x elapsed):\n")
        for kind, ticks in cpu.most_common():
            f.write(f"  {kind}: {ticks / hz:.1f}s\n")
        for db in sorted({key[0] for key in states}):
            of_db = {k: v for k, v in states.items() if k[0] == db}
            total = sum(of_db.values())
            f.write(f"{db}: busy backend samples {total}\n")
            for (_, state, wait, shown), count in collections.Counter(of_db).most_common(12):
                f.write(f"   {100 * count / total:5.1f}%  {state} {wait} {shown}\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
