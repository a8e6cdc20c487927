"""The sandboxes' event queue: due events handed out oldest first, again until acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from centime.providers.event_queue import EventQueue


class Event(NamedTuple):
    event_id: str
    due_ns: int


def _maker(due_ns: int) -> Callable[[str], Event]:
    return lambda event_id: Event(event_id, due_ns)


@given(st.lists(st.integers(0, 100), max_size=40), st.integers(0, 100), st.integers(1, 50))
def test_due_events_come_oldest_first_until_acknowledged(
    dues: list[int], now_ns: int, limit: int
) -> None:
    queue: EventQueue[Event] = EventQueue("evt_t")
    for due_ns in dues:
        queue.push(due_ns, _maker(due_ns))
    assert len(queue) == len(dues)
    due = sorted((d, i) for i, d in enumerate(dues) if d <= now_ns)
    handed = queue.due(now_ns, limit)
    expected = [f"evt_t_{i + 1:012d}" for _, i in due][:limit]
    assert [e.event_id for e in handed] == expected
    assert queue.due(now_ns, limit) == handed  # not acknowledged: handed out again
    queue.acknowledge(e.event_id for e in handed)
    assert len(queue) == len(dues) - len(handed)
    assert not set(handed) & set(queue.due(now_ns, len(dues) + 1))
