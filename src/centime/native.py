"""What the ledger core and the risk state share in running their mypyc-compiled modules
only when built from the sources on disk (centime.ledger.native, centime.risk.native).

Python imports a compiled module in preference to its source even after the source changed,
so each package checks, before anything imports the compiled code, a stamp ``setup.py``
wrote at the build (the SHA-256 of the sources it compiled) and, when it is stale or
``<ENV>=pure`` is set, installs the sources as the modules instead.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

__all__ = ["compiled_import_is_current", "is_native", "load_source", "stamp_matches"]


def is_native(module: object) -> bool:
    """Whether ``module`` was loaded from an extension module (native code)."""
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def stamp_matches(stamp: Path, sources_digest: Callable[[], str]) -> bool:
    """Whether the build stamp records ``sources_digest()`` (no stamp: never trusted; the
    sources are read only when there is one)."""
    try:
        recorded = stamp.read_text().strip()
    except OSError:
        return False
    return recorded == sources_digest()


def load_source(name: str, path: Path, package: str) -> ModuleType:
    """The Python source ``path`` executed as module ``name`` of ``package``, registered in
    ``sys.modules`` before it runs (its dataclasses look themselves up there)."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def compiled_import_is_current(
    module_name: str,
    env_var: str,
    is_current: Callable[[], bool],
    log: logging.Logger,
    stale_warning: str,
) -> bool:
    """Whether a plain import of ``module_name`` gives code built from the current sources:
    nothing compiled is installed (Python imports the source anyway), or the compiled build
    is current and ``env_var`` does not ask for the sources. False: the caller installs the
    sources (after warning when the build is stale)."""
    spec = importlib.util.find_spec(module_name)
    origin = spec.origin if spec is not None else None
    if origin is None or origin.endswith(".py"):
        return True
    if os.environ.get(env_var) == "pure":
        return False
    if is_current():
        return True
    log.warning(stale_warning)
    return False
