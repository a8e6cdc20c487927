"""The simulator: deterministic, every typology present and labelled; the CSV format."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk.simulate import (
    TYPOLOGIES,
    CsvError,
    LabelledEvent,
    SimConfig,
    format_timestamp,
    parse_timestamp,
    read_csv,
    simulate,
    write_csv,
)
from centime.risk.types import EVENT_TYPES, RiskEvent

SMALL = SimConfig(
    customers=150,
    merchants=10,
    days=3,
    seed=5,
    fraud_per_day_per_k={name: 8.0 for name in TYPOLOGIES},
)


def test_the_same_seed_gives_the_same_events_in_time_order() -> None:
    first, second = simulate(SMALL), simulate(SMALL)
    assert first == second
    times = [e.event.timestamp_ns for e in first]
    assert times == sorted(times)
    assert simulate(SimConfig(customers=150, merchants=10, days=3, seed=6)) != first


def test_every_typology_is_there_labelled_and_amounts_are_integers() -> None:
    events = simulate(SMALL)
    assert {e.typology for e in events if e.label} == set(TYPOLOGIES)
    assert all(e.label == (1 if e.typology else 0) for e in events)
    assert all(type(e.event.amount) is int and e.event.amount >= 0 for e in events)
    assert all(e.event.type in EVENT_TYPES for e in events)


def test_csv_round_trip(tmp_path: Path) -> None:
    events = simulate(SMALL)
    path = tmp_path / "events.csv"
    assert write_csv(events, path) == len(events)
    assert list(read_csv(path)) == events


@settings(max_examples=50)
@given(st.integers(0, 4_102_444_800 * 10**9))
def test_timestamps_round_trip_to_the_nanosecond(ns: int) -> None:
    assert parse_timestamp(format_timestamp(ns)) == ns
    assert parse_timestamp(str(ns)) == ns


def test_a_file_from_elsewhere_with_optional_columns_missing() -> None:
    text = (
        "timestamp,type,amount,asset,payer,payee\n"
        "2025-03-01T10:00:00Z,topup,5000,EUR,alice,alice\n"
        "2025-03-01 10:00:01.5,payment,125,XYZ,alice,shop-9\n"
        "1740823202000000000,transfer,7,EUR,alice,bob\n"
    )
    rows = list(read_csv(io.StringIO(text)))
    assert rows[0] == LabelledEvent(
        RiskEvent(1_740_823_200 * 10**9, "topup", 5000, "EUR", "alice", "alice"), 0, ""
    )
    assert rows[1].event.timestamp_ns == 1_740_823_201_500_000_000
    assert rows[1].event.asset == "XYZ" and rows[1].event.device is None
    assert rows[2].event.timestamp_ns == 1_740_823_202 * 10**9


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2025-03-01T10:00:00Z,refund,5,EUR,a,b,1", "line 2: unknown type"),
        ("2025-03-01T10:00:00Z,payment,-5,EUR,a,b,1", "line 2: amount"),
        ("2025-03-01T10:00:00Z,payment,1.5,EUR,a,b,1", "line 2: amount"),
        ("2025-03-01T10:00:00Z,payment,5,EUR,a,b,yes", "line 2: label"),
        ("yesterday,payment,5,EUR,a,b,0", "line 2"),
        ("2025-03-01T10:00:00Z,payment,5,EUR,,b,0", "line 2: payer is missing"),
    ],
)
def test_bad_rows_are_refused_naming_the_line(row: str, message: str) -> None:
    text = "timestamp,type,amount,asset,payer,payee,label\n" + row + "\n"
    with pytest.raises(CsvError, match=message):
        list(read_csv(io.StringIO(text)))


def test_a_header_without_required_columns_is_refused() -> None:
    with pytest.raises(CsvError, match="lacks amount"):
        list(read_csv(io.StringIO("timestamp,type,asset,payer,payee\n")))
    with pytest.raises(CsvError, match="more than 1 rows"):
        list(
            read_csv(
                io.StringIO(
                    "timestamp,type,amount,asset,payer,payee\n"
                    "1,signup,0,USD,a,\n2,signup,0,USD,b,\n"
                ),
                max_rows=1,
            )
        )
