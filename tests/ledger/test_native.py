"""Which core runs (``centime.ledger.native``): the compiled one only while it was built from
the source on disk, the Python source when asked or when the build is stale."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import centime.ledger.core as installed_core
from centime.ledger import native

from .cores import pure_core


def _core_file(**env: str) -> str:
    """centime.ledger.core's file in a fresh interpreter with ``env`` added."""
    done = subprocess.run(
        [sys.executable, "-c", "import centime.ledger.core as c; print(c.__file__)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


def test_the_pure_route_is_the_source() -> None:
    assert not native.core_is_compiled(pure_core())
    assert _core_file(CENTIME_LEDGER_CORE="pure").endswith("core.py")


@pytest.mark.skipif(
    not native.core_is_compiled(installed_core), reason="the compiled core is not built"
)
def test_a_current_build_is_used() -> None:
    assert native._compiled_is_current()
    assert _core_file().endswith(".so")


def test_a_stamp_of_another_source_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamp = tmp_path / "core.build-sha256"
    monkeypatch.setattr(native, "BUILD_STAMP", stamp)
    assert not native._compiled_is_current()  # no stamp: never trusted
    stamp.write_text(hashlib.sha256(b"an older core.py").hexdigest() + "\n")
    assert not native._compiled_is_current()
    stamp.write_text(hashlib.sha256(native.CORE_SOURCE.read_bytes()).hexdigest() + "\n")
    assert native._compiled_is_current()
