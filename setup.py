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

Beside them, a small C extension needing only a C compiler: ``centime.risk._trees``, the
model's trees evaluated natively (``centime.risk.trees``), stamped with the SHA-256 of its
source in ``trees.build-sha256``. It is optional too and built on its own: when it does not
compile, the model is scored by LightGBM's Booster, and the mypyc modules are not affected.
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
TREES_NAME = "centime.risk._trees"
TREES_SOURCE = RISK_DIR / "_trees.c"
TREES_STAMP = RISK_DIR / "trees.build-sha256"


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
    ):
        stale.unlink(missing_ok=True)
    return []


def _risk_digest() -> str:
    digest = hashlib.sha256()
    for name in RISK_MODULES:
        digest.update((RISK_DIR / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _no_trees(reason: str) -> None:
    """No native trees: say why, and remove ones an earlier in-place build left."""
    print(f"{reason}: the risk model is scored by LightGBM's Booster", file=sys.stderr)
    for stale in (*RISK_DIR.glob("_trees.*.so"), *RISK_DIR.glob("_trees.*.pyd"), TREES_STAMP):
        stale.unlink(missing_ok=True)


def _trees_extension() -> list[Any]:
    # No -ffast-math or the like: the trees must compare and add exactly as LightGBM does.
    return [Extension(TREES_NAME, [str(TREES_SOURCE)], extra_compile_args=["-O2"])]


def _ext_modules() -> list[Any]:
    if os.environ.get("CENTIME_PURE_PYTHON") == "1":
        _no_trees("CENTIME_PURE_PYTHON=1")
        return _pure("CENTIME_PURE_PYTHON=1")
    return _mypyc_modules() + _trees_extension()


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
    pair of modules would not import) and leaves the pure Python core in place. The native
    trees are built apart: their failure only removes them."""

    def run(self) -> None:
        trees = [ext for ext in self.extensions if ext.name == TREES_NAME]
        inplace, compiler = self.inplace, self.compiler
        try:
            super().run()
        except Exception as error:
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            _pure(f"compiling the ledger core failed ({error})")
            if not trees:
                return
            # The trees need no mypyc: built alone, as the first run started (setuptools'
            # run, interrupted, left in-place building off and its compiler object set).
            self.extensions, self.inplace, self.compiler = trees, inplace, compiler
            try:
                super().run()
            except Exception as again:
                for output in self.get_outputs():
                    Path(output).unlink(missing_ok=True)
                _no_trees(f"building the native trees failed ({again})")
                return
        else:
            if any(ext.name != TREES_NAME for ext in self.extensions):
                self._write_stamp()
        if any(ext.name == TREES_NAME for ext in self.extensions):  # built: stamped
            digest = hashlib.sha256(TREES_SOURCE.read_bytes()).hexdigest()
            trees_path = Path(self.get_ext_fullpath(TREES_NAME))
            trees_path.with_name(TREES_STAMP.name).write_text(digest + "\n")

    def build_extensions(self) -> None:
        """The mypyc modules (a failure raises: run() falls back), then the trees, dropped
        from the list (so never copied nor stamped) when they do not compile."""
        trees = [ext for ext in self.extensions if ext.name == TREES_NAME]
        self.extensions = [ext for ext in self.extensions if ext.name != TREES_NAME]
        if self.extensions:
            super().build_extensions()
        for ext in trees:
            try:
                self.build_extension(ext)
            except Exception as error:  # no compiler, a compiler error: the Booster scores
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
                _no_trees(f"compiling the native trees failed ({error})")
            else:
                self.extensions.append(ext)

    def _write_stamp(self) -> None:
        digest = hashlib.sha256(CORE_SOURCE.read_bytes()).hexdigest()
        core = self.get_ext_fullpath("centime.ledger.core")
        Path(core).with_name(STAMP_NAME).write_text(digest + "\n")
        field = self.get_ext_fullpath("centime.risk.field")
        Path(field).with_name(RISK_STAMP.name).write_text(COMPILED_DIGEST[-1] + "\n")


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
