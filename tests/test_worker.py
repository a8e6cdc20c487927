"""The worker's leases: two workers never run one job at once (threads on one SQLite
platform; two platforms on one PostgreSQL database, as two processes run), and the lease
operations follow their model whatever the order of takes, releases and waits."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from centime.cli import app
from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.platform.context import Platform
from centime.store import LedgerStore, open_store
from centime.worker import Job, Worker, release_lease, take_lease

NS = 1_000_000_000

# The store-specific parts run on both stores; the rest on SQLite only (the suite's time).
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


class Overlap:
    """A job that notices when it runs twice at once."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.runs = 0

    def __call__(self, platform: Platform) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.runs += 1
        time.sleep(0.002)
        with self.lock:
            self.running -= 1
        self.clock.advance(1)  # the job is due again at once for the next worker


def _race(workers: list[Worker], rounds: int) -> None:
    barrier = threading.Barrier(len(workers))

    def run(worker: Worker) -> None:
        for _ in range(rounds):
            barrier.wait()
            worker.tick()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_workers_never_run_the_same_job_at_once(
    store_url: str, store_factory: Callable[[], LedgerStore], platform: Platform, clock: FakeClock
) -> None:
    job = Overlap(clock)
    jobs = [Job("overlap", 0.5, job)]
    if store_url.startswith("postgresql"):  # two writers, as two processes
        other = Platform(Ledger(store_factory(), clock), clock)
    else:  # SQLite has one writer: two workers share it
        other = platform
    try:
        workers = [Worker(platform, jobs, holder="a"), Worker(other, jobs, holder="b")]
        _race(workers, 20)
    finally:
        if other is not platform:
            other.ledger.close()
    assert job.most == 1
    assert job.runs >= 1


@SQLITE_ONLY
def test_a_job_runs_once_per_interval_across_workers_and_survives_a_failure(
    platform: Platform, clock: FakeClock
) -> None:
    calls: list[str] = []

    def failing(_: Platform) -> None:
        calls.append("failing")
        raise RuntimeError("boom")

    jobs = [Job("failing", 60, failing), Job("fine", 60, lambda _: calls.append("fine"))]
    first, second = Worker(platform, jobs, holder="a"), Worker(platform, jobs, holder="b")
    assert first.tick() == ["failing", "fine"]
    assert second.tick() == []  # not due again yet: the interval holds across workers
    clock.advance(60)
    assert second.tick() == ["failing", "fine"]
    assert calls == ["failing", "fine", "failing", "fine"]


@SQLITE_ONLY
def test_a_dead_holders_lease_is_taken_over_after_it_runs_out(
    platform: Platform, clock: FakeClock
) -> None:
    assert platform.execute(take_lease("job", "dead", 30))
    assert not platform.execute(take_lease("job", "alive", 30))
    clock.advance(30)
    assert platform.execute(take_lease("job", "alive", 30))
    assert not platform.execute(release_lease("job", "dead", 1))


@SQLITE_ONLY
def test_the_worker_thread_stops_gracefully(platform: Platform) -> None:
    ran = threading.Event()
    worker = Worker(platform, [Job("tick", 0.05, lambda _: ran.set())], poll_s=0.01)
    worker.start()
    assert ran.wait(10)
    worker.stop()
    with platform.read() as fetch:  # released: nobody holds it
        assert fetch("SELECT holder FROM job_leases WHERE name = 'tick'", ()) == [(None,)]


def test_bad_jobs_are_refused() -> None:
    with pytest.raises(ValueError):
        Worker(None, [Job("x", 1, print), Job("x", 1, print)])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Worker(None, [Job("x", 0, print)])  # type: ignore[arg-type]


_names = itertools.count()
steps = st.lists(
    st.tuples(
        st.sampled_from(["take", "release", "wait"]),
        st.sampled_from("ab"),
        st.integers(0, 40),
    ),
    max_size=12,
)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_leases_follow_their_model(platform: Platform, clock: FakeClock, steps: list) -> None:  # type: ignore[type-arg]
    """At most one holder at a time; a take succeeds exactly when the job is due and free
    or its lease ran out; release only works for the holder."""
    name = f"job{next(_names)}"  # a new job per example: no state carries over (which is
    # why the function-scoped fixtures may serve every example)
    holder: str | None = None
    expires = due = 0
    lease_s = 30
    for action, who, seconds in steps:
        now = clock.now_ns()
        if action == "wait":
            clock.advance(seconds)
        elif action == "take":
            expect = due <= now and (holder is None or expires <= now)
            assert platform.execute(take_lease(name, who, lease_s)) == expect
            if expect:
                holder, expires = who, now + lease_s * NS
        else:
            expect = holder == who
            assert platform.execute(release_lease(name, who, seconds)) == expect
            if expect:
                holder, expires, due = None, 0, now + seconds * NS


def test_centime_worker_runs_its_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The worker command (in this process: SIGTERM comes to the main thread): it runs every
    job once, then SIGTERM ends it cleanly, its leases released."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    open_store(url).close()  # the schema, before the worker starts

    def stop_once_every_job_ran() -> None:
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:  # plain sqlite3: migrations are not threadsafe
                with contextlib.closing(sqlite3.connect(tmp_path / "db.sqlite")) as db:
                    if db.execute("SELECT COUNT(*) FROM job_leases").fetchone()[0] == 3:
                        break
                time.sleep(0.05)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_every_job_ran)
    stopper.start()
    result = CliRunner().invoke(app, ["worker", "--database-url", url])
    stopper.join()
    assert result.exit_code == 0, result.output
    assert "jobs webhooks.deliver, holds.expire, provider.events" in result.output
    assert "worker stopped" in result.output
    store = open_store(url)
    try:
        with store.reader() as fetch:
            assert fetch("SELECT holder FROM job_leases WHERE holder IS NOT NULL", ()) == []
    finally:
        store.close()
