"""``centime worker``: the periodic jobs, each run by one worker at a time under a lease.

A :class:`Job` is a name, an interval and a function of the platform that does a bounded
amount of work per call. Jobs are registered in a list (:func:`default_jobs` gives the
platform's; a service adds its own by appending ``Job("payouts.scheduled", 60.0,
run_scheduled_payouts)`` there, or the composition root passes more to :class:`Worker`).

Leases live in the database (``job_leases``: name, holder, expires_ns, due_ns), so any
number of workers, in one process or many (PostgreSQL), share the jobs:

- **take**: a conditional update sets the holder when the job is due and nobody holds it
  (or the holder's lease ran out); exactly one of several workers trying at once gets it:
  on SQLite write units run one at a time; on PostgreSQL the lease units overlap other
  processes' groups (they declare an ``Overlap``), and the update is atomic all the same
  (it locks the row; a second update waits for the first to commit and checks its
  condition again on the row as committed, so it matches nothing), and a row two workers
  insert at once is refused by the key (the loser's group runs again and finds it held);
- **release**: the holder clears itself and sets when the job is next due (now + interval),
  so the job's interval holds across workers, not per worker.

A lease is not renewed: every job does a bounded amount of work per call, well within
JOB_LEASE_S (a longer task is several calls, each picking up where the last stopped), so a
lease never runs out under a live holder and no job runs twice at once. A job that raises is
logged and released (due again after its interval). A worker that dies holding a lease blocks
its job for at most JOB_LEASE_S. On SQLite one process writes the database: the worker runs
inside ``centime serve`` (the default); a separate ``centime worker`` process needs
PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Final

from centime.clock import NS_PER_S
from centime.ledger.units import Overlap, UnitContext
from centime.limits import JOB_INTERVAL_MIN_S, JOB_LEASE_S
from centime.platform.context import Operation, Platform

__all__ = [
    "Job",
    "Worker",
    "default_jobs",
    "release_lease",
    "take_lease",
]

log = logging.getLogger("centime.worker")

_NAME_LEN_MAX: Final = 64
# The lease units touch no ledger account and read nothing another writer may change under
# them but their own row, which their conditional update locks (see the module's note):
# on PostgreSQL they run beside other processes' groups instead of draining them (each
# worker tick took the writers' lock exclusively, twice per job).
_OVERLAP: Final = Overlap()


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: ``run(platform)`` every ``interval_s`` seconds, bounded per call."""

    name: str
    interval_s: float
    run: Callable[[Platform], object]


# ------------------------------------------------------------------ leases


def take_lease(name: str, holder: str, lease_s: float) -> Operation[bool]:
    """Hold job ``name`` for ``lease_s`` if it is due and free (or its lease ran out)."""

    def unit(ctx: UnitContext) -> bool:
        now = ctx.now_ns
        taken = ctx.execute(
            "UPDATE job_leases SET holder = ?, expires_ns = ? WHERE name = ? AND due_ns <= ?"
            " AND (holder IS NULL OR expires_ns <= ?)",
            (holder, now + int(lease_s * NS_PER_S), name, now, now),
        )
        if taken:
            return True
        if ctx.fetch("SELECT name FROM job_leases WHERE name = ?", (name,)):
            return False
        ctx.execute(
            "INSERT INTO job_leases (name, holder, expires_ns, due_ns) VALUES (?, ?, ?, ?)",
            (name, holder, now + int(lease_s * NS_PER_S), now),
        )
        return True

    return Operation(unit, 0, _OVERLAP)


def release_lease(name: str, holder: str, interval_s: float) -> Operation[bool]:
    """Let go of the lease; the job is due again ``interval_s`` from now."""

    def unit(ctx: UnitContext) -> bool:
        return bool(
            ctx.execute(
                "UPDATE job_leases SET holder = NULL, expires_ns = 0, due_ns = ?"
                " WHERE name = ? AND holder = ?",
                (ctx.now_ns + int(interval_s * NS_PER_S), name, holder),
            )
        )

    return Operation(unit, 0, _OVERLAP)


# ------------------------------------------------------------------ the worker


class Worker:
    """Runs ``jobs`` on ``platform``: each due job whose lease it takes, one after another
    (:meth:`tick`), every ``poll_s`` seconds on a thread (:meth:`start`) or in the
    foreground until SIGTERM or SIGINT (:meth:`run_forever`)."""

    def __init__(
        self,
        platform: Platform,
        jobs: Iterable[Job],
        *,
        holder: str | None = None,
        lease_s: float = JOB_LEASE_S,
        poll_s: float = 0.25,
    ) -> None:
        self.platform = platform
        self.jobs = list(jobs)
        names = [job.name for job in self.jobs]
        if len(set(names)) != len(names) or any(not 0 < len(n) <= _NAME_LEN_MAX for n in names):
            raise ValueError("job names are unique, 1..64 characters")
        if any(job.interval_s < JOB_INTERVAL_MIN_S for job in self.jobs):
            raise ValueError(f"a job's interval is at least {JOB_INTERVAL_MIN_S} s")
        self.holder = holder or (
            f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
        )
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Run every job that is due and free now; the names of those run."""
        ran = []
        for job in self.jobs:
            if self._stop.is_set():
                break
            if self.run_job(job):
                ran.append(job.name)
        return ran

    def run_job(self, job: Job) -> bool:
        """Take ``job``'s lease and run it once; False when another worker has it or it is
        not due."""
        platform = self.platform
        try:
            if not platform.execute(take_lease(job.name, self.holder, self.lease_s)):
                return False
        except Exception:
            log.exception("taking the lease of job %r failed", job.name)
            return False
        try:
            job.run(platform)
        except Exception:  # logged; the worker and the other jobs go on
            log.exception("job %r failed", job.name)
        finally:
            try:
                platform.execute(release_lease(job.name, self.holder, job.interval_s))
            except Exception:  # the lease runs out by itself
                log.exception("releasing the lease of job %r failed", job.name)
        return True

    # ----------------------------------------------------------------- running

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        """Run on a daemon thread (the worker embedded in ``centime serve``)."""
        self._thread = threading.Thread(target=self._loop, name="centime-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job running now (if any) finishes; wait for that."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()

    def run_forever(self) -> None:
        """Run in the foreground until SIGTERM or SIGINT, then finish the running job and
        return (a graceful stop: no lease is left held)."""

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping after the running job", signum)
            self._stop.set()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._loop()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def default_jobs(platform: Platform, extra: Sequence[Job] = ()) -> list[Job]:
    """The platform's periodic jobs: webhook delivery, hold expiry, and the funding
    provider's events (settlement of carrier money, late successes, chargebacks). The
    sandbox provider keeps its events in the process that charged: run this worker in that
    process (``centime serve``'s embedded worker) with it."""
    from centime.api.webhook_delivery import WebhookDelivery
    from centime.limits import (
        HOLD_EXPIRE_INTERVAL_S,
        PROVIDER_EVENTS_INTERVAL_S,
        WEBHOOK_DELIVERY_INTERVAL_S,
    )
    from centime.platform.funding import process_provider_events
    from centime.platform.payments import expire_holds
    from centime.providers import SandboxProvider

    jobs = [
        Job("webhooks.deliver", WEBHOOK_DELIVERY_INTERVAL_S, WebhookDelivery()),
        Job("holds.expire", HOLD_EXPIRE_INTERVAL_S, expire_holds),
    ]
    feed = platform.providers.funding.get("sandbox")
    if isinstance(feed, SandboxProvider):
        sandbox: SandboxProvider = feed
        jobs.append(
            Job(
                "provider.events",
                PROVIDER_EVENTS_INTERVAL_S,
                lambda running: process_provider_events(running, sandbox),
            )
        )
    return [*jobs, *extra]
