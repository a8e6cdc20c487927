"""Which risk state code runs: the mypyc-compiled modules when they were built from the
sources on disk, else the same sources as Python.

``setup.py`` compiles the modules of :data:`COMPILED` (the online features' state: windows,
the rules' features, the model's field features, the pair sketch, the shared-thing graph)
together with mypyc (``make install``) and records the SHA-256 of their sources in
``native.build-sha256``. Compiled together they call each other as native code, so they run
all compiled or all as Python: when any source changed since the build, or
``CENTIME_RISK_NATIVE=pure`` is set, :func:`select_risk` (called by ``centime.risk`` before
anything imports them) installs every one of them from its source. The same code either
way: the risk tests pass on both (``CENTIME_RISK_NATIVE=pure``).
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

__all__ = ["COMPILED", "risk_is_compiled", "select_risk", "sources_digest"]

HERE: Final = Path(__file__).parent
# In dependency order: a module is installed after the ones it imports.
COMPILED: Final = ("windows", "sketch", "graph", "features", "field")
BUILD_STAMP: Final = HERE / "native.build-sha256"
ENV_NATIVE: Final = "CENTIME_RISK_NATIVE"  # "pure": never the compiled modules

log = logging.getLogger("centime.risk")


def sources_digest(directory: Path = HERE) -> str:
    """The SHA-256 of the compiled modules' sources, in :data:`COMPILED` order."""
    digest = hashlib.sha256()
    for name in COMPILED:
        digest.update((directory / f"{name}.py").read_bytes())
    return digest.hexdigest()


def risk_is_compiled() -> bool:
    """Whether the imported risk state modules are native code."""
    found = sys.modules.get("centime.risk.field")
    origin = getattr(found, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _compiled_is_current() -> bool:
    try:
        recorded = BUILD_STAMP.read_text().strip()
    except OSError:
        return False
    return recorded == sources_digest()


def _load_pure(name: str) -> ModuleType:
    full = f"centime.risk.{name}"
    path = HERE / f"{name}.py"
    loader = importlib.machinery.SourceFileLoader(full, str(path))
    spec = importlib.util.spec_from_loader(full, loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "centime.risk"
    sys.modules[full] = module  # before it runs: its dataclasses look themselves up
    loader.exec_module(module)
    return module


def select_risk() -> None:
    """Make sure importing the risk state modules gives code built from the current source."""
    if any(f"centime.risk.{name}" in sys.modules for name in COMPILED):
        return
    spec = importlib.util.find_spec("centime.risk.field")
    origin = spec.origin if spec is not None else None
    if origin is None or origin.endswith(".py"):
        return  # nothing compiled: the sources are what Python imports anyway
    if os.environ.get(ENV_NATIVE) != "pure":
        if _compiled_is_current():
            return
        log.warning(
            "the risk state sources changed since they were compiled: running them as"
            " Python (make install compiles them again)"
        )
    for name in COMPILED:
        _load_pure(name)
