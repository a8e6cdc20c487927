"""CI builds the compiled modules: a build that fell back to pure Python (setup.py never
fails for it) would otherwise pass CI with the compiled routes' tests skipped."""

from __future__ import annotations

import os

import pytest

import centime.ledger.core as installed_core
import centime.risk.field  # noqa: F401  (the import chooses the compiled module when current)
from centime.ledger.native import core_is_compiled
from centime.ledger.records import records_extension
from centime.risk.native import risk_is_compiled, state_module
from centime.risk.trees import trees_is_compiled

REQUIRED = os.environ.get("CENTIME_REQUIRE_NATIVE") == "1"


@pytest.mark.skipif(not REQUIRED, reason="CENTIME_REQUIRE_NATIVE=1 is set by .ci/run only")
def test_ci_runs_the_compiled_ledger_core_and_risk_state() -> None:
    assert core_is_compiled(installed_core), "make install fell back to the pure Python core"
    assert risk_is_compiled(), "make install fell back to the pure Python risk state"
    assert state_module() is not None, "the C risk state (risk/_cstate.c) was not built"
    assert trees_is_compiled(), "the native model trees (risk/_trees.c) were not built"
    assert records_extension() is not None, "ledger/_records.c was not built"
