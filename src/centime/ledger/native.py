"""Which ledger core runs: the mypyc-compiled ``core`` when it was built from the source on
disk, else the same source as Python.

``setup.py`` compiles ``core.py`` with mypyc (``make install``) and records the SHA-256 of the
source it compiled in ``core.build-sha256`` beside the compiled module. Python would import
a compiled module in preference to ``core.py`` even after the source changed, so
:func:`select_core` (called by ``centime.ledger`` before anything imports the core) checks
the record and, when the source changed since the build or ``CENTIME_LEDGER_CORE=pure`` is
set, installs the pure source as ``centime.ledger.core`` instead. Both run the same code:
the tests run the core's suites against both (``tests/ledger/cores.py``).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

from centime.native import compiled_import_is_current, is_native, load_source, stamp_matches

__all__ = ["CORE_MODULE", "core_is_compiled", "load_pure_core", "select_core"]

CORE_MODULE: Final = "centime.ledger.core"
CORE_SOURCE: Final = Path(__file__).with_name("core.py")
BUILD_STAMP: Final = Path(__file__).with_name("core.build-sha256")
ENV_CORE: Final = "CENTIME_LEDGER_CORE"  # "pure": never the compiled module

log = logging.getLogger("centime.ledger")


def load_pure_core(name: str) -> ModuleType:
    """``core.py`` executed as Python under the module name ``name``."""
    return load_source(name, CORE_SOURCE, "centime.ledger")


def core_is_compiled(module: ModuleType | None = None) -> bool:
    """Whether ``module`` (default: the imported ``centime.ledger.core``) is native code."""
    return is_native(module if module is not None else sys.modules.get(CORE_MODULE))


def _compiled_is_current() -> bool:
    return stamp_matches(BUILD_STAMP, lambda: hashlib.sha256(CORE_SOURCE.read_bytes()).hexdigest())


def select_core() -> None:
    """Make sure ``import centime.ledger.core`` gives code built from the current source."""
    if CORE_MODULE in sys.modules:
        return
    stale = f"{CORE_SOURCE} changed since the compiled ledger core was built: running it as"
    stale += " Python (make install rebuilds the compiled core)"
    if compiled_import_is_current(CORE_MODULE, ENV_CORE, _compiled_is_current, log, stale):
        return
    module = load_pure_core(CORE_MODULE)
    # As the import system does for a submodule it loads: `centime.ledger.core` resolves.
    package = sys.modules.get(CORE_MODULE.rpartition(".")[0])
    if package is not None:
        package.core = module  # type: ignore[attr-defined]
