"""The ledger: double-entry accounts and transfers with TigerBeetle's semantics.

The public API is re-exported here; ``tests/ledger/test_public_api.py`` pins ``__all__``.
"""

from .core import BatchApplier, Changes, LedgerInvariantError, LedgerView
from .engine import BatchTooLargeError, Ledger, LedgerBusyError, LedgerClosedError
from .model import (
    AMOUNT_POST_FULL,
    Account,
    AccountBalance,
    AccountFilter,
    AccountFlags,
    CreateAccountStatus,
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)

__all__ = [
    "AMOUNT_POST_FULL",
    "Account",
    "AccountBalance",
    "AccountFilter",
    "AccountFlags",
    "BatchApplier",
    "BatchTooLargeError",
    "Changes",
    "CreateAccountStatus",
    "CreateTransferStatus",
    "Ledger",
    "LedgerBusyError",
    "LedgerClosedError",
    "LedgerInvariantError",
    "LedgerView",
    "PendingState",
    "PendingStatus",
    "Transfer",
    "TransferFlags",
]
