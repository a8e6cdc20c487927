"""Events a sandbox rail plans for later, handed out until acknowledged (at least once).

Both sandboxes (funding and payouts) answer asynchronously: a charge or a payout schedules
its events for a time on the clock; once due, an event is handed out on every call until
the platform acknowledges it, as a real provider's webhook retries would. Not thread-safe
by itself: the sandbox calls it under its own lock, with the rest of its state.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

__all__ = ["EventQueue"]


class _Event(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=_Event)


class EventQueue(Generic[E]):
    def __init__(self, id_prefix: str) -> None:
        self._prefix = id_prefix
        self._queue: list[tuple[int, int, E]] = []  # (due_ns, seq, event): a heap
        self._outstanding: dict[str, E] = {}  # handed out, not acknowledged
        self._seq = 0

    def __len__(self) -> int:
        """Events queued or handed out and not acknowledged."""
        return len(self._queue) + len(self._outstanding)

    def push(self, due_ns: int, make: Callable[[str], E]) -> None:
        """Plan the event ``make(event_id)`` for ``due_ns``; ids are ``<prefix>_<seq>``."""
        self._seq += 1
        heapq.heappush(self._queue, (due_ns, self._seq, make(f"{self._prefix}_{self._seq:012d}")))

    def push_event(self, due_ns: int, event: E) -> None:
        """Plan an event that carries its own id (restored from a journal, or named by its
        sandbox)."""
        self._seq += 1
        heapq.heappush(self._queue, (due_ns, self._seq, event))

    def due(self, now_ns: int, limit: int) -> list[E]:
        """Up to ``limit`` due, unacknowledged events, oldest first (again on every call
        until acknowledged)."""
        queue = self._queue
        while queue and queue[0][0] <= now_ns:
            _, _, event = heapq.heappop(queue)
            self._outstanding[event.event_id] = event
        events: list[E] = []
        for event in self._outstanding.values():
            if len(events) == limit:
                break
            events.append(event)
        return events

    def acknowledge(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._outstanding.pop(event_id, None)
