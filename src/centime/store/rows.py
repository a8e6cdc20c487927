"""Rows <-> model values, shared by both stores. Column orders match store/schema.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from centime.ledger.core import Changes
from centime.ledger.model import (
    Account,
    AccountBalance,
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
)

ACCOUNT_COLUMNS: Final = (
    "id, asset, code, flags, user_data, debits_pending, debits_posted, credits_pending,"
    " credits_posted, timestamp"
)
TRANSFER_COLUMNS: Final = (
    "id, debit_account_id, credit_account_id, amount, asset, code, flags, pending_id,"
    " timeout_s, user_data, timestamp"
)
PENDING_COLUMNS: Final = "transfer_id, status, expires_at, timestamp"
BALANCE_COLUMNS: Final = (
    "account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted"
)

AUDIT_BATCH_COLUMNS: Final = (
    "seq, tree_size, leaf_count, timestamp_first, timestamp_last, root_hash, prev_hash,"
    " state_hash, state, peaks, batch_hash"
)
AUDIT_TIP_COLUMNS: Final = "seq, tree_size, timestamp_last, batch_hash, peaks"
AUDIT_HEAD_COLUMNS: Final = (
    "timestamp, tree_size, root_hash, batch_seq, batch_hash, key_id, signature"
)
AUDIT_KEY_COLUMNS: Final = "key_id, public_key, created_ns, endorsement"

_PENDING_STATUS: Final = {status.value: status for status in PendingStatus}
_TRANSFER_STATUS: Final = {status.value: status for status in CreateTransferStatus}


def account(row: Any) -> Account:
    return Account(*row)


def transfer(row: Any) -> Transfer:
    return Transfer(*row)


def pending(row: Any) -> PendingState:
    return PendingState(row[0], _PENDING_STATUS[row[1]], row[2], row[3])


def balance(row: Any) -> AccountBalance:
    return AccountBalance(*row)


def transfer_status(text: str) -> CreateTransferStatus:
    return _TRANSFER_STATUS[text]


# Accounts, transfers and balance rows need no conversion: they are NamedTuples whose field
# order is their column order, bound to INSERT statements as they are (SQLite's hot path
# copies them to exact tuples first, which sqlite3 binds faster: see store/sqlite.py).


def account_balance_rows(accounts: Iterable[Account]) -> list[tuple[int, ...]]:
    """(balances..., flags, id): the parameters of the balance UPDATE statement."""
    return [
        (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags, a.id)
        for a in accounts
    ]


def pending_rows(states: Iterable[PendingState]) -> list[tuple[Any, ...]]:
    return [(s.transfer_id, s.status.value, s.expires_at, s.timestamp) for s in states]


def failed_rows(changes: Changes) -> list[tuple[Any, ...]]:
    return [(tid, status.value, ts) for tid, (status, ts) in changes.failed.items()]
