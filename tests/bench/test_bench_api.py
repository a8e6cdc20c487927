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


def _run(screen: str, kind: str, per_s: float, created: int = 10, processes: int = 1) -> ApiRun:
    return ApiRun(screen, kind, processes, per_s, per_s, 1.0, 2.0, created, {}, [], "")


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
    engine, off = (SCREEN_ENGINE, 1), (SCREEN_OFF, 1)
    result.payments_stored = {engine: 7, off: 5}
    result.ledger_violations = {engine: [], off: []}
    assert result.consistent
    result.payments_stored[off] = 4  # one payment answered created was lost
    assert not result.consistent
    result.payments_stored[off] = 5
    result.ledger_violations[engine] = ["balance_equals_transfers: account 3"]
    assert not result.consistent


def test_process_counts_have_their_own_medians_ratio_and_databases() -> None:
    config = ApiBenchConfig(runs=1, screens=(SCREEN_ENGINE,), store="postgres", processes=(1, 2))
    assert config.targets == [(SCREEN_ENGINE, 1), (SCREEN_ENGINE, 2)]
    result = ApiBenchResult(config)
    result.runs = [
        _run(SCREEN_ENGINE, "single", 100.0, 3, processes=1),
        _run(SCREEN_ENGINE, "single", 150.0, 4, processes=2),
    ]
    assert result.median("single", "payments_per_s") == 100.0  # the first count by default
    assert result.median("single", "payments_per_s", SCREEN_ENGINE, 2) == 150.0
    assert result.ratio("single", SCREEN_ENGINE, SCREEN_ENGINE, 2, 1) == pytest.approx(1.5)
    result.payments_stored = {(SCREEN_ENGINE, 1): 3, (SCREEN_ENGINE, 2): 4}
    result.ledger_violations = {(SCREEN_ENGINE, 1): [], (SCREEN_ENGINE, 2): []}
    assert result.consistent
    result.payments_stored[(SCREEN_ENGINE, 2)] = 3  # the 2-process database lost one
    assert not result.consistent


def test_several_processes_need_postgres_and_distinct_counts() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        ApiBenchConfig(processes=(1, 2))
    with pytest.raises(ValueError, match="distinct"):
        ApiBenchConfig(store="postgres", processes=(2, 2))
    with pytest.raises(ValueError, match="distinct"):
        ApiBenchConfig(store="postgres", processes=(0,))
    with pytest.raises(ValueError, match="store"):
        ApiBenchConfig(store="mysql")


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
    assert set(result.payments_stored) == {(SCREEN_ENGINE, 1), (SCREEN_OFF, 1)}


@pytest.mark.slow
def test_tiny_postgres_run_measures_one_and_two_processes(
    postgres_url: str, redis_prefix: tuple[str, str]
) -> None:
    """Two servers on fresh PostgreSQL databases (created and dropped by the bench), the
    second with 2 API processes sharing Redis; both hold what they answered created."""
    config = ApiBenchConfig(
        duration_s=1.0,
        clients=4,
        batch_clients=1,
        batch_size=20,
        customers=4,
        runs=1,
        screens=(SCREEN_ENGINE,),
        store="postgres",
        processes=(1, 2),
        postgres_url=postgres_url,  # its server; the bench's databases are new ones
        redis_url=redis_prefix[0],
    )
    result = run_api_bench(config)
    assert [(r.processes, r.kind) for r in result.runs] == [
        (1, "single"),
        (1, "batch"),
        (2, "single"),
        (2, "batch"),
    ]
    for run in result.runs:
        assert run.payments_created > 0, run
        assert not run.failures, run
    assert result.consistent, (result.payments_stored, result.ledger_violations)
