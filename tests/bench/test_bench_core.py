"""``centime bench core``: both routes of the ledger core apply the same batches and every
transfer is created; the figures are there. No timing is asserted."""

from __future__ import annotations

from typer.testing import CliRunner

import centime.ledger.core as installed_core
from centime.bench.core import run_core_bench
from centime.cli import app
from centime.ledger.native import core_is_compiled


def test_both_routes_apply_every_batch() -> None:
    result = run_core_bench(accounts=50, batches=3, batch_size=100, seed=7)
    routes = {"compiled", "pure"} if core_is_compiled(installed_core) else {"pure"}
    assert set(result.ms_per_batch) == routes
    for figures in result.ms_per_batch.values():
        assert len(figures) == 3 and all(ms > 0 for ms in figures)
    assert (result.ratio() is not None) == ("compiled" in routes)
    assert result.transfers_per_s("pure") > 0


def test_command_prints_the_routes_and_the_ratio() -> None:
    outcome = CliRunner().invoke(
        app, ["bench", "core", "--accounts", "20", "--batches", "2", "--batch-size", "50"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "pure: median" in outcome.output
    if core_is_compiled(installed_core):
        assert "the Python core (medians, side by side)" in outcome.output
    else:
        assert "not built" in outcome.output
