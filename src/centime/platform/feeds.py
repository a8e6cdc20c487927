"""Draining a provider's event feed (a funding provider's, a payout rail's): the same loop
for every feed, so that a failing event is handled the same way everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

__all__ = ["drain"]


class _Event(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=_Event)
R = TypeVar("R")


def drain(
    due: Sequence[E],
    handle: Callable[[E], R],
    acknowledge: Callable[[Iterable[str]], None],
    kind: Callable[[E], str],
    log: logging.Logger,
) -> list[R]:
    """Handle each of the ``due`` events (each in its own unit: ``handle``'s), then
    acknowledge it. An event whose handling raised is left unacknowledged: it comes again,
    and the others are handled meanwhile."""
    results = []
    for event in due:
        try:
            result = handle(event)
        except Exception:  # a bug or a store failure: keep the event, handle the others
            log.exception("%s event %r failed", kind(event), event.event_id)
            continue
        acknowledge([event.event_id])
        results.append(result)
    return results
