"""The SQLite writer's safety checks on its hot path.

The writer keeps the accounts it wrote in a cache and does not read them back; its balance
UPDATE matches each account's id and creation timestamp and checks the row count, so an
account row that is not the one the writer holds (changed or deleted behind its back) fails
the group loudly instead of being overwritten silently.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.ledger.engine import Ledger
from centime.ledger.model import Account, CreateAccountStatus, CreateTransferStatus, Transfer
from centime.ledger.records import records_extension
from centime.store import open_store
from centime.store.sqlite import SqliteStore

START_NS = 1_700_000_000_000_000_000


def _ledger(path: Path) -> Ledger:
    return Ledger(open_store(f"sqlite:///{path}"), FakeClock(START_NS), expiry_interval_s=3600)


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE accounts SET timestamp = timestamp + 1 WHERE id = 2",
        "DELETE FROM accounts WHERE id = 2",
    ],
)
def test_an_account_row_changed_behind_the_writer_fails_the_group(
    tmp_path: Path, tamper: str
) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:
        accounts = [Account(1, "USD", code=1), Account(2, "USD", code=1)]
        assert ledger.create_accounts(accounts) == [CreateAccountStatus.CREATED] * 2
        first = Transfer(10, 1, 2, 5, "USD", 1)
        assert ledger.create_transfers([first]) == [CreateTransferStatus.CREATED]

        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute(tamper)
        finally:
            other.close()

        with pytest.raises(RuntimeError, match="updated 1 accounts of 2"):
            ledger.create_transfers([Transfer(11, 1, 2, 7, "USD", 1)])
        # Nothing of the failed group was written; the collector runs again.
        assert ledger.lookup_transfers([11]) == []
        (debit,) = ledger.lookup_accounts([1])
        assert (debit.debits_posted, debit.credits_posted) == (5, 0)
        assert gc.isenabled()


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ledger file at the newest schema (migrating takes about a second: the
    property below copies it for each example instead)."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    open_store(f"sqlite:///{path}").close()
    return path


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sets(st.integers(1, 12), max_size=6), min_size=1, max_size=6),
    st.sets(st.integers(1, 12)),
    st.sets(st.integers(1, 12)),
)
def test_the_id_lookups_answer_for_the_ids_asked_whatever_was_asked_before(
    migrated_file: Path,
    asks: list[set[int]],
    existing: set[int],
    failed: set[int],
) -> None:
    """The writer reuses the JSON list of the last ids it looked up: each lookup, in any
    order and with the caller's set changed in place between them, finds exactly the
    stored rows among the ids it names."""
    directory = Path(tempfile.mkdtemp(dir=migrated_file.parent))
    path = directory / "ledger.db"
    shutil.copyfile(migrated_file, path)
    store = SqliteStore(str(path))
    try:
        with store.write_transaction() as txn:
            for tid in existing:
                txn.execute(
                    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount,"
                    " asset, code, flags, pending_id, timeout_s, user_data, timestamp)"
                    " VALUES (?, 1, 2, 5, 'USD', 1, 0, 0, 0, 0, ?)",
                    (tid, START_NS + tid),
                )
            for tid in failed - existing:
                txn.execute(
                    "INSERT INTO failed_transfers (id, status, timestamp) VALUES (?, ?, ?)",
                    (tid, CreateTransferStatus.DEBIT_ACCOUNT_NOT_FOUND.value, START_NS),
                )
        with store.write_transaction() as txn:
            ids: set[int] = set()
            for index, ask in enumerate(asks):
                ids.clear()
                ids.update(ask)  # the same set object, changed in place
                both = index % 2 == 0
                if both or index % 3 == 1:
                    assert set(txn.transfers(ids)) == ids & existing
                if both or index % 3 != 1:
                    assert set(txn.failed(ids)) == ids & (failed - existing)
                fresh = set(ask)
                assert set(txn.failed(fresh)) == fresh & (failed - existing)
                assert set(txn.transfers(fresh)) == fresh & existing
    finally:
        store.close()
        shutil.rmtree(directory)


@pytest.mark.skipif(records_extension() is None, reason="centime.ledger._records is not built")
def test_the_sqlite_store_untracks_the_accounts_it_caches(tmp_path: Path) -> None:
    with Ledger(SqliteStore.open(tmp_path / "ledger.db")) as ledger:
        ledger.create_accounts([Account(1, "USD", 1), Account(2, "USD", 1)])
        ledger.create_transfers([Transfer(10, 1, 2, 5, "USD", 1)])
        store = ledger.store
        assert isinstance(store, SqliteStore)
        cached = list(store._account_cache.values())
        assert sorted(a.id for a in cached) == [1, 2]
        assert not any(gc.is_tracked(a) for a in cached)
        assert {a.id: (a.debits_posted, a.credits_posted) for a in cached} == {
            1: (5, 0),
            2: (0, 5),
        }
        assert ledger.lookup_accounts([1, 2]) == sorted(cached, key=lambda a: a.id)
