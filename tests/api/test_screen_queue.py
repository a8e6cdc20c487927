"""Single risk decisions of concurrent requests, made together (centime.api.screen_queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from centime.api.screen_queue import ScreenQueue
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.review.decisions import REASON_ENGINE_ERROR
from centime.risk.engine import RiskEngine, build_engine
from centime.risk.types import Action, Decision, RiskEvent, Screen

NOW_NS = 1_780_000_000 * 1_000_000_000


def _events(count: int) -> list[RiskEvent]:
    """Payments of a few payers to a few payees, so that velocity features move."""
    return [
        RiskEvent(
            NOW_NS - (count - i) * 1_000_000,
            "payment",
            1_000 * (1 + i % 7),
            "USD",
            f"cus_{i % 5}",
            f"mer_{i % 3}",
            device=f"dev_{i % 4}",
        )
        for i in range(count)
    ]


class _Counted:
    """The real engine, with its calls counted."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.groups: list[int] = []

    def decide(self, event: RiskEvent) -> Decision:
        self.groups.append(1)
        return self.engine.decide(event)

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        self.groups.append(len(events))
        return self.engine.decide_many(events)

    def observe(self, event: RiskEvent) -> None:
        self.engine.observe(event)


class _Broken:
    def decide(self, event: RiskEvent) -> Decision:
        raise RuntimeError("broken")

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        raise RuntimeError("broken")

    def observe(self, event: RiskEvent) -> None:
        raise RuntimeError("broken")


async def _decide_all(queue: ScreenQueue, events: list[RiskEvent]) -> list[Decision]:
    return list(await asyncio.gather(*(queue.decide(event) for event in events)))


def _queue(platform: Platform, screen: Screen, group_max: int = 256) -> ScreenQueue:
    platform.screen = screen
    return ScreenQueue(platform, group_max)


def test_concurrent_decisions_are_grouped_and_decided_as_one_at_a_time(
    platform: Platform,
) -> None:
    events = _events(60)
    alone = build_engine(clock=FakeClock(NOW_NS))
    expected = [alone.decide(event) for event in events]
    counted = _Counted(build_engine(clock=FakeClock(NOW_NS)))
    queue = _queue(platform, counted, group_max=25)
    decided = asyncio.run(_decide_all(queue, events))
    assert decided == expected
    # All sixty asked before the loop's next turn: groups of at most 25.
    assert counted.groups == [25, 25, 10]


def test_decisions_one_after_another_are_made_alone(platform: Platform) -> None:
    counted = _Counted(build_engine(clock=FakeClock(NOW_NS)))
    queue = _queue(platform, counted)

    async def one_by_one() -> None:
        for event in _events(3):
            await queue.decide(event)

    asyncio.run(one_by_one())
    assert counted.groups == [1, 1, 1]


def test_a_failing_screen_fails_the_group_closed(platform: Platform) -> None:
    decided = asyncio.run(_decide_all(_queue(platform, _Broken()), _events(5)))
    assert [d.action for d in decided] == [Action.BLOCK] * 5
    assert all(d.reasons == (REASON_ENGINE_ERROR,) for d in decided)


def test_a_waiter_that_went_away_does_not_stop_the_others(platform: Platform) -> None:
    counted = _Counted(build_engine(clock=FakeClock(NOW_NS)))
    queue = _queue(platform, counted)
    events = _events(4)

    async def run() -> list[Decision]:
        tasks = [asyncio.ensure_future(queue.decide(event)) for event in events]
        await asyncio.sleep(0)  # all four wait; the first is being decided
        tasks[2].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[2], asyncio.CancelledError)
        return [d for d in done if isinstance(d, Decision)]

    assert len(asyncio.run(run())) == 3
    assert sum(counted.groups) == 4  # the cancelled one was still decided (it counts)
