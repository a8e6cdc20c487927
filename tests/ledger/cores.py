"""Both routes of the ledger core for the core's own suites: the module Python imports as
``centime.ledger.core`` (mypyc-compiled after ``make install``, see ``setup.py`` and
``centime.ledger.native``) and the same source run as Python. The compiled route is skipped,
with its reason shown, when the compiled module is not built."""

from __future__ import annotations

from types import ModuleType

import pytest

import centime.ledger.core as installed_core
from centime.ledger.native import core_is_compiled, load_pure_core

__all__ = ["CORE_PARAMS", "pure_core"]

PURE_MODULE = "centime.ledger.pure_core_for_tests"


def pure_core() -> ModuleType:
    """core.py executed as Python (loaded once)."""
    import sys

    return sys.modules.get(PURE_MODULE) or load_pure_core(PURE_MODULE)


CORE_PARAMS = [
    pytest.param(
        installed_core,
        id="compiled",
        marks=pytest.mark.skipif(
            not core_is_compiled(installed_core),
            reason="the compiled ledger core is not built (pure Python install or stale build:"
            " make install builds it)",
        ),
    ),
    pytest.param(pure_core(), id="pure"),
]
