"""The ledger: double-entry accounts and transfers with TigerBeetle's semantics.

The public API is re-exported here; ``tests/ledger/test_public_api.py`` pins ``__all__``.
"""

from .native import select_core

select_core()  # before anything imports the core: compiled only if built from this source

from .core import BatchApplier, Changes, LedgerInvariantError, LedgerView  # noqa: E402
from .engine import BatchTooLargeError, Ledger, LedgerBusyError, LedgerClosedError  # noqa: E402
from .model import (  # noqa: E402
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
