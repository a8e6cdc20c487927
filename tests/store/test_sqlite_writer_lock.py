"""SQLite has one writer: a second store writing the same file is refused, not trusted."""

from pathlib import Path

import pytest

from centime.ledger import Account, CreateAccountStatus, Ledger, Transfer
from centime.store.sqlite import SqliteStore, SqliteWriterBusyError


def test_a_second_writer_is_refused_and_a_reader_is_not(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(SqliteStore.open(path)) as first:
        assert first.create_accounts([Account(1, "USD", 1), Account(2, "USD", 1)]) == [
            CreateAccountStatus.CREATED,
            CreateAccountStatus.CREATED,
        ]
        second = SqliteStore.open(path)
        try:
            # Reading beside the writer is fine (ledger check, audit verify, queries).
            assert [a.id for a in second.lookup_accounts([1, 2])] == [1, 2]
            assert list(second.check()) == []
            with pytest.raises(SqliteWriterBusyError), second.write_transaction():
                pass
        finally:
            second.close()
    # Once the first store is closed, a new one may write, starting from what is on disk.
    with Ledger(SqliteStore.open(path)) as again:
        assert again.create_transfers([Transfer(10, 1, 2, 5, "USD", 1)])[0].value == "created"
        assert again.lookup_accounts([2])[0].credits_posted == 5
