"""The outbox: an event exists if and only if the unit that emitted it committed."""

from __future__ import annotations

import json

import pytest

from centime.ledger.units import UnitContext
from centime.money import asset_by_code
from centime.platform.context import Operation, Platform
from centime.platform.events.outbox import emit, money
from tests.conftest import PLATFORM_START_NS


def _events(platform: Platform) -> list[tuple[object, ...]]:
    with platform.read() as fetch:
        return list(fetch("SELECT type, owner_id, created_ns, data FROM outbox_events", ()))


def test_an_event_commits_with_its_unit(platform: Platform) -> None:
    usd = asset_by_code("USD")

    def unit(ctx: UnitContext) -> int:
        return emit(ctx, "payment.created", 42, {"amount": money(125, usd), "id": "pay_x"})

    platform.execute(Operation(unit, 0))
    [(kind, owner, created_ns, data)] = _events(platform)
    assert (kind, owner) == ("payment.created", 42)
    assert isinstance(created_ns, int) and created_ns >= PLATFORM_START_NS
    assert json.loads(str(data)) == {
        "amount": {"asset": "USD", "scale": 6, "value": "125"},
        "id": "pay_x",
    }


def test_a_unit_that_raises_leaves_no_event(platform: Platform) -> None:
    def unit(ctx: UnitContext) -> None:
        emit(ctx, "payment.created", 42, {"id": "pay_x"})
        raise RuntimeError("the change failed after its event was written")

    with pytest.raises(RuntimeError):
        platform.execute(Operation(unit, 0))
    assert _events(platform) == []


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("payment.unknown", {}),  # not a type the platform emits
        ("payment.created", {"amount": 1.5}),  # a float never enters an event
        ("payment.created", {"nested": [{"fee": 0.1}]}),
        ("payment.created", {"blob": "x" * 20_000}),  # an event is a summary
        ("payment.created", {"when": object()}),  # only JSON's str and int
    ],
)
def test_bad_events_are_bugs_and_roll_the_unit_back(
    platform: Platform, kind: str, data: dict[str, object]
) -> None:
    def unit(ctx: UnitContext) -> None:
        emit(ctx, kind, 42, data)

    with pytest.raises((ValueError, TypeError)):
        platform.execute(Operation(unit, 0))
    assert _events(platform) == []
