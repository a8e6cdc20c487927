"""centime.ledger.records: atomic records untracked for the garbage collector, nothing else."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.ledger import records
from centime.ledger.model import Account, AccountFlags, Transfer
from centime.ledger.records import records_extension, untrack_records

needs_extension = pytest.mark.skipif(
    records_extension() is None, reason="centime.ledger._records is not built (make install)"
)

# Fields at the extremes the store holds and beyond (an int is atomic whatever its size).
ints = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.sampled_from([0, 1, 2**63 - 1, 2**64 - 1, 2**128 - 1, -(2**63)]),
)


class _WithDict(tuple[Any, ...]):
    """A tuple subclass without __slots__: its instances have a __dict__ (Python refuses
    other slots on a tuple subclass)."""


class _Pair(NamedTuple):
    left: Any
    right: Any


def _account(values: list[int]) -> Account:
    dp, dpo, cp, cpo, timestamp, user_data = values
    return Account(7, "USD", 1, 0, user_data, dp, dpo, cp, cpo, timestamp)


@needs_extension
@given(st.lists(ints, min_size=6, max_size=6), st.lists(ints, min_size=8, max_size=8))
def test_records_of_atomic_fields_are_untracked_and_unchanged(
    account_values: list[int], transfer_values: list[int]
) -> None:
    account = _account(account_values)
    transfer = Transfer(*transfer_values[:3], "EUR", 1, 0, *transfer_values[3:])
    copies = (tuple(account), tuple(transfer))
    assert gc.is_tracked(account) and gc.is_tracked(transfer)
    assert untrack_records([account, transfer]) == 2
    assert not gc.is_tracked(account) and not gc.is_tracked(transfer)
    assert (tuple(account), tuple(transfer)) == copies
    assert type(account) is Account and type(transfer) is Transfer
    assert untrack_records([account]) == 0  # already untracked: nothing to do


@needs_extension
@pytest.mark.parametrize(
    "record",
    [
        _Pair(1, [2]),  # an item the collector tracks
        _Pair(1, {}),
        _Pair(1, AccountFlags.HISTORY),  # an enum member has a __dict__: a GC type
        (1, (2, [3])),  # an exact tuple holding a tuple that holds a list
        _WithDict((1, 2)),  # state besides the items
    ],
    ids=["list", "dict", "enum", "nested", "dict-subclass"],
)
def test_records_that_could_be_in_a_cycle_stay_tracked(record: Any) -> None:
    assert gc.is_tracked(record)
    assert untrack_records([record]) == 0
    assert gc.is_tracked(record)


@needs_extension
def test_a_cycle_through_a_record_is_still_collected() -> None:
    items: list[Any] = []
    record = _Pair(1, items)
    items.append(record)  # record -> items -> record
    assert untrack_records([record]) == 0
    collected: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["collected"])

    del record, items
    gc.callbacks.append(seen)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(seen)
    assert sum(collected) >= 2


@needs_extension
def test_anything_else_is_left_alone() -> None:
    things: list[Any] = [[1], {"a": []}, 3, "text", None, {1, 2}]
    assert untrack_records(things) == 0
    assert all(gc.is_tracked(t) for t in things if isinstance(t, list | dict | set))
    with pytest.raises(TypeError):
        untrack_records(5)  # type: ignore[arg-type]


def test_turned_off_or_stale_the_extension_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(records.ENV_RECORDS, "tracked")
    assert records_extension() is None
    monkeypatch.delenv(records.ENV_RECORDS)
    stamp = tmp_path / "_records.build-sha256"
    stamp.write_text("0" * 64 + "\n")  # built from another _records.c
    monkeypatch.setattr(records, "BUILD_STAMP", stamp)
    with caplog.at_level(logging.WARNING, logger="centime.ledger"):
        assert records_extension() is None
    assert "another _records.c" in caplog.text
    stamp.unlink()
    assert records_extension() is None  # no stamp: never trusted


def test_without_the_extension_nothing_is_untracked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_EXTENSION", None)
    account = _account([0, 1, 2, 3, 4, 5])
    assert untrack_records([account]) == 0
    assert gc.is_tracked(account)
