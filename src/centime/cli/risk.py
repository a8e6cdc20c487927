"""``centime risk ...``: simulated events, training, backtesting (docs/risk.md), and the
label store (docs/risk-operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import DatabaseUrl, configured

if TYPE_CHECKING:
    from centime.risk.train import Dataset

__all__ = ["risk_app"]

risk_app = typer.Typer(
    help="The risk engine: simulated events, training, backtests.", no_args_is_help=True
)


WarmUpDays = typer.Option(
    30,
    "--warm-up-days",
    min=0,
    max=3650,
    help="The shipped model's legitimate flags are also shown from this day of the file on"
    " (after the cold start: every card new on day 0).",
)


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
    typer.echo(
        f"model {model.version}: {model.info['trees']} trees on {model.info['rows']:,} rows"
        f" ({model.info['positives']:,} fraud), {size:,} bytes, in {out}"
    )


@risk_app.command("backtest")
def risk_backtest(
    file_name: str = typer.Argument(..., metavar="FILE.csv", help="Labelled CSV."),
    out_dir: str = typer.Option("backtest", "--out", help="Where the plots and report go."),
    train_days: int = typer.Option(35, min=2, max=3650, help="Days trained on per window."),
    validation_days: int = typer.Option(
        7, min=1, max=365, help="The end of the training days, for early stopping."
    ),
    test_days: int = typer.Option(14, min=1, max=365, help="Days tested per window (slide)."),
    label_delay_days: float = typer.Option(
        7.0, min=0.0, max=365.0, help="Days after its event that a label is known."
    ),
    model_dir: str | None = typer.Option(
        None, "--model", help="The model to report without retraining (default: the shipped one)."
    ),
    warm_up_days: int = WarmUpDays,
) -> None:
    """The field's protocol on FILE: rolling windows (train, wait the label delay, test,
    slide), labels fed back as they arrive; prints PR-AUC, ROC-AUC, card precision@100 per
    day, recall and precision at 0.5/1/2% alert rates, per typology; then the shipped
    model's flags on the same rows (also per 7 days and after the warm-up); writes PNG
    plots and report.html to OUT."""
    from centime.risk.backtest import BacktestConfig, backtest, write_report
    from centime.risk.simulate import CsvError, read_csv

    if validation_days >= train_days:
        typer.echo("error: --validation-days must be fewer than --train-days", err=True)
        raise typer.Exit(1)
    config = BacktestConfig(
        label_delay_s=int(label_delay_days * 86_400),
        train_days=train_days,
        validation_days=validation_days,
        test_days=test_days,
    )
    file, out = Path(file_name), Path(out_dir)
    try:
        result = backtest(read_csv(file), config)
        shipped = _shipped_figures(result.data, model_dir, warm_up_days)
    except (CsvError, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    for line in result.lines() + shipped:
        typer.echo(line)
    report = write_report(result, out, title=f"Backtest of {file.name}", extra=shipped)
    typer.echo(f"report: {report}")


@risk_app.command("score")
def risk_score(
    file_name: str = typer.Argument(..., metavar="FILE.csv", help="Labelled CSV."),
    model_dir: str | None = typer.Option(
        None, "--model", help="The model directory (default: the shipped one)."
    ),
    label_delay_days: float = typer.Option(
        7.0, min=0.0, max=365.0, help="Days after its event that a label is known."
    ),
    warm_up_days: int = WarmUpDays,
) -> None:
    """The model as trained (no retraining) and its policy on FILE: the share of legitimate
    rows it flags (review or block) and blocks, overall, per 7 days from the first row and
    after the warm-up; the fraud it flags, PR-AUC and ROC-AUC."""
    from centime.risk.simulate import CsvError, read_csv
    from centime.risk.train import build_rows

    try:
        events = sorted(read_csv(Path(file_name)), key=lambda e: e.event.timestamp_ns)
        data = build_rows(events, int(label_delay_days * 86_400))
        lines = _shipped_figures(data, model_dir, warm_up_days)
    except (CsvError, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


def _shipped_figures(data: Dataset, model_dir: str | None, warm_up_days: int) -> list[str]:
    from centime.risk.model import DEFAULT_MODEL_DIR, load_model
    from centime.risk.shipped import score_dataset

    model = load_model(Path(model_dir) if model_dir else DEFAULT_MODEL_DIR)
    if model is None:
        raise ValueError("the model does not load (see the warning above)")
    return score_dataset(data, model, warm_up_days).lines()


@risk_app.command("label")
def risk_label(
    file_name: str = typer.Argument(..., metavar="FILE.csv", help="Labelled CSV."),
    source: str = typer.Option("import", help="chargeback, dispute or import."),
    database_url: str = DatabaseUrl,
) -> None:
    """Import labels into the label store: every row of FILE (the labelled-events format:
    timestamp, type, amount, asset, payer, payee, label; optional ``arrived``, the time the
    label became known, default now; optional ``id``, default a digest of the row), fraud
    for label 1, not_fraud for 0. Idempotent: a row imported twice is stored once. A server
    counts them in its features from its next start (POST /v1/risk/labels: at once)."""
    from centime.app import open_platform
    from centime.platform.errors import Refusal
    from centime.platform.review import import_labels

    with configured(), open_platform(database_url, "tool") as app:
        try:
            result = import_labels(app.platform, Path(file_name), source)
        except (ValueError, OSError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
    if isinstance(result, Refusal):
        typer.echo(f"error: {result.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{result.new:,} labels recorded, {result.duplicates:,} already there")


@risk_app.command("export-labels")
def risk_export_labels(
    out: str = typer.Option("-", "--out", help="The CSV file to write ('-': stdout)."),
    database_url: str = DatabaseUrl,
) -> None:
    """Write every case an analyst labelled, as the labelled-events CSV training and
    backtests read (timestamp,type,amount,asset,payer,payee,device,ip,instrument,label)."""
    import sys

    from centime.app import open_platform
    from centime.platform.review import export_labels

    with configured(), open_platform(database_url, "tool") as app:
        platform = app.platform
        if out == "-":
            count = export_labels(platform, sys.stdout)
        else:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = export_labels(platform, handle)
    typer.echo(f"{count} labelled events written", err=True)
