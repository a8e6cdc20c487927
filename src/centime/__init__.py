"""centime: micropayments on an exact, fast double-entry ledger.

``centime.Client`` is the typed client of the HTTP API (loaded on first use, so that
importing the ledger does not load httpx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .client import Client, ProblemError

__all__ = ["Client", "ProblemError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "ProblemError"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
