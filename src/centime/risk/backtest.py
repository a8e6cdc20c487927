"""Backtesting: replay a labelled transaction file in time order, train on its earlier part,
score its later part, and report how well the scores rank fraud.

Every event passes once, in time order, through the same online features as in production.
The file's time span is cut at ``train_share``; a model is trained on the rows before the cut
whose labels had arrived by then (a label arrives ``label_delay_s`` after its event, as
chargebacks and reports do), and the rows after the cut are scored. Reported: PR-AUC
(average precision), ROC-AUC, and recall and precision when the top 0.5% and 1% of scores are
sent to review; per typology, the recall at 1% when the file names typologies.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (  # type: ignore[import-untyped]
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from centime.risk.model import Model
from centime.risk.simulate import LabelledEvent
from centime.risk.train import Dataset, TrainConfig, build_rows, fit

__all__ = ["BacktestConfig", "BacktestResult", "backtest", "write_report"]

REVIEW_RATES: Final = (0.005, 0.01)
NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    train_share: float = 0.5  # of the file's time span
    label_delay_s: int = 7 * 86_400
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True, slots=True)
class AtRate:
    rate: float
    reviewed: int
    recall: float
    precision: float


@dataclass(slots=True)
class BacktestResult:
    events: int
    rows_train: int
    positives_train: int
    rows_test: int
    positives_test: int
    pr_auc: float
    roc_auc: float
    at_rates: list[AtRate]
    recall_by_typology: dict[str, tuple[int, float]]  # typology -> (positives, recall at 1%)
    scores: npt.NDArray[np.float64]  # test rows' raw probabilities
    labels: npt.NDArray[np.int8]
    model: Model | None = None

    def lines(self) -> list[str]:
        out = [
            f"events replayed: {self.events:,}",
            f"train rows: {self.rows_train:,} ({self.positives_train:,} fraud)",
            f"test rows: {self.rows_test:,} ({self.positives_test:,} fraud)",
            f"PR-AUC: {self.pr_auc:.4f}",
            f"ROC-AUC: {self.roc_auc:.4f}",
        ]
        for r in self.at_rates:
            out.append(f"review {r.rate:.1%} ({r.reviewed:,} rows): recall {r.recall:.3f},"
                       f" precision {r.precision:.3f}")
        for name, (n, recall) in sorted(self.recall_by_typology.items()):
            out.append(f"  {name}: {n} fraud rows, recall at 1% review {recall:.3f}")
        return out


def _at_rate(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int8],
             rate: float) -> tuple[AtRate, npt.NDArray[np.bool_]]:
    k = max(1, math.ceil(rate * len(scores)))
    order = np.argsort(-scores, kind="stable")
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[order[:k]] = True
    hits = int(labels[flagged].sum())
    positives = int(labels.sum())
    return AtRate(rate, k, hits / positives if positives else 0.0, hits / k), flagged


def _subset(data: Dataset, mask: npt.NDArray[np.bool_]) -> Dataset:
    idx = np.flatnonzero(mask)
    return Dataset(data.rows[idx], data.labels[idx], data.timestamps_ns[idx],
                   [data.typologies[i] for i in idx], [data.types[i] for i in idx])


def backtest(events: Iterable[LabelledEvent], config: BacktestConfig | None = None) -> BacktestResult:  # noqa: E501
    config = config or BacktestConfig()
    events = list(events)
    events.sort(key=lambda e: e.event.timestamp_ns)  # stable: file order breaks ties
    if not events:
        raise ValueError("the file holds no events")
    data = build_rows(events)
    if len(data.labels) == 0:
        raise ValueError("the file holds no event that is decided (only outcomes)")
    t0, t1 = int(data.timestamps_ns[0]), int(data.timestamps_ns[-1])
    cut = t0 + int((t1 - t0) * config.train_share)
    known_by = cut - config.label_delay_s * NS_PER_S
    train = _subset(data, data.timestamps_ns < known_by)
    test = _subset(data, data.timestamps_ns >= cut)
    if len(test.labels) == 0 or test.labels.sum() == 0 or test.labels.sum() == len(test.labels):
        raise ValueError("the later part holds no fraud, or only fraud: nothing to measure")
    booster, calibration, info = fit(train, config.train)
    model = Model(booster, "backtest", tuple(), np.array(calibration[0]),
                  np.array(calibration[1]), info)
    scores = model.probabilities(test.rows)
    labels = test.labels
    at_rates = []
    flagged_at_1 = np.zeros(len(scores), dtype=bool)
    for rate in REVIEW_RATES:
        at, flagged = _at_rate(scores, labels, rate)
        at_rates.append(at)
        if rate == 0.01:
            flagged_at_1 = flagged
    by_typology: dict[str, tuple[int, float]] = {}
    for name in sorted({t for t in test.typologies if t}):
        mask = np.array([t == name for t in test.typologies]) & (labels == 1)
        n = int(mask.sum())
        if n:
            by_typology[name] = (n, float((flagged_at_1 & mask).sum()) / n)
    return BacktestResult(
        events=len(events),
        rows_train=len(train.labels),
        positives_train=int(train.labels.sum()),
        rows_test=len(labels),
        positives_test=int(labels.sum()),
        pr_auc=float(average_precision_score(labels, scores)),
        roc_auc=float(roc_auc_score(labels, scores)),
        at_rates=at_rates,
        recall_by_typology=by_typology,
        scores=scores,
        labels=labels,
        model=model,
    )


def write_report(result: BacktestResult, out: Path, *, title: str = "Backtest") -> Path:
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
    ax.hist(result.scores[result.labels == 0], bins=bins, alpha=0.6, label="legitimate",
            color="#4a9a4a", log=True)
    ax.hist(result.scores[result.labels == 1], bins=bins, alpha=0.6, label="fraud",
            color="#c0392b", log=True)
    ax.set_xlabel("model probability")
    ax.set_ylabel("rows (log scale)")
    ax.set_title("Score distributions on the test part")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "score_distributions.png")
    plt.close(fig)

    items = "\n".join(f"<li>{html.escape(line)}</li>" for line in result.lines())
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
