#!/usr/bin/env python3
"""Where a writer group's time goes: `centime bench ledger`'s workload on SQLite at batch
8189, each phase of every group timed in wall time and in the thread's CPU time (their
difference is time the thread waited: fsync, the other thread, the interpreter lock).

    .venv/bin/python scripts/ledger_group_phases.py --groups 13

A measuring probe, not a benchmark: it replaces ``Ledger._apply_group`` with a copy of its
plain-batch path (no units, no audit, no expiry due) that reads the clock between phases,
and splits ``_SqliteWrite.write`` into its statements. Run it with each checkout's own venv
to compare two revisions phase by phase. The garbage collector runs outside the group (in
any thread, once the writer's pause ends): its time over the whole run, divided by the
groups, is shown apart.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from centime.bench.ledger import set_up_wallets
from centime.bench.workload import Workload
from centime.ledger import Ledger
from centime.ledger import engine as engine_module
from centime.ledger.core import BatchApplier, Changes
from centime.ledger.native import core_is_compiled
from centime.ledger.units import GroupLoader
from centime.store import open_store
from centime.store import sqlite as sqlite_store

# Each phase's (wall, thread CPU) times in ms, per group.
PHASES: dict[str, list[tuple[float, float]]] = {}
Stamp = tuple[float, float]


def now() -> Stamp:
    return time.perf_counter(), time.thread_time()


def record(name: str, began: Stamp) -> Stamp:
    ended = now()
    PHASES.setdefault(name, []).append(((ended[0] - began[0]) * 1e3, (ended[1] - began[1]) * 1e3))
    return ended


def time_collections() -> Callable[[], float]:
    """Start timing the collector's runs (in the clock of the thread that runs each);
    returns a function giving their total so far, in ms."""
    began: dict[int, float] = {}
    total = [0.0]
    clock = time.thread_time

    def timed(phase: str, info: dict[str, int]) -> None:
        key = threading.get_ident()
        if phase == "start":
            began[key] = clock()
        elif key in began:
            total[0] += (clock() - began.pop(key)) * 1e3

    gc.callbacks.append(timed)
    return lambda: total[0]


def instrument() -> None:
    write = sqlite_store._SqliteWrite.write

    def timed_write(self: Any, changes: Changes) -> None:
        began = now()
        write(self, Changes(changes.accounts_created, {}, [], changes.pending, changes.failed))
        began = record("write: the rest", began)
        write(self, Changes(accounts=changes.accounts))
        began = record("write: UPDATE accounts", began)
        write(self, Changes(transfers=changes.transfers, balances=changes.balances))
        record("write: INSERT transfers", began)

    sqlite_store._SqliteWrite.write = timed_write  # type: ignore[method-assign]

    for name in ("transfers", "failed", "lock_accounts"):
        method = getattr(sqlite_store._SqliteWrite, name)

        def timed(self: Any, ids: Any, _method: Any = method, _name: str = name) -> Any:
            began = now()
            found = _method(self, ids)
            record(f"  read: {_name}", began)
            return found

        setattr(sqlite_store._SqliteWrite, name, timed)

    def apply_group(
        self: Any, group: list[Any], alone: bool = False
    ) -> tuple[list[list[Any]], Changes]:
        # SQLite's groups never overlap: ``alone`` (an overlapping group run again alone,
        # PostgreSQL only) changes nothing here.
        began = first = now()
        with self.store.write_transaction() as txn:
            now_ns = self.clock.now_ns()
            due = txn.due_pending(now_ns, 0)
            count = sum(r.size for r in group)
            timestamp = txn.reserve_timestamps(count, now_ns)
            began = record("begin, clock", began)
            loader = GroupLoader(txn)
            view = engine_module._load_view(loader, group, due)
            began = record("load the view", began)
            applier = BatchApplier(view)
            results = engine_module._apply_requests(loader, applier, group, due, timestamp, now_ns)
            began = record("core", began)
            changes = applier.changes()
            began = record("changes()", began)
            txn.write(changes)
            began = now()
        record("COMMIT", began)
        record("the group, all phases", first)
        return results, changes

    engine_module.Ledger._apply_group = apply_group  # type: ignore[method-assign]

    commit_group = engine_module.Ledger._commit_group

    def timed_commit_group(self: Any, group: list[Any]) -> None:
        began = now()
        commit_group(self, group)
        record("writer: the group and answers", began)

    engine_module.Ledger._commit_group = timed_commit_group  # type: ignore[method-assign]

    commit_changes = sqlite_store.SqliteStore.commit_changes

    def timed_commit_changes(self: Any, changes: Changes) -> None:
        began = now()
        commit_changes(self, changes)
        record("account cache update", began)

    sqlite_store.SqliteStore.commit_changes = timed_commit_changes  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=13)
    # Both clocks are always shown now; the flag of older commands is accepted.
    parser.add_argument("--cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    directory = tempfile.mkdtemp()
    try:
        ledger = Ledger(open_store(f"sqlite:///{os.path.join(directory, 'ledger.db')}"))
        workload = Workload(10_000, args.groups * 8189, 8189, 1)
        set_up_wallets(ledger, workload)  # before the probe: not measured
        instrument()
        collected_ms = time_collections()
        calls = []
        began = time.perf_counter()
        # Drawn lazily, as the bench's client does: what it allocates meets the collector.
        batches = workload.batches()
        while True:
            drawn = now()
            batch = next(batches, None)
            if batch is None:
                break
            record("client: draw the batch", drawn)
            call = time.perf_counter()
            ledger.create_transfers(batch)
            calls.append((time.perf_counter() - call) * 1e3)
        elapsed = time.perf_counter() - began
        collector_ms = collected_ms()
        ledger.close()
    finally:
        shutil.rmtree(directory)
    print(
        f"core compiled: {core_is_compiled()}; {len(calls)} groups of 8189,"
        f" {workload.transfers / elapsed:,.0f} transfers/s; ms a group, median (mean):"
    )
    print(f"  {'phase':30} {'wall':>16} {'thread CPU':>16}")
    for name, values in PHASES.items():
        wall = [v[0] for v in values]
        cpu = [v[1] for v in values]
        print(
            f"  {name:30} {statistics.median(wall):7.2f} ({statistics.fmean(wall):6.2f})"
            f" {statistics.median(cpu):7.2f} ({statistics.fmean(cpu):6.2f})"
        )
    print(
        f"  {'collector (mean, any thread)':30}                  {collector_ms / len(calls):7.2f}"
    )
    print(
        f"  {'create_transfers (wall)':30} {statistics.median(calls):7.2f}"
        f" ({statistics.fmean(calls):6.2f})"
    )
    print(f"  {'the whole run (wall, mean)':30}         ({elapsed * 1e3 / len(calls):6.2f})")


if __name__ == "__main__":
    main()
