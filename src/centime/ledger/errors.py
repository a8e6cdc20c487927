"""The ledger core's exception, in a module of its own: mypyc compiles ``core.py`` into native
code and cannot compile a class that inherits from a built-in exception other than
``Exception`` itself ("Inheriting from most builtin types is unimplemented"), which is one of
the two reasons the first attempt to compile the core failed (docs/ledger.md)."""

from __future__ import annotations

__all__ = ["LedgerInvariantError"]


class LedgerInvariantError(RuntimeError):
    """The stored state contradicts itself (a bug or tampering): the batch must be aborted."""
