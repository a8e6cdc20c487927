"""Builds the ledger's pure core (``src/centime/ledger/core.py``) and the risk engine's state
modules (``centime.risk.native.COMPILED``) into native code with mypyc, and the risk engine's
two small C extensions.

Everything else about the package is declared in pyproject.toml. The compiled module is an
optimisation, never a requirement: when mypyc or a C compiler is missing, or
``CENTIME_PURE_PYTHON=1`` is set, the build goes on without it and the same source runs as
Python. Next to the compiled module the build writes the SHA-256 of the source it compiled
(``core.build-sha256``); ``centime.ledger.native`` uses the compiled module only while that
matches the source on disk, so an edited core.py is never shadowed by a stale build. The
risk modules are compiled as one group, stamped alike in ``native.build-sha256`` (the
digest of their sources, checked by ``centime.risk.native``).

Beside them, three C extensions needing only a C compiler (:data:`C_EXTENSIONS`), each built
on its own and stamped with the SHA-256 of its source: ``centime.risk._trees`` (the model's
trees evaluated natively, ``centime.risk.trees``; without it LightGBM's Booster scores),
``centime.risk._cstate`` (the risk state's windows and parties as C arrays; without it the
Python state runs) and ``centime.ledger._records`` (the ledger's cached records untracked by
the garbage collector, ``centime.ledger.records``; without it they stay tracked). A failure
of one only removes it; the mypyc modules are not affected.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
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
# No -ffast-math, no FMA contraction: the trees compare and add exactly as LightGBM does and
# the state's a*b-c rounds twice, as in Python, so both agree with their references bit for bit.
C_FLAGS = ["-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c11"]


@dataclass(frozen=True)
class CExtension:
    """An optional C extension: its module, source, stamp, and what runs without it."""

    name: str
    source: Path
    stamp: str  # the file beside the built module holding its source's SHA-256
    without: str

    def extension(self) -> Extension:
        return Extension(self.name, [str(self.source)], extra_compile_args=C_FLAGS)

    def remove(self, reason: str) -> None:
        """Not built: say why, and remove what an earlier in-place build left."""
        print(f"{reason}: {self.without}", file=sys.stderr)
        stem = self.name.rsplit(".", 1)[1]
        folder = self.source.parent
        for stale in (*folder.glob(f"{stem}.*.so"), *folder.glob(f"{stem}.*.pyd")):
            stale.unlink(missing_ok=True)
        (folder / self.stamp).unlink(missing_ok=True)


C_EXTENSIONS = {
    c.name: c
    for c in (
        CExtension(
            "centime.risk._trees",
            RISK_DIR / "_trees.c",
            "trees.build-sha256",
            "the risk model is scored by LightGBM's Booster",
        ),
        CExtension(
            "centime.risk._cstate",
            RISK_DIR / "_cstate.c",
            "_cstate.build-sha256",
            "the risk state's windows and parties run as Python",
        ),
        CExtension(
            "centime.ledger._records",
            CORE_SOURCE.parent / "_records.c",
            "_records.build-sha256",
            "the ledger's cached account records stay tracked by the garbage collector",
        ),
    )
}


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


def _ext_modules() -> list[Any]:
    if os.environ.get("CENTIME_PURE_PYTHON") == "1":
        for c in C_EXTENSIONS.values():
            c.remove("CENTIME_PURE_PYTHON=1")
        return _pure("CENTIME_PURE_PYTHON=1")
    return _mypyc_modules() + [c.extension() for c in C_EXTENSIONS.values()]


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


def _optional(extensions: list[Any]) -> list[Any]:
    return [ext for ext in extensions if ext.name in C_EXTENSIONS]


class OptionalBuildExt(build_ext):
    """Builds the compiled core if it can; on any failure removes what it built (a half-built
    pair of modules would not import) and leaves the pure Python core in place. The C
    extensions are built apart: a failure of one only removes it."""

    def run(self) -> None:
        optional = _optional(self.extensions)
        inplace, compiler = self.inplace, self.compiler
        try:
            super().run()
        except Exception as error:
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            _pure(f"compiling the ledger core failed ({error})")
            if not optional:
                return
            # The C extensions need no mypyc: built alone, as the first run started
            # (setuptools' run, interrupted, left in-place building off and its compiler set).
            self.extensions, self.inplace, self.compiler = optional, inplace, compiler
            try:
                super().run()
            except Exception as again:
                for output in self.get_outputs():
                    Path(output).unlink(missing_ok=True)
                for ext in optional:
                    C_EXTENSIONS[ext.name].remove(f"building {ext.name} failed ({again})")
                return
        else:
            if len(_optional(self.extensions)) < len(self.extensions):
                self._write_stamp()
        for ext in _optional(self.extensions):  # built: stamped
            c = C_EXTENSIONS[ext.name]
            digest = hashlib.sha256(c.source.read_bytes()).hexdigest()
            Path(self.get_ext_fullpath(ext.name)).with_name(c.stamp).write_text(digest + "\n")

    def build_extensions(self) -> None:
        """The mypyc modules (a failure raises: run() falls back), then each C extension,
        dropped from the list (so never copied nor stamped) when it does not compile."""
        optional = _optional(self.extensions)
        self.extensions = [ext for ext in self.extensions if ext.name not in C_EXTENSIONS]
        if self.extensions:
            super().build_extensions()
        for ext in optional:
            try:
                self.build_extension(ext)
            except Exception as error:  # no compiler, a compiler error: Python runs
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
                C_EXTENSIONS[ext.name].remove(f"compiling {ext.name} failed ({error})")
            else:
                self.extensions.append(ext)

    def _write_stamp(self) -> None:
        digest = hashlib.sha256(CORE_SOURCE.read_bytes()).hexdigest()
        core = self.get_ext_fullpath("centime.ledger.core")
        Path(core).with_name(STAMP_NAME).write_text(digest + "\n")
        field = self.get_ext_fullpath("centime.risk.field")
        Path(field).with_name(RISK_STAMP.name).write_text(COMPILED_DIGEST[-1] + "\n")


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
