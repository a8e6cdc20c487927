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

Apart from them, ``setup.py`` builds the C extension ``centime.risk._cstate`` (``_cstate.c``:
the windows and the model's per-party state as C arrays, bit for bit the Python classes')
and records the SHA-256 of its source in ``_cstate.build-sha256``; :func:`state_module` gives
it only while that matches ``_cstate.c``, and never with ``CENTIME_RISK_NATIVE=pure`` or
``=mypyc`` (the compiled modules without the C state). ``OnlineFeatures`` and the engine's
field state use it when it is there (``FeatureConfig.native_state``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

from centime.native import compiled_import_is_current, is_native, load_source, stamp_matches

__all__ = [
    "COMPILED",
    "CSTATE_SOURCE",
    "risk_is_compiled",
    "select_risk",
    "sources_digest",
    "state_module",
]

HERE: Final = Path(__file__).parent
# In dependency order: a module is installed after the ones it imports.
COMPILED: Final = ("windows", "sketch", "graph", "features", "field")
BUILD_STAMP: Final = HERE / "native.build-sha256"
ENV_NATIVE: Final = "CENTIME_RISK_NATIVE"  # "pure": never compiled; "mypyc": no C state
CSTATE_SOURCE: Final = HERE / "_cstate.c"
CSTATE_STAMP: Final = HERE / "_cstate.build-sha256"

log = logging.getLogger("centime.risk")


def sources_digest(directory: Path = HERE) -> str:
    """The SHA-256 of the compiled modules' sources, in :data:`COMPILED` order."""
    digest = hashlib.sha256()
    for name in COMPILED:
        digest.update((directory / f"{name}.py").read_bytes())
    return digest.hexdigest()


def risk_is_compiled() -> bool:
    """Whether the imported risk state modules are native code."""
    return is_native(sys.modules.get("centime.risk.field"))


def _compiled_is_current() -> bool:
    return stamp_matches(BUILD_STAMP, sources_digest)


def select_risk() -> None:
    """Make sure importing the risk state modules gives code built from the current source."""
    if any(f"centime.risk.{name}" in sys.modules for name in COMPILED):
        return
    stale = "the risk state sources changed since they were compiled: running them as Python"
    stale += " (make install compiles them again)"
    if compiled_import_is_current(
        "centime.risk.field", ENV_NATIVE, _compiled_is_current, log, stale
    ):
        return
    for name in COMPILED:
        load_source(f"centime.risk.{name}", HERE / f"{name}.py", "centime.risk")


def _cstate_digest() -> str:
    return hashlib.sha256(CSTATE_SOURCE.read_bytes()).hexdigest()


_STATE: list[ModuleType | None] = []


def state_module() -> ModuleType | None:
    """The C state extension (``centime.risk._cstate``) when it was built from ``_cstate.c`` as
    it is on disk and ``CENTIME_RISK_NATIVE`` does not say ``pure`` or ``mypyc``; else None
    (the Python classes run). Decided once per process."""
    if _STATE:
        return _STATE[0]
    module: ModuleType | None = None
    wanted = os.environ.get(ENV_NATIVE) not in ("pure", "mypyc")
    if wanted and importlib.util.find_spec("centime.risk._cstate") is not None:
        if stamp_matches(CSTATE_STAMP, _cstate_digest):
            module = importlib.import_module("centime.risk._cstate")
        else:
            log.warning(
                "the C risk state (_cstate.c) changed since it was built: the Python"
                " state runs (make install builds it again)"
            )
    _STATE.append(module)
    return module
