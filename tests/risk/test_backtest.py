"""Training and backtesting, also on a file the project did not generate (its own ids, an
asset it does not know, optional columns missing), through the command line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from centime.cli import app
from centime.risk.model import load_model
from centime.risk.simulate import TYPOLOGIES, SimConfig, read_csv, simulate, write_csv
from centime.risk.train import build_rows, train_to

S = 1_000_000_000
T0 = 1_735_689_600 * S  # 2025-01-01


def foreign_file(path: Path, seed: int = 4) -> int:
    """A labelled file in the documented format, made without the simulator: no device, ip
    or instrument columns, timestamps in nanoseconds, an unknown asset. Fraud: a burst of
    top-ups moved out at once to an account never paid before."""
    rng = random.Random(seed)
    rows: list[tuple[int, str, int, str, str, int]] = []
    users = [f"user-{i}" for i in range(80)]
    shops = [f"shop/{i}" for i in range(8)]
    for day in range(24):
        for user in users:
            for _ in range(rng.randint(0, 3)):
                t = T0 + day * 86_400 * S + rng.randrange(86_400 * S)
                rows.append((t, "payment", rng.randint(5, 500), user, rng.choice(shops), 0))
            if rng.random() < 0.1:
                t = T0 + day * 86_400 * S + rng.randrange(86_400 * S)
                rows.append((t, "topup", rng.choice((1_000, 2_000, 5_000)), user, user, 0))
        for _ in range(2):
            thief = f"user-{rng.randrange(80)}"
            t = T0 + day * 86_400 * S + rng.randrange(86_400 * S)
            total = 0
            for _ in range(rng.randint(3, 6)):
                t += rng.randrange(5, 60) * S
                amount = rng.randint(4_000, 9_000)
                total += amount
                rows.append((t, "topup", amount, thief, thief, 1))
            rows.append((t + 30 * S, "transfer", total, thief, f"drop-{day}-{t % 97}", 1))
    rows.sort()
    with path.open("w") as f:
        f.write("timestamp,type,amount,asset,payer,payee,label\n")
        for t, kind, amount, payer, payee, label in rows:
            f.write(f"{t},{kind},{amount},PTS,{payer},{payee},{label}\n")
    return len(rows)


def test_backtest_on_a_foreign_file_through_the_command(tmp_path: Path) -> None:
    path = tmp_path / "foreign.csv"
    foreign_file(path)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "backtest",
            str(path),
            "--out",
            str(out),
            "--label-delay-days",
            "2",
            "--train-days",
            "10",
            "--validation-days",
            "3",
            "--test-days",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = dict(
        line.split(": ", 1)
        for line in result.output.splitlines()
        if line.startswith(("PR-AUC", "ROC-AUC", "card precision"))
    )
    assert float(figures["PR-AUC"]) > 0.6 and float(figures["ROC-AUC"]) > 0.9
    assert "card precision@100 per day" in figures
    assert "3 windows" in result.output  # days 12-16, 16-20, 20-24
    assert "alert 0.5%" in result.output and "alert 2.0%" in result.output
    assert "legitimate rows flagged" in result.output  # the shipped model, same run
    assert "    days 21-" in result.output  # per 7 days: its 24 days end in days 21-22 or 21-23
    assert "after a 30-day warm-up: no rows (the file ends before)" in result.output
    for name in ("pr_curve.png", "score_distributions.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "PR-AUC" in page and 'src="pr_curve.png"' in page


def test_backtest_refuses_a_file_it_cannot_measure(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,type,amount,asset,payer,payee\n1,payment,5,USD,a,b\n")
    result = CliRunner().invoke(app, ["risk", "backtest", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "error:" in result.output
    result = CliRunner().invoke(app, ["risk", "backtest", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "error:" in result.output


def test_training_writes_a_model_that_loads_and_ranks_fraud_higher(tmp_path: Path) -> None:
    config = SimConfig(
        customers=150,
        merchants=10,
        days=4,
        seed=31,
        fraud_per_day_per_k={name: 12.0 for name in TYPOLOGIES},
    )
    events = simulate(config)
    csv_path = tmp_path / "events.csv"
    write_csv(events, csv_path)
    result = CliRunner().invoke(
        app, ["risk", "train", str(csv_path), "--out", str(tmp_path / "model"), "--version", "t-1"]
    )
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "model")
    assert model is not None and model.version == "t-1"
    sidecar = json.loads((tmp_path / "model" / "model.json").read_text())
    assert sidecar["trained_on"] == "events.csv" and len(sidecar["model_sha256"]) == 64
    fresh = simulate(
        SimConfig(
            customers=150,
            merchants=10,
            days=4,
            seed=32,
            fraud_per_day_per_k={name: 12.0 for name in TYPOLOGIES},
        )
    )
    data = build_rows(fresh)
    scores = np.array(model.probabilities(data.rows))
    assert scores[data.labels == 1].mean() > 5 * scores[data.labels == 0].mean()
    assert list(read_csv(csv_path)) == events
    again = train_to(events, tmp_path / "again", version="t-1")  # deterministic
    assert (tmp_path / "again" / "model.txt").read_text() == (
        tmp_path / "model" / "model.txt"
    ).read_text()
    assert again.version == "t-1"
