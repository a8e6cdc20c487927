"""centime: micropayments on an exact, fast double-entry ledger."""

__version__ = "0.1.0"
