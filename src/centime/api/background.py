"""The server's background loop: periodic housekeeping next to the HTTP app.

Each :class:`Task` runs every ``interval_s`` on one daemon thread; a task that raises is
logged and runs again at its next turn (housekeeping must not take the server down). Every
task is bounded per run (the idempotency purge deletes at most IDEMPOTENCY_PURGE_MAX rows),
so one run cannot hold the ledger's writer for long. Other services add their tasks to
:func:`background_tasks`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from centime.limits import IDEMPOTENCY_PURGE_INTERVAL_S
from centime.platform.context import Platform

from .idempotency import purge_expired

__all__ = ["BackgroundLoop", "Task", "background_tasks", "purge_idempotency_keys"]

log = logging.getLogger("centime.background")


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    interval_s: float
    run: Callable[[Platform], object]


def purge_idempotency_keys(platform: Platform) -> int:
    """One bounded purge of stored responses past their keeping time; rows deleted."""
    return platform.execute(purge_expired())


def background_tasks() -> list[Task]:
    """Everything ``centime serve`` runs in the background."""
    from centime.openpayments.streams import SETTLE_INTERVAL_S, settle_idle_streams

    return [
        Task("idempotency purge", IDEMPOTENCY_PURGE_INTERVAL_S, purge_idempotency_keys),
        # Web Monetization streams idle for a minute are settled (centime.openpayments).
        Task("open payments streams", SETTLE_INTERVAL_S, settle_idle_streams),
    ]


class BackgroundLoop:
    def __init__(self, platform: Platform, tasks: Sequence[Task]) -> None:
        self._platform = platform
        self._tasks = list(tasks)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="centime-background", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def run_once(self) -> None:
        """Run every task now (tests, and the first turn)."""
        for task in self._tasks:
            self._run_task(task)

    def _run_task(self, task: Task) -> None:
        try:
            task.run(self._platform)
        except Exception:  # logged; the loop and the server go on
            log.exception("background task %r failed", task.name)

    def _run(self) -> None:
        due = {task.name: time.monotonic() for task in self._tasks}
        while not self._stop.is_set():
            now = time.monotonic()
            for task in self._tasks:
                if now >= due[task.name]:
                    self._run_task(task)
                    due[task.name] = time.monotonic() + task.interval_s
            wake = min(due.values(), default=now + 1.0)
            self._stop.wait(max(0.05, wake - time.monotonic()))
