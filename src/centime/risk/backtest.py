"""Backtesting the way the field does it: rolling windows, a label delay, prequential labels.

The whole file passes once through the vectorised field features (:mod:`centime.risk.field`),
each fraud label arriving ``label_delay_s`` after its event, so every row sees the labels
known at its decision, including those of earlier test windows (prequential feedback). Then,
window after window: train on ``train_days`` of rows (its last ``validation_days`` held out
for early stopping on average precision), wait the label delay (a training row's label must
have arrived before the test starts), score the next ``test_days``, slide by ``test_days``.
The test part is never used to stop, tune or calibrate.

Reported on all test rows together: PR-AUC (average precision), ROC-AUC, card precision@k
per day (per day, the k payers with the highest score, the share of them with a fraud that
day: what a team of analysts checking k cards a day finds), recall and precision at fixed
alert rates, recall per typology; and per window its PR-AUC.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.metrics import (  # type: ignore[import-untyped]
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from centime.clock import NS_PER_DAY, NS_PER_S
from centime.risk.field import FIELD_NAMES
from centime.risk.simulate import LabelledEvent
from centime.risk.train import Dataset, TrainConfig, _params, build_rows

__all__ = ["BacktestConfig", "BacktestResult", "backtest", "write_report"]

ALERT_RATES: Final = (0.005, 0.01, 0.02)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    label_delay_s: int = 7 * 86_400
    train_days: int = 35
    validation_days: int = 7  # the end of each training window, for early stopping
    test_days: int = 14
    negatives_share: float = 0.25  # of the legitimate training rows kept (all fraud kept)
    card_k: int = 100  # card precision@k per day
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True, slots=True)
class AtRate:
    rate: float
    reviewed: int
    recall: float
    precision: float


@dataclass(frozen=True, slots=True)
class Window:
    test_start_ns: int
    rows_train: int
    positives_train: int
    rows_test: int
    positives_test: int
    trees: int
    pr_auc: float


@dataclass(slots=True)
class BacktestResult:
    events: int
    windows: list[Window]
    pr_auc: float
    roc_auc: float
    card_precision: float
    card_k: int
    at_rates: list[AtRate]
    recall_by_typology: dict[str, tuple[int, float]]  # typology -> (positives, recall at 1%)
    scores: npt.NDArray[np.float64]  # test rows' raw probabilities
    labels: npt.NDArray[np.int8]
    data: Dataset
    config: BacktestConfig = field(default_factory=BacktestConfig)

    def lines(self) -> list[str]:
        c = self.config
        rows = sum(w.rows_test for w in self.windows)
        fraud = sum(w.positives_test for w in self.windows)
        out = [
            f"events replayed: {self.events:,}",
            f"protocol: train {c.train_days} d (last {c.validation_days} d for early stopping),"
            f" label delay {c.label_delay_s / 86_400:g} d, test {c.test_days} d, slide"
            f" {c.test_days} d: {len(self.windows)} windows",
            f"test rows: {rows:,} ({fraud:,} fraud)",
            f"PR-AUC: {self.pr_auc:.4f}",
            f"ROC-AUC: {self.roc_auc:.4f}",
            f"card precision@{self.card_k} per day: {self.card_precision:.4f}",
        ]
        for r in self.at_rates:
            out.append(
                f"alert {r.rate:.1%} ({r.reviewed:,} rows): recall {r.recall:.3f},"
                f" precision {r.precision:.3f}"
            )
        for name, (n, recall) in sorted(self.recall_by_typology.items()):
            out.append(f"  {name}: {n} fraud rows, recall at 1% alerts {recall:.3f}")
        per_window = ", ".join(f"{w.pr_auc:.3f}" for w in self.windows)
        out.append(f"PR-AUC per window: {per_window}")
        return out


def _at_rate(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int8], rate: float
) -> tuple[AtRate, npt.NDArray[np.bool_]]:
    k = max(1, math.ceil(rate * len(scores)))
    order = np.argsort(-scores, kind="stable")
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[order[:k]] = True
    hits = int(labels[flagged].sum())
    positives = int(labels.sum())
    return AtRate(rate, k, hits / positives if positives else 0.0, hits / k), flagged


def card_precision_at_k(
    scores: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int8],
    days: npt.NDArray[np.int64],
    payers: list[str],
    k: int,
) -> float:
    """Mean over days of: among the k payers with the highest score that day (a payer's
    score is its highest), the share that had a fraud that day."""
    codes = np.unique(np.array(payers, dtype=object), return_inverse=True)[1].astype(np.int64)
    precisions = []
    for day in np.unique(days).tolist():
        sel = np.flatnonzero(days == day)
        card = codes[sel]
        best = np.full(int(card.max()) + 1, -np.inf)
        np.maximum.at(best, card, scores[sel])
        fraud = np.zeros(len(best), dtype=bool)
        fraud[card[labels[sel] == 1]] = True
        present = np.flatnonzero(best > -np.inf)
        top = present[np.argsort(-best[present], kind="stable")[:k]]
        precisions.append(float(fraud[top].mean()) if len(top) else 0.0)
    return float(np.mean(precisions)) if precisions else 0.0


def _fit_window(
    data: Dataset,
    train: npt.NDArray[np.bool_],
    valid: npt.NDArray[np.bool_],
    config: BacktestConfig,
    seed: int,
) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    keep = train & ((data.labels == 1) | (rng.random(len(data.labels)) < config.negatives_share))
    y = data.labels[keep]
    positives = int(y.sum())
    params = _params(config.train, positives, len(y) - positives)
    train_set = lgb.Dataset(data.rows[keep], y, feature_name=list(FIELD_NAMES))
    valid_sets = []
    callbacks: list[Callable[..., Any]] = []
    if int(data.labels[valid].sum()) > 0:
        valid_sets = [lgb.Dataset(data.rows[valid], data.labels[valid], reference=train_set)]
        callbacks.append(lgb.early_stopping(config.train.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.train.rounds_max,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    return booster


def backtest(
    events: Iterable[LabelledEvent], config: BacktestConfig | None = None
) -> BacktestResult:
    config = config or BacktestConfig()
    events = sorted(events, key=lambda e: e.event.timestamp_ns)  # stable: file order on ties
    if not events:
        raise ValueError("the file holds no events")
    data = build_rows(events, config.label_delay_s)
    if len(data.labels) == 0:
        raise ValueError("the file holds no event that is decided (only outcomes)")
    t = data.timestamps_ns
    t0, t1 = int(t[0]), int(t[-1])
    delay = config.label_delay_s * NS_PER_S
    start = t0 + config.train_days * NS_PER_DAY + delay
    if start >= t1:
        raise ValueError(
            f"the file spans {(t1 - t0) / NS_PER_DAY:.1f} days: too short for"
            f" {config.train_days} days of training and the label delay"
        )
    scores = np.full(len(t), np.nan)
    windows: list[Window] = []
    while start <= t1:
        end = start + config.test_days * NS_PER_DAY
        train_end = start - delay
        train_start = train_end - config.train_days * NS_PER_DAY
        valid_start = train_end - config.validation_days * NS_PER_DAY
        train = (t >= train_start) & (t < valid_start)
        valid = (t >= valid_start) & (t < train_end)
        test = (t >= start) & (t < end)
        if int(data.labels[train].sum()) >= 5 and test.any():
            booster = _fit_window(data, train, valid, config, len(windows) + config.train.seed)
            scores[test] = booster.predict(data.rows[test], num_threads=config.train.threads)
            y = data.labels[test]
            ap = float(average_precision_score(y, scores[test])) if y.any() else math.nan
            windows.append(
                Window(
                    start,
                    int(train.sum() + valid.sum()),
                    int(data.labels[train | valid].sum()),
                    int(test.sum()),
                    int(y.sum()),
                    booster.num_trees(),
                    ap,
                )
            )
        start = end
    return _result(events, data, scores, windows, config)


def _result(
    events: list[LabelledEvent],
    data: Dataset,
    all_scores: npt.NDArray[np.float64],
    windows: list[Window],
    config: BacktestConfig,
) -> BacktestResult:
    tested = np.flatnonzero(~np.isnan(all_scores))
    scores, labels = all_scores[tested], data.labels[tested]
    if len(labels) == 0 or labels.sum() == 0 or labels.sum() == len(labels):
        raise ValueError("the test windows hold no fraud, or only fraud: nothing to measure")
    at_rates = []
    flagged_at_1 = np.zeros(len(scores), dtype=bool)
    for rate in ALERT_RATES:
        at, flagged = _at_rate(scores, labels, rate)
        at_rates.append(at)
        if rate == 0.01:
            flagged_at_1 = flagged
    typologies = [data.typologies[i] for i in tested]
    by_typology: dict[str, tuple[int, float]] = {}
    for name in sorted({t for t in typologies if t}):
        mask = np.array([t == name for t in typologies]) & (labels == 1)
        n = int(mask.sum())
        if n:
            by_typology[name] = (n, float((flagged_at_1 & mask).sum()) / n)
    days = data.timestamps_ns[tested] // NS_PER_DAY
    payers = [data.payers[i] for i in tested]
    return BacktestResult(
        events=len(events),
        windows=windows,
        pr_auc=float(average_precision_score(labels, scores)),
        roc_auc=float(roc_auc_score(labels, scores)),
        card_precision=card_precision_at_k(scores, labels, days, payers, config.card_k),
        card_k=config.card_k,
        at_rates=at_rates,
        recall_by_typology=by_typology,
        scores=scores,
        labels=labels,
        data=data,
        config=config,
    )


def write_report(
    result: BacktestResult, out: Path, *, title: str = "Backtest", extra: list[str] | None = None
) -> Path:
    """PR curve and score distributions as PNG (matplotlib, Agg), and ``report.html``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    precision, recall, _ = precision_recall_curve(result.labels, result.scores)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.plot(recall, precision, color="#1f5fa8")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall (PR-AUC {result.pr_auc:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "pr_curve.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    bins = [i / 40 for i in range(41)]
    for label, name, color in ((0, "legitimate", "#4a9a4a"), (1, "fraud", "#c0392b")):
        scores = result.scores[result.labels == label]
        ax.hist(scores, bins=bins, alpha=0.6, label=name, color=color, log=True)
    ax.set_xlabel("model probability")
    ax.set_ylabel("rows (log scale)")
    ax.set_title("Score distributions on the test part")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "score_distributions.png")
    plt.close(fig)

    lines = result.lines() + (extra or [])
    items = "\n".join(f"<li>{html.escape(line)}</li>" for line in lines)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto}}
img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<ul>
{items}
</ul>
<h2>Precision and recall</h2><img src="pr_curve.png" alt="precision-recall curve">
<h2>Scores</h2><img src="score_distributions.png" alt="score distributions">
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
