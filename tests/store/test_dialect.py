"""Platform SQL in ``?`` style runs the same on both stores: placeholders bound, literals,
identifiers and ``%`` left as written (store/dialect.py translates once per statement)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.ledger.units import UnitContext
from centime.store import LedgerStore
from centime.store.dialect import pyformat

StoreFactory = Callable[[], LedgerStore]

# Text a literal may hold: the characters that matter to a translation, and some others.
_LITERAL_TEXT = st.text(alphabet="?%'\"-/*:$ ab1é", max_size=20)


@pytest.fixture
def store(store_factory: StoreFactory) -> LedgerStore:
    """One store for all the examples of a test (hypothesis runs them in one fixture)."""
    return store_factory()


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@given(st.lists(st.sampled_from(["SELECT", " x", " = ", "?", ",", " 7 % 4", " (", ")"])))
def test_outside_quotes_every_placeholder_and_percent_is_translated(words: list[str]) -> None:
    sql = "".join(words)
    assert pyformat(sql) == sql.replace("%", "%%").replace("?", "%s")


@given(_LITERAL_TEXT)
def test_a_literal_keeps_its_question_marks(text: str) -> None:
    translated = pyformat(f"SELECT {_quoted(text)} WHERE a = ?")
    assert translated == f"SELECT {_quoted(text).replace('%', '%%')} WHERE a = %s"


def test_comments_and_quoted_identifiers_keep_their_question_marks() -> None:
    sql = 'SELECT "a?" FROM t -- why?\nWHERE b = ? /* and? */'
    assert pyformat(sql) == 'SELECT "a?" FROM t -- why?\nWHERE b = %s /* and? */'


def test_a_statement_is_translated_once() -> None:
    sql = "SELECT ? + 1 -- test_a_statement_is_translated_once"
    assert pyformat(sql) is pyformat(sql)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_LITERAL_TEXT, number=st.integers(-(2**62), 2**62))
def test_readers_bind_parameters_and_keep_literals(
    store: LedgerStore, text: str, number: int
) -> None:
    with store.reader() as fetch:
        rows = fetch(f"SELECT {_quoted(text)}, ?, 7 % 4, ?", (number, text))
    assert [tuple(row) for row in rows] == [(text, number, 3, text)]


def test_write_units_bind_parameters_and_keep_literals(store_factory: StoreFactory) -> None:
    ledger = Ledger(store_factory(), FakeClock(1_000_000_000), expiry_interval_s=3600)
    try:

        def unit(ctx: UnitContext) -> list[tuple[object, ...]]:
            return ctx.fetch("SELECT '?%', ?, 'a%' LIKE 'a%'", ("x?",))

        rows = ledger.run(unit, 0)
    finally:
        ledger.close()
    assert [(row[0], row[1], bool(row[2])) for row in rows] == [("?%", "x?", True)]
