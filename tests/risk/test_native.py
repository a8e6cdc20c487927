"""The risk state modules run compiled only when built from the sources on disk, all of
them together; ``CENTIME_RISK_NATIVE=pure`` runs them as Python; setup.py compiles the same
list that ``centime.risk.native`` checks."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from centime.risk.native import COMPILED, sources_digest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import centime.risk.features as features, centime.risk.field as field
from centime.risk.native import risk_is_compiled
print(field.__file__.endswith('.py'), features.__file__.endswith('.py'), risk_is_compiled())
"""


def _setup_modules() -> tuple[str, ...]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "RISK_MODULES":
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple)
            return value
    raise AssertionError("setup.py names no RISK_MODULES")


def test_setup_compiles_the_modules_that_native_checks() -> None:
    assert _setup_modules() == COMPILED
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"{name}.py" in makefile for name in COMPILED)  # an edit triggers a rebuild


def test_pure_runs_every_module_as_python() -> None:
    env = {**os.environ, "CENTIME_RISK_NATIVE": "pure"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True", "False"]


def test_the_stamp_names_the_sources(tmp_path: Path) -> None:
    for name in COMPILED:
        (tmp_path / f"{name}.py").write_text(f"# {name}\n")
    before = sources_digest(tmp_path)
    (tmp_path / "field.py").write_text("# edited\n")
    assert sources_digest(tmp_path) != before  # an edited module no longer matches the build


def test_a_stale_or_missing_c_state_stamp_gives_the_python_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from centime.risk import native

    for stamp in ("0" * 64 + "\n", None):  # another source's digest; no stamp at all
        path = tmp_path / "_cstate.build-sha256"
        path.unlink(missing_ok=True)
        if stamp is not None:
            path.write_text(stamp)
        monkeypatch.setattr(native, "CSTATE_STAMP", path)
        monkeypatch.setattr(native, "_STATE", [])
        monkeypatch.delenv(native.ENV_NATIVE, raising=False)
        assert native.state_module() is None
    monkeypatch.setattr(native, "CSTATE_STAMP", tmp_path / "current")
    (tmp_path / "current").write_text(native._cstate_digest() + "\n")
    monkeypatch.setattr(native, "_STATE", [])
    built = importlib.util.find_spec("centime.risk._cstate") is not None
    assert (native.state_module() is not None) == built
    for setting in ("pure", "mypyc"):
        monkeypatch.setattr(native, "_STATE", [])
        monkeypatch.setenv(native.ENV_NATIVE, setting)
        assert native.state_module() is None
