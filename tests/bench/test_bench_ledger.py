"""``centime bench ledger`` on a tiny workload: the structure of its results, every transfer
created, the ledger check passing afterwards. No timing is asserted: only that it measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from centime.bench.latency import LatencyHistogram
from centime.bench.ledger import (
    BenchConfig,
    clients_for,
    default_transfers,
    run_ledger_bench,
    set_up_wallets,
)
from centime.bench.naive import open_naive
from centime.bench.report import as_json
from centime.bench.workload import ASSET, CODE, WALLET_FUNDING, Workload
from centime.cli import app
from centime.ledger import CreateTransferStatus, Ledger, Transfer
from centime.store import open_store

from ..conftest import POSTGRES_URL

TINY = BenchConfig(
    accounts=200,
    transfers=300,
    naive_transfers=300,
    batch_sizes=(1, 100, 8189),
    clients=8,
    runs=1,
    stores=("sqlite",),
)


def test_tiny_sqlite_bench_creates_every_transfer_and_passes_the_check() -> None:
    result = run_ledger_bench(TINY)
    assert not result.skipped
    assert [(m.method, m.batch_size, m.clients) for m in result.measurements] == [
        ("engine", 1, 8),
        ("engine", 100, 8),
        ("engine", 8189, 1),
        ("naive", 1, 1),
    ]
    for m in result.measurements:
        assert m.store == "sqlite"
        assert len(m.runs) == 1
        (run,) = m.runs
        assert (run.transfers, run.created, run.failures) == (300, 300, {})
        assert run.checked and run.violations == ()
        assert m.all_created and m.check_passed and m.ok
        assert m.transfers_per_s > 0
        assert 0 < m.latency_ms_p50 <= m.latency_ms_p99
        ratio = result.ratio(m)
        assert (ratio is None) == (m.method == "naive")
    assert result.peak_rss_mib > 0

    document = json.loads(json.dumps(as_json(result)))
    assert document["runs"] == 1 and document["statistic"] == "median"
    assert document["skipped"] == []
    assert document["environment"]["fsync_ms_p50_before"] > 0
    assert len(document["results"]) == 4
    for row in document["results"]:
        assert row["all_created"] and row["check_passed"]
        assert {"transfers_per_s", "latency_ms_p50", "latency_ms_p99"} <= row.keys()
        assert all(type(run["created"]) is int for run in row["runs"])


def test_cli_json_and_table() -> None:
    runner = CliRunner()
    args = ["bench", "ledger", "--accounts", "50", "--transfers", "120", "--runs", "1"]
    args += ["--naive-transfers", "40", "--clients", "4", "--stores", "sqlite"]
    done = runner.invoke(app, [*args, "--batch-size", "1,100", "--batch-size", "8189", "--json"])
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert [r["batch_size"] for r in document["results"]] == [1, 100, 8189, 1]
    assert all(r["check_passed"] for r in document["results"])

    done = runner.invoke(app, [*args, "--batch-size", "100"])
    assert done.exit_code == 0, done.output
    assert "median of 1 run" in done.stdout
    assert "vs naive" in done.stdout


def test_bad_options_are_refused() -> None:
    done = CliRunner().invoke(app, ["bench", "ledger", "--batch-size", "9000"])
    assert done.exit_code != 0
    done = CliRunner().invoke(app, ["bench", "ledger", "--stores", "oracle"])
    assert done.exit_code != 0


def test_unreachable_postgres_is_skipped_with_a_reason() -> None:
    config = BenchConfig(
        accounts=10,
        transfers=10,
        naive_transfers=10,
        runs=1,
        stores=("postgres",),
        postgres_url="postgresql://nobody@127.0.0.1:1/none",
    )
    result = run_ledger_bench(config)
    assert result.measurements == []
    assert result.skipped.get("postgres")


@pytest.mark.postgres
def test_tiny_postgres_bench() -> None:
    config = BenchConfig(
        accounts=100,
        transfers=150,
        naive_transfers=50,
        batch_sizes=(1, 8189),
        clients=4,
        runs=1,
        stores=("postgres",),
        postgres_url=POSTGRES_URL,
    )
    result = run_ledger_bench(config)
    if "postgres" in result.skipped:
        pytest.skip(result.skipped["postgres"])
    assert len(result.measurements) == 3
    assert all(m.ok and m.check_passed for m in result.measurements)


def test_workload_is_lazy_seeded_and_bounded() -> None:
    workload = Workload(accounts=3, transfers=10, batch_size=4, seed=7)
    batches = list(workload.batches())
    assert [len(b) for b in batches] == [4, 4, 2]
    assert batches == list(Workload(3, 10, 4, 7).batches())
    flat = [t for b in batches for t in b]
    assert len({t.id for t in flat}) == 10
    assert all(t.debit_account_id != t.credit_account_id for t in flat)
    assert all(1 <= t.debit_account_id <= 3 and 1 <= t.credit_account_id <= 3 for t in flat)
    # The same seed gives the same transfers whatever the batch size (the naive run's
    # transfers are the first of the engine's).
    assert flat == [t for b in Workload(3, 10, 3, 7).batches() for t in b]
    with pytest.raises(ValueError):
        Workload(accounts=1, transfers=1, batch_size=1, seed=0)
    with pytest.raises(ValueError):
        Workload(accounts=2, transfers=1, batch_size=8190, seed=0)


def test_defaults_scale_down_for_small_batches() -> None:
    assert default_transfers(8189) == 100_000
    assert default_transfers(1) == default_transfers(100) == 20_000
    assert clients_for(8189, 64) == 1 and clients_for(1, 64) == clients_for(100, 64) == 64


def test_latency_percentiles_within_one_percent() -> None:
    histogram = LatencyHistogram()
    for ms in range(1, 101):
        histogram.record(ms / 1000)
    assert histogram.count == 100
    assert histogram.quantile_ms(0.5) == pytest.approx(50, rel=0.01)
    assert histogram.quantile_ms(0.99) == pytest.approx(99, rel=0.01)
    assert LatencyHistogram().quantile_ms(0.5) == 0.0


def test_naive_ledger_refuses_what_exceeds_the_wallet_and_keeps_the_id_failed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'naive.db'}"
    workload = Workload(accounts=2, transfers=0, batch_size=1, seed=0)
    with Ledger(open_store(url)) as ledger:
        set_up_wallets(ledger, workload)  # the same setup the benchmark runs
    naive = open_naive(url)
    try:
        too_much = Transfer(99, 1, 2, WALLET_FUNDING + 1, ASSET, CODE)
        assert naive.create_transfer(too_much) is CreateTransferStatus.EXCEEDS_CREDITS
        assert naive.create_transfer(too_much) is CreateTransferStatus.ID_ALREADY_FAILED
        fine = Transfer(100, 1, 2, 5, ASSET, CODE)
        assert naive.create_transfer(fine) is CreateTransferStatus.CREATED
        assert naive.create_transfer(fine) is CreateTransferStatus.EXISTS
        missing = Transfer(101, 1, 77, 5, ASSET, CODE)
        assert naive.create_transfer(missing) is CreateTransferStatus.CREDIT_ACCOUNT_NOT_FOUND
    finally:
        naive.close()
    store = open_store(url)
    try:
        assert list(store.check()) == []
        balances = {a.id: a for a in store.lookup_accounts([1, 2])}
        assert balances[1].debits_posted == 5 and balances[2].credits_posted == WALLET_FUNDING + 5
    finally:
        store.close()
