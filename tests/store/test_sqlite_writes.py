"""The SQLite writer's safety checks on its hot path.

The writer keeps the accounts it wrote in a cache and does not read them back; its balance
UPDATE matches each account's id and creation timestamp and checks the row count, so an
account row that is not the one the writer holds (changed or deleted behind its back) fails
the group loudly instead of being overwritten silently.
"""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

from centime.clock import FakeClock
from centime.ledger.engine import Ledger
from centime.ledger.model import Account, CreateAccountStatus, CreateTransferStatus, Transfer
from centime.store import open_store

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
