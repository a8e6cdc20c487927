"""The ledger: double-entry accounts and transfers with TigerBeetle's semantics.

The public API is re-exported here; ``tests/ledger/test_public_api.py`` pins ``__all__``.
"""

from .native import select_core

select_core()  # before anything imports the core: compiled only if built from this source

from . import model  # noqa: E402
from .core import BatchApplier, Changes, LedgerInvariantError, LedgerView  # noqa: E402
from .engine import BatchTooLargeError, Ledger, LedgerBusyError, LedgerClosedError  # noqa: E402
from .model import *  # noqa: E402, F403

__all__ = [
    "BatchApplier",
    "BatchTooLargeError",
    "Changes",
    "Ledger",
    "LedgerBusyError",
    "LedgerClosedError",
    "LedgerInvariantError",
    "LedgerView",
]
# The data model is public as a whole: model.__all__ names it, once.
__all__ += model.__all__
