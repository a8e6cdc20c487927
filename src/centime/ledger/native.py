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
import importlib.machinery
import importlib.util
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

__all__ = ["CORE_MODULE", "core_is_compiled", "load_pure_core", "select_core"]

CORE_MODULE: Final = "centime.ledger.core"
CORE_SOURCE: Final = Path(__file__).with_name("core.py")
BUILD_STAMP: Final = Path(__file__).with_name("core.build-sha256")
ENV_CORE: Final = "CENTIME_LEDGER_CORE"  # "pure": never the compiled module

log = logging.getLogger("centime.ledger")


def load_pure_core(name: str) -> ModuleType:
    """``core.py`` executed as Python under the module name ``name`` (registered in
    ``sys.modules``, as the dataclasses in it need)."""
    loader = importlib.machinery.SourceFileLoader(name, str(CORE_SOURCE))
    spec = importlib.util.spec_from_loader(name, loader)
    if spec is None:
        raise ImportError(f"cannot load {CORE_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "centime.ledger"
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def core_is_compiled(module: ModuleType | None = None) -> bool:
    """Whether ``module`` (default: the imported ``centime.ledger.core``) is native code."""
    found = module if module is not None else sys.modules.get(CORE_MODULE)
    origin = getattr(found, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _compiled_is_current() -> bool:
    try:
        recorded = BUILD_STAMP.read_text().strip()
    except OSError:
        return False
    return recorded == hashlib.sha256(CORE_SOURCE.read_bytes()).hexdigest()


def select_core() -> None:
    """Make sure ``import centime.ledger.core`` gives code built from the current source."""
    if CORE_MODULE in sys.modules:
        return
    spec = importlib.util.find_spec(CORE_MODULE)
    origin = spec.origin if spec is not None else None
    if origin is None or origin.endswith(".py"):
        return  # no compiled module: the source is what Python imports anyway
    if os.environ.get(ENV_CORE) != "pure":
        if _compiled_is_current():
            return
        log.warning(
            "%s changed since the compiled ledger core was built: running it as Python"
            " (make install rebuilds the compiled core)",
            CORE_SOURCE,
        )
    module = load_pure_core(CORE_MODULE)
    # As the import system does for a submodule it loads: `centime.ledger.core` resolves.
    package = sys.modules.get(CORE_MODULE.rpartition(".")[0])
    if package is not None:
        package.core = module  # type: ignore[attr-defined]
