"""The kernel's row helpers: a value read from and written as its table's row, the columns
checked against the value's fields; a reader's optional owners as filters."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform
from centime.platform.pages import Page, given
from centime.platform.parties import Customer, Status, get_customer
from centime.platform.parties.service import load_customer
from centime.platform.rows import (
    Table,
    frozen_maker,
    row_by_id,
    row_reader,
    row_update,
    row_values,
)

from .world import customer


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Thing:
    id: int
    colour: Colour
    shiny: bool
    note: str | None


COLUMNS = "id, colour, shiny, note"


def test_a_row_reads_as_its_value_and_back() -> None:
    read, write = row_reader(Thing, COLUMNS), row_values(Thing, COLUMNS)
    thing = read((7, "blue", 1, None))
    assert thing == Thing(7, Colour.BLUE, True, None)
    assert type(thing.shiny) is bool  # SQLite's 0/1
    assert write(thing) == (7, "blue", True, None)
    assert read(write(thing)) == thing


@pytest.mark.parametrize(
    "columns",
    ["id, shiny, colour, note", "id, colour, shiny", "id, colour, shiny, note, extra"],
)
def test_columns_that_are_not_the_fields_in_order_are_refused(columns: str) -> None:
    with pytest.raises(TypeError, match="Thing"):
        row_reader(Thing, columns)
    with pytest.raises(TypeError, match="Thing"):
        row_values(Thing, columns)


def test_given_keeps_the_named_filters_in_order() -> None:
    assert given(merchant_id=3, customer_id=None, payment_id=5) == [
        ("merchant_id", 3),
        ("payment_id", 5),
    ]
    assert given(merchant_id=None) == []


def test_row_by_id_reads_one_row_or_none(platform: Platform) -> None:
    made = customer(platform)
    columns = "id, name, email, status, kyc_tier, created_ns"
    read = row_reader(Customer, columns)
    with platform.read() as fetch:
        assert row_by_id(fetch, "customers", columns, made.id, read) == made
        assert row_by_id(fetch, "customers", columns, made.id + 1, read) is None


def test_row_update_writes_the_named_columns_and_stamps_the_time(
    platform: Platform, clock: FakeClock
) -> None:
    made = customer(platform)
    # created_ns stands for an ``updated_ns`` here: the customers table has none.
    save = row_update(Customer, "customers", "status, kyc_tier, created_ns", stamp_ns="created_ns")
    clock.advance(ns=5_000)
    changed = dataclasses.replace(made, name="Not written", status=Status.FROZEN, kyc_tier=2)

    def unit(ctx: UnitContext) -> tuple[Customer, Customer | None]:
        return save(ctx, changed), load_customer(ctx, made.id)

    saved, loaded = platform.execute(Operation(unit, 0))
    assert saved.created_ns > made.created_ns
    assert saved == dataclasses.replace(changed, created_ns=saved.created_ns)
    assert loaded == dataclasses.replace(saved, name=made.name)  # an unnamed column stays
    assert get_customer(platform, made.id) == loaded


@pytest.mark.parametrize(
    ("columns", "stamp_ns"),
    [("status, colour", None), ("kyc_tier", "created_ns"), ("kyc_tier", "colour")],
)
def test_row_update_refuses_columns_that_are_not_fields(columns: str, stamp_ns: str | None) -> None:
    """A column that is no field, or a stamp that is not one of the columns written."""
    with pytest.raises(TypeError, match="Customer"):
        row_update(Customer, "customers", columns, stamp_ns=stamp_ns)


def test_a_table_writes_and_reads_its_rows(platform: Platform, clock: FakeClock) -> None:
    """The customers table as a Table: the columns are the fields; a row inserted is read
    back by id (in a unit and out of one), by id under owner filters, and by page."""
    customers = Table(Customer, "customers")
    assert customers.columns == "id, name, email, status, kyc_tier, created_ns"
    made = Customer(12345, "Bo", "bo@example.com", Status.FROZEN, 2, clock.now_ns())

    def unit(ctx: UnitContext) -> Customer | None:
        customers.insert(ctx, made)
        return customers.load(ctx.fetch, made.id)

    assert platform.execute(Operation(unit, 0)) == made
    assert customers.by_id(platform, made.id) == made
    assert customers.by_id(platform, made.id, [("email", "bo@example.com")]) == made
    assert customers.by_id(platform, made.id, [("email", "other@example.com")]) is None
    assert get_customer(platform, made.id) == made  # the service reads what was written
    first = customers.page(platform, [("status", "frozen")], None, 10)
    assert first == Page([made], None)


@for_all(
    st.integers(),
    st.sampled_from(list(Colour)),
    st.booleans(),
    st.none() | st.text(max_size=5),
)
def test_frozen_maker_makes_what_the_constructor_makes(
    row_id: int, colour: Colour, shiny: bool, note: str | None
) -> None:
    made = frozen_maker(Thing)(row_id, colour, shiny, note)
    expected = Thing(row_id, colour, shiny, note)
    assert type(made) is Thing
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.note = "changed"  # type: ignore[misc]
    assert dataclasses.replace(made, note="x") == dataclasses.replace(expected, note="x")


def test_frozen_maker_takes_only_frozen_slotted_dataclasses() -> None:
    @dataclass(slots=True)
    class Loose:
        id: int

    @dataclass(frozen=True)
    class NoSlots:
        id: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        id: int

        def __post_init__(self) -> None:
            pass

    for cls in (Loose, NoSlots, Checked, int):
        with pytest.raises(TypeError):
            frozen_maker(cls)
