"""The kernel's row helpers: a value read from and written as its table's row, the columns
checked against the value's fields; a reader's optional owners as filters."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from centime.platform.pages import given
from centime.platform.rows import row_reader, row_values


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
