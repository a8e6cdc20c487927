"""Builds the ledger's pure core (``src/centime/ledger/core.py``) and the risk engine's state
modules (``centime.risk.native.COMPILED``) into native code with mypyc.

Everything else about the package is declared in pyproject.toml. The compiled module is an
optimisation, never a requirement: when mypyc or a C compiler is missing, or
``CENTIME_PURE_PYTHON=1`` is set, the build goes on without it and the same source runs as
Python. Next to the compiled module the build writes the SHA-256 of the source it compiled
(``core.build-sha256``); ``centime.ledger.native`` uses the compiled module only while that
matches the source on disk, so an edited core.py is never shadowed by a stale build. The
risk modules are compiled as one group, stamped alike in ``native.build-sha256`` (the
digest of their sources, checked by ``centime.risk.native``).

Apart from mypyc, the C extension ``centime.risk._cstate`` (``src/centime/risk/_cstate.c``:
the risk state's windows and parties as C arrays) is built when a C compiler is there; its
source's SHA-256 goes to ``_cstate.build-sha256`` (checked by ``centime.risk.native``). It
fails alone: without it the Python state runs.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE_SOURCE = Path("src/centime/ledger/core.py")
STAMP_NAME = "core.build-sha256"
RISK_DIR = Path("src/centime/risk")
RISK_MODULES = ("windows", "sketch", "graph", "features", "field")  # = native.COMPILED
RISK_STAMP = RISK_DIR / "native.build-sha256"
COMPILED_DIGEST: list[str] = []  # the risk sources' digest when mypyc read them
CSTATE_SOURCE = RISK_DIR / "_cstate.c"
CSTATE_STAMP = RISK_DIR / "_cstate.build-sha256"
CSTATE_NAME = "centime.risk._cstate"
CSTATE_DIGEST: list[str] = []  # _cstate.c's digest when the extension was declared


def _pure(reason: str) -> list[Any]:
    """No compiled core: say why, and remove one an earlier in-place build left (an editable
    install keeps it beside core.py)."""
    print(f"{reason}: the ledger core and the risk state stay pure Python", file=sys.stderr)
    stale_risk = [p for name in RISK_MODULES for p in RISK_DIR.glob(f"{name}.*.so")]
    for stale in (
        *CORE_SOURCE.parent.glob("core*.so"),
        CORE_SOURCE.with_name(STAMP_NAME),
        *stale_risk,
        RISK_STAMP,
        *RISK_DIR.glob("_cstate.*.so"),
        CSTATE_STAMP,
    ):
        stale.unlink(missing_ok=True)
    return []


def _risk_digest() -> str:
    digest = hashlib.sha256()
    for name in RISK_MODULES:
        digest.update((RISK_DIR / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _cstate() -> list[Any]:
    """The C state extension (no FMA contraction: a*b-c rounds twice, as in Python)."""
    CSTATE_DIGEST.append(hashlib.sha256(CSTATE_SOURCE.read_bytes()).hexdigest())
    flags = ["-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c11"]
    return [Extension(CSTATE_NAME, [str(CSTATE_SOURCE)], extra_compile_args=flags)]


def _ext_modules() -> list[Any]:
    if os.environ.get("CENTIME_PURE_PYTHON") == "1":
        return _pure("CENTIME_PURE_PYTHON=1")
    return _mypyc_modules() + _cstate()


def _mypyc_modules() -> list[Any]:
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        return _pure(f"mypyc unavailable ({error})")
    # The build environment has mypy but not the project's dependencies, and mypy also reads
    # the packages around the core (centime.ledger's __init__ imports the engine, the store,
    # SQLAlchemy...): only core.py itself is type-checked; what it imports is read silently.
    flags = ["--follow-imports=silent", "--ignore-missing-imports"]
    try:
        core = list(mypycify([*flags, str(CORE_SOURCE)], opt_level="3"))
        risk_sources = [str(RISK_DIR / f"{name}.py") for name in RISK_MODULES]
        COMPILED_DIGEST.append(_risk_digest())  # of the sources as mypyc read them
        return core + list(mypycify([*flags, *risk_sources], opt_level="3"))
    except (Exception, SystemExit) as error:  # mypy exits on type errors
        return _pure(f"mypyc refused the ledger core or the risk state ({error})")


class OptionalBuildExt(build_ext):
    """Builds the compiled core if it can; on any failure removes what it built (a half-built
    pair of modules would not import) and leaves the pure Python core in place. The C state
    extension is built apart: when it fails, only it is missing."""

    def build_extension(self, ext: Any) -> None:
        if ext.name != CSTATE_NAME:
            super().build_extension(ext)
            return
        built = Path(self.get_ext_fullpath(ext.name))  # in the build tree (not in place yet)
        try:
            super().build_extension(ext)
        except Exception as error:
            built.unlink(missing_ok=True)
            print(f"the C risk state did not build ({error}): Python runs", file=sys.stderr)
            return
        self.cstate_built = True

    cstate_built = False

    def build_extensions(self) -> None:
        super().build_extensions()
        if not self.cstate_built:  # not copied in place, not an output: the rest goes on
            self.extensions = [ext for ext in self.extensions if ext.name != CSTATE_NAME]

    def run(self) -> None:
        # Where the C state's stamp goes once built: beside the extension as installed.
        stamp = Path(self.get_ext_fullpath(CSTATE_NAME)).with_name(CSTATE_STAMP.name)
        stamp.unlink(missing_ok=True)
        try:
            super().run()
        except Exception as error:
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            _pure(f"compiling the ledger core failed ({error})")
            return
        if any(ext.name != CSTATE_NAME for ext in self.extensions):
            self._write_stamp()
        if self.cstate_built:
            stamp = Path(self.get_ext_fullpath(CSTATE_NAME)).with_name(CSTATE_STAMP.name)
            stamp.write_text(CSTATE_DIGEST[-1] + "\n")

    def _write_stamp(self) -> None:
        digest = hashlib.sha256(CORE_SOURCE.read_bytes()).hexdigest()
        core = self.get_ext_fullpath("centime.ledger.core")
        Path(core).with_name(STAMP_NAME).write_text(digest + "\n")
        field = self.get_ext_fullpath("centime.risk.field")
        Path(field).with_name(RISK_STAMP.name).write_text(COMPILED_DIGEST[-1] + "\n")


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
