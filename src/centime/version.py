"""The package's version (its own module, so that the client reads it without importing
the package's ``__init__``, which names the client)."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"
