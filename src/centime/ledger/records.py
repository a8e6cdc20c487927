"""Long-lived ledger records kept out of the cyclic garbage collector's work.

The SQLite store caches every account it has seen (``store/sqlite.py``), and a group of 8189
transfers replaces about 8000 of them with new ``Account`` records. CPython stops tracking an
exact tuple of atomic items the first time a collection sees it, but not a NamedTuple, so
each new record was traversed by the next young collection, by the next middle one and by
every full one after: in ``centime bench ledger`` at batch 8189 the collector took about
23 ms of CPU a group, more than the accounts' ``UPDATE`` (docs/benchmarks.md).
:func:`untrack_records` untracks such records in C (``centime.ledger._records``, built by
``setup.py`` when a C compiler is there), under CPython's own condition for tuples: nothing
but atomic items, and no state besides them, so the record can never be part of a cycle.
Without the extension (or with ``CENTIME_LEDGER_RECORDS=tracked``) it does nothing: the
records are collected as before, only at a higher cost.

The one reference an untracked record hides from the collector is to its class. A class that
became garbage while one of its own class attributes held an untracked instance would leak
instead of being collected; the ledger's record classes live as long as their module, and
only their instances are passed here.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Final

__all__ = ["records_extension", "untrack_records"]

log = logging.getLogger("centime.ledger")

HERE: Final = Path(__file__).parent
SOURCE: Final = HERE / "_records.c"
BUILD_STAMP: Final = HERE / "_records.build-sha256"
ENV_RECORDS: Final = "CENTIME_LEDGER_RECORDS"  # "tracked": never untrack


def records_extension() -> ModuleType | None:
    """The compiled ``centime.ledger._records`` when it is built from the current
    ``_records.c`` and ``CENTIME_LEDGER_RECORDS`` does not say ``tracked``; else None."""
    if os.environ.get(ENV_RECORDS) == "tracked":
        return None
    try:
        module = importlib.import_module("centime.ledger._records")
    except ImportError:
        return None
    try:
        current = BUILD_STAMP.read_text().strip() == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    except OSError:
        current = False
    if not current:
        log.warning(
            "centime.ledger._records was built from another _records.c: records stay tracked"
            " (make install builds it again)"
        )
        return None
    return module


_EXTENSION: Final = records_extension()


def untrack_records(records: Iterable[object]) -> int:
    """Untrack each of ``records`` that is a tuple (or a NamedTuple) of atomic items only;
    how many were untracked (0 without the extension). Anything else is left tracked."""
    if _EXTENSION is None:
        return 0
    count: int = _EXTENSION.untrack(records)
    return count
