"""``centime risk ...``: simulated events, training and backtesting (docs/risk.md)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["risk_app"]

risk_app = typer.Typer(help="The risk engine: simulated events, training, backtests.",
                       no_args_is_help=True)


@risk_app.command("events")
def risk_events(
    out: str = typer.Option(..., "--out", help="The CSV file to write (docs/risk.md)."),
    customers: int = typer.Option(2_000, min=10, max=1_000_000, help="Customers simulated."),
    merchants: int = typer.Option(60, min=5, max=100_000, help="Merchants simulated."),
    days: int = typer.Option(30, min=1, max=366, help="Days of traffic."),
    seed: int = typer.Option(1, help="The seed: the same seed writes the same file."),
) -> None:
    """Write the simulator's labelled events (population and fraud typologies) as CSV,
    without a platform: for training and backtests (`centime simulate` drives the platform)."""
    from centime.risk.simulate import SimConfig, simulate, write_csv

    events = simulate(SimConfig(customers=customers, merchants=merchants, days=days, seed=seed))
    rows = write_csv(events, Path(out))
    fraud = sum(e.label for e in events)
    typer.echo(f"wrote {rows:,} events ({fraud:,} labelled fraud) to {out}")


@risk_app.command("train")
def risk_train(
    events_file: str = typer.Argument(..., metavar="EVENTS.csv", help="Labelled CSV."),
    out_dir: str = typer.Option(..., "--out", help="The model directory to write."),
    version: str | None = typer.Option(None, help="The model's version (default: the time)."),
) -> None:
    """Train the LightGBM model on a labelled transaction file, replayed through the online
    features; writes model.txt and model.json (version, features, calibration) to OUT."""
    from centime.risk.simulate import CsvError, read_csv
    from centime.risk.train import train_to

    events, out = Path(events_file), Path(out_dir)
    try:
        labelled = sorted(read_csv(events), key=lambda e: e.event.timestamp_ns)
        model = train_to(labelled, out, version=version, source=events.name)
    except (CsvError, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    size = (out / "model.txt").stat().st_size
    typer.echo(f"model {model.version}: {model.info['trees']} trees on {model.info['rows']:,} rows"
               f" ({model.info['positives']:,} fraud), {size:,} bytes, in {out}")


@risk_app.command("backtest")
def risk_backtest(
    file_name: str = typer.Argument(..., metavar="FILE.csv", help="Labelled CSV."),
    out_dir: str = typer.Option("backtest", "--out", help="Where the plots and report go."),
    train_share: float = typer.Option(0.5, min=0.05, max=0.95,
                                      help="Share of the file's time span trained on."),
    label_delay_days: float = typer.Option(7.0, min=0.0, max=365.0,
                                           help="Days after its event that a label is known."),
) -> None:
    """Replay FILE in time order through the online features, train on the first part (labels
    known by then), score the later part; print PR-AUC, ROC-AUC, recall and precision at 0.5%
    and 1% review rates; write PNG plots and report.html to OUT."""
    from centime.risk.backtest import BacktestConfig, backtest, write_report
    from centime.risk.simulate import CsvError, read_csv

    config = BacktestConfig(train_share=train_share,
                            label_delay_s=int(label_delay_days * 86_400))
    file, out = Path(file_name), Path(out_dir)
    try:
        result = backtest(read_csv(file), config)
    except (CsvError, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    for line in result.lines():
        typer.echo(line)
    report = write_report(result, out, title=f"Backtest of {file.name}")
    typer.echo(f"report: {report}")


def bench_risk(
    runs: int = typer.Option(5, min=1, max=100, help="Runs of each measurement; medians."),
    decisions: int = typer.Option(2_000, min=100, max=1_000_000, help="Decisions per run."),
    threads: int = typer.Option(4, min=1, max=64, help="Threads for the lock measurement."),
    seed: int = typer.Option(3, help="Seed of the simulated traffic."),
) -> None:
    """Risk decisions in process with the shipped model and rules: decisions/s and p50/p99
    per decision, the features-only and model-only parts, batches of 8189 (decide_many),
    several threads sharing one engine, and the raw Booster against the sklearn wrapper."""
    from centime.bench.risk import RiskBenchConfig, run_risk_bench

    result = run_risk_bench(RiskBenchConfig(runs, decisions, threads, seed),
                            progress=lambda line: typer.echo(line, err=True))
    for line in result.lines():
        typer.echo(line)
