"""The generated wire conversions (centime.api.routes.render): each rule, and the mistakes
refused when a converter is made instead of reaching the wire."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from centime import wire
from centime.api.routes.render import converter
from centime.platform.ids import format_id

NS: int = 1_800_000_000_000_000_000
RENAMED = {"restricted": "restricted_amount"}


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Thing:
    id: int
    customer_id: int
    mandate_id: int | None
    asset: str
    amount: int
    restricted_amount: int
    colour: Colour
    note: str | None
    created_ns: int
    expires_at_ns: int
    resolved_ns: int | None

    @property
    def twice(self) -> int:
        return 2 * self.amount


class WireThing(wire.Output):
    id: str
    customer_id: str
    mandate_id: str | None
    amount: wire.Money
    restricted: wire.Money
    twice: wire.Money
    colour: str
    note: str | None
    created_at: str
    expires_at: str
    resolved_at: str | None
    label: str


def _thing(mandate_id: int | None, resolved_ns: int | None) -> Thing:
    return Thing(1, 2, mandate_id, "USD", 125, 25, Colour.RED, None, NS, NS + 1, resolved_ns)


def test_each_field_is_converted_by_its_rule() -> None:
    to_wire = converter(
        Thing,
        WireThing,
        "pay",
        renamed=RENAMED,
        computed={"label": lambda t: f"thing {t.id}"},
    )
    assert to_wire(_thing(3, NS + 2)) == WireThing(
        id=format_id("pay", 1),
        customer_id=format_id("cus", 2),
        mandate_id=format_id("man", 3),
        amount=wire.money(125, "USD"),
        restricted=wire.money(25, "USD"),
        twice=wire.money(250, "USD"),
        colour="red",
        note=None,
        created_at=wire.rfc3339(NS),
        expires_at=wire.rfc3339(NS + 1),
        resolved_at=wire.rfc3339(NS + 2),
        label="thing 1",
    )


def test_what_the_value_leaves_none_stays_none() -> None:
    to_wire = converter(Thing, WireThing, "pay", renamed=RENAMED, computed={"label": str})
    made = to_wire(_thing(None, None))
    assert made.mandate_id is None and made.resolved_at is None


def test_a_wire_field_the_value_does_not_have_is_refused() -> None:
    with pytest.raises(TypeError, match="no restricted"):
        converter(Thing, WireThing, "pay", computed={"label": str})


@dataclass(frozen=True)
class Unknown:
    id: int
    widget_id: int


class WireUnknown(wire.Output):
    id: str
    widget_id: str


def test_an_internal_id_of_no_known_prefix_is_refused() -> None:
    with pytest.raises(TypeError, match="widget_id"):
        converter(Unknown, WireUnknown, "pay")
