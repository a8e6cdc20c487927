"""The ledger's exceptions, in a module of their own: mypyc compiles ``core.py`` into native
code and cannot compile a class that inherits from a built-in exception other than
``Exception`` itself ("Inheriting from most builtin types is unimplemented"), which is one of
the two reasons the first attempt to compile the core failed (docs/ledger.md).

:class:`TransientStoreError` is part of the storage port (``centime.ledger.port``): the
adapters raise it and the engine handles it, so it lives with the ledger, not with them."""

from __future__ import annotations

__all__ = ["LedgerInvariantError", "OverlapLostError", "TransientStoreError"]


class LedgerInvariantError(RuntimeError):
    """The stored state contradicts itself (a bug or tampering): the batch must be aborted."""


class TransientStoreError(RuntimeError):
    """The transaction lost a race with another writer (a unique-key collision, a deadlock, a
    serialization failure) and was rolled back whole; running the group again is safe."""


class OverlapLostError(TransientStoreError):
    """A group that overlapped other writer processes' read something they changed in a way
    it cannot account for (an end check of a write unit, centime.ledger.units.Overlap): it
    was rolled back whole and runs again alone among the writers."""
