"""SQLite keeps each transfer's per-account entries in two tables the writer fills once per
group (migration 0019, ``transfer_debits`` and ``transfer_credits``) instead of two indexes.

The account queries read them; ``ledger check`` verifies them against the transfers; the
migration fills them from the transfers already stored.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.ledger.engine import Ledger
from centime.ledger.model import (
    Account,
    AccountFilter,
    CreateAccountStatus,
    CreateTransferStatus,
    Transfer,
)
from centime.store import open_store
from centime.store.migrate import alembic_config

START_NS = 1_700_000_000_000_000_000
ACCOUNTS = 4


def _ledger(path: Path) -> Ledger:
    return Ledger(open_store(f"sqlite:///{path}"), FakeClock(START_NS), expiry_interval_s=3600)


def _fill(ledger: Ledger, batches: list[list[tuple[int, int]]]) -> list[Transfer]:
    accounts = [Account(i, "USD", code=1) for i in range(1, ACCOUNTS + 1)]
    assert ledger.create_accounts(accounts) == [CreateAccountStatus.CREATED] * ACCOUNTS
    next_id = 100
    for batch in batches:
        transfers = []
        for debit, credit in batch:
            transfers.append(Transfer(next_id, debit, credit, 1, "USD", 1))
            next_id += 1
        assert ledger.create_transfers(transfers) == [CreateTransferStatus.CREATED] * len(batch)
    return ledger.lookup_transfers(list(range(100, next_id)))


def _expected(stored: list[Transfer], query: AccountFilter) -> list[int]:
    """The ids a history query must answer, from every stored transfer."""
    high = query.timestamp_max or 2**63 - 1
    found = sorted(
        (t for t in stored if query.timestamp_min <= t.timestamp <= high),
        key=lambda t: t.timestamp,
        reverse=query.reversed,
    )
    mine = [
        t.id
        for t in found
        if (query.debits and t.debit_account_id == query.account_id)
        or (query.credits and t.credit_account_id == query.account_id)
    ]
    return mine[: query.limit]


_PAIRS = st.tuples(st.integers(1, ACCOUNTS), st.integers(1, ACCOUNTS - 1)).map(
    lambda pair: (pair[0], (pair[0] + pair[1] - 1) % ACCOUNTS + 1)
)


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(_PAIRS, min_size=1, max_size=12), min_size=1, max_size=4),
    queries=st.lists(
        st.tuples(
            st.integers(1, ACCOUNTS),
            st.integers(1, 4),  # below most accounts' counts: the cut must keep the right end
            st.integers(0, 40),
            st.integers(0, 40),
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_account_queries_answer_what_the_transfers_say(
    batches: list[list[tuple[int, int]]],
    queries: list[tuple[int, int, int, int, bool, bool, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as directory, _ledger(Path(directory) / "l.db") as ledger:
        stored = _fill(ledger, batches)
        first = min(t.timestamp for t in stored)
        for account, limit, low, high, debits, credits, newest_first in queries:
            query = AccountFilter(
                account,
                limit=limit,
                timestamp_min=first + low if low else 0,
                timestamp_max=first + high if high else 0,
                debits=debits,
                credits=credits,
                reversed=newest_first,
            )
            found = [t.id for t in ledger.get_account_transfers(query)]
            assert found == _expected(stored, query)
        assert list(ledger.store.check()) == []


def _tamper(path: Path, sql: str) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute(sql)
    finally:
        other.close()


def test_ledger_check_finds_an_entry_missing_or_extra(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with _ledger(path) as ledger:
        _fill(ledger, [[(1, 2), (2, 3)], [(3, 1)]])
        assert list(ledger.store.check()) == []
        _tamper(path, "DELETE FROM transfer_debits WHERE account_id = 2")
        found = [str(v) for v in ledger.store.check()]
        assert len(found) == 1
        assert found[0].startswith("account_index_complete: account 2: timestamp ")
        assert found[0].endswith("is missing from transfer_debits")
        _tamper(path, "INSERT INTO transfer_credits VALUES (4, 1)")
        found = [str(v) for v in ledger.store.check()]
        assert found[1] == (
            "account_index_complete: account 4: timestamp 1 is missing from transfers"
        )


def test_the_migration_fills_the_tables_from_the_stored_transfers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    config = alembic_config(f"sqlite:///{path}")
    with _ledger(path) as ledger:
        stored = _fill(ledger, [[(1, 2), (2, 3), (4, 1)], [(3, 1), (1, 4)]])
    command.downgrade(config, "0018_party_language")
    indexes = sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transfers'"
    )
    assert {"transfers_by_debit_account", "transfers_by_credit_account"} <= {
        name for (name,) in indexes
    }
    with _ledger(path) as ledger:  # open_store migrates to the newest schema again
        assert list(ledger.store.check()) == []
        for account in range(1, ACCOUNTS + 1):
            query = AccountFilter(account, limit=10)
            found = [t.id for t in ledger.get_account_transfers(query)]
            assert found == _expected(stored, query)
