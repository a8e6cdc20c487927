"""``centime bench api``: both configurations (the risk engine and the screen off) measured
on their own servers and databases, every payment answered created stored, each ledger
check passing; the medians and the ratio it reports. No timing is asserted."""

from __future__ import annotations

import math

import pytest

from centime.bench.api import (
    SCREEN_ENGINE,
    SCREEN_OFF,
    ApiBenchConfig,
    ApiBenchResult,
    ApiRun,
    run_api_bench,
)


def _run(screen: str, kind: str, per_s: float, created: int = 10) -> ApiRun:
    return ApiRun(screen, kind, per_s, per_s, 1.0, 2.0, created, {}, [], "")


def test_medians_and_ratio_are_per_screen() -> None:
    result = ApiBenchResult(ApiBenchConfig(runs=3))
    result.runs = [_run(SCREEN_ENGINE, "single", v) for v in (100.0, 300.0, 200.0)] + [
        _run(SCREEN_OFF, "single", v) for v in (400.0, 500.0, 800.0)
    ]
    assert result.median("single", "payments_per_s", SCREEN_ENGINE) == 200.0
    assert result.median("single", "payments_per_s", SCREEN_OFF) == 500.0
    assert result.ratio("single", SCREEN_ENGINE, SCREEN_OFF) == pytest.approx(0.4)
    assert math.isnan(result.ratio("batch", SCREEN_ENGINE, SCREEN_OFF))


def test_consistent_needs_every_database_to_hold_what_was_answered() -> None:
    result = ApiBenchResult(ApiBenchConfig())
    result.runs = [_run(SCREEN_ENGINE, "single", 1.0, 7), _run(SCREEN_OFF, "batch", 1.0, 5)]
    result.payments_stored = {SCREEN_ENGINE: 7, SCREEN_OFF: 5}
    result.ledger_violations = {SCREEN_ENGINE: [], SCREEN_OFF: []}
    assert result.consistent
    result.payments_stored[SCREEN_OFF] = 4  # one payment answered created was lost
    assert not result.consistent
    result.payments_stored[SCREEN_OFF] = 5
    result.ledger_violations[SCREEN_ENGINE] = ["balance_equals_transfers: account 3"]
    assert not result.consistent


def test_unknown_screens_are_refused() -> None:
    with pytest.raises(ValueError, match="screens"):
        ApiBenchConfig(screens=("none",))
    with pytest.raises(ValueError, match="screens"):
        ApiBenchConfig(screens=())


@pytest.mark.slow
def test_tiny_run_measures_both_screens_and_checks_both_databases() -> None:
    config = ApiBenchConfig(
        duration_s=1.0, clients=4, batch_clients=1, batch_size=20, customers=4, runs=1
    )
    result = run_api_bench(config)
    assert [(r.screen, r.kind) for r in result.runs] == [
        (SCREEN_ENGINE, "single"),
        (SCREEN_ENGINE, "batch"),
        (SCREEN_OFF, "single"),
        (SCREEN_OFF, "batch"),
    ]
    for run in result.runs:
        assert run.payments_created > 0, run
        assert not run.failures, run
    assert result.consistent, (result.payments_stored, result.ledger_violations)
    assert set(result.payments_stored) == {SCREEN_ENGINE, SCREEN_OFF}
