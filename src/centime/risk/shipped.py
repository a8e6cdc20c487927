"""How a trained model and its policy do on a labelled file, without retraining.

``centime risk score FILE.csv`` (and every ``centime risk backtest``, in the same run) pass
the file through the field features (labels arriving after the label delay, as in serving),
score every decided row with the model (default: the shipped one), apply its operating
points (the sidecar's policy: review and block thresholds), and report what share of the
LEGITIMATE rows it would flag (review or block) and of the fraud it would catch. The rules
file is not applied here: it reads the engine's other features, which need the online
replay (``tests/risk/test_typologies.py`` measures rules and model together).

The legitimate share is also given per 7-day period from the file's first decided row and
after a warm-up: a model started on an existing population sees every card as new on day 1
(a cold start), which the whole-file share hides (docs/risk.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score  # type: ignore[import-untyped]

from centime.clock import NS_PER_DAY, NS_PER_S
from centime.risk.model import Model
from centime.risk.train import Dataset

__all__ = [
    "PERIOD_DAYS",
    "WARM_UP_DAYS",
    "LegitCounts",
    "RowFlags",
    "ShippedFigures",
    "after_warm_up",
    "legit_by_period",
    "percent_text",
    "score_dataset",
]

PERIOD_DAYS = 7  # the cold start fades over weeks: one line per week of the file
WARM_UP_DAYS = 30  # the handbook file's flags fall from 4.17% (days 0-29) to 0.09% after


@dataclass(frozen=True, slots=True)
class LegitCounts:
    """The legitimate rows of days [first_day, first_day + days) after the file's first
    decided row, and those the policy flagged (review or block) and blocked."""

    first_day: int
    days: int
    legit: int
    flagged: int
    blocked: int


def percent_text(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with two decimals, rounded half up in integers
    (no float); "-" when there is nothing to divide."""
    if whole <= 0:
        return "-"
    hundredths = (part * 20_000 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


@dataclass(frozen=True, slots=True)
class RowFlags:
    """Per decided row: its time after the first row's, whether it is legitimate, and
    whether the policy flagged (review or block) and blocked it."""

    offsets_ns: npt.NDArray[np.int64]
    legit: npt.NDArray[np.bool_]
    flagged: npt.NDArray[np.bool_]
    blocked: npt.NDArray[np.bool_]

    def last_day(self) -> int:
        """The last row's day (0: the first row's), -1 without rows."""
        return int(self.offsets_ns.max()) // NS_PER_DAY if len(self.offsets_ns) else -1


def legit_by_period(rows: RowFlags, period_days: int = PERIOD_DAYS) -> list[LegitCounts]:
    """Per ``period_days`` from the first row, up to the last row's period, empty periods
    included; the last period's ``days`` stops at the last row's day."""
    if len(rows.offsets_ns) == 0:
        return []
    period = (rows.offsets_ns // (period_days * NS_PER_DAY)).astype(np.int64)
    periods = int(period.max()) + 1
    last_day = rows.last_day()

    def count(mask: npt.NDArray[np.bool_]) -> list[int]:
        counts: list[int] = np.bincount(period[mask], minlength=periods).tolist()
        return counts

    legit = rows.legit
    legits, flags, blocks = count(legit), count(legit & rows.flagged), count(legit & rows.blocked)
    return [
        LegitCounts(
            i * period_days,
            min(period_days, last_day + 1 - i * period_days),
            legits[i],
            flags[i],
            blocks[i],
        )
        for i in range(periods)
    ]


def after_warm_up(rows: RowFlags, warm_up_days: int = WARM_UP_DAYS) -> LegitCounts:
    """The rows from day ``warm_up_days`` on (``days`` 0 when the file ends before)."""
    warm = rows.legit & (rows.offsets_ns >= warm_up_days * NS_PER_DAY)
    return LegitCounts(
        warm_up_days,
        max(0, rows.last_day() + 1 - warm_up_days),
        int(warm.sum()),
        int((warm & rows.flagged).sum()),
        int((warm & rows.blocked).sum()),
    )


@dataclass(frozen=True, slots=True)
class ShippedFigures:
    version: str
    rows: int
    fraud: int
    review: int  # the policy's thresholds (calibrated scores)
    block: int
    legit_flagged: int  # legitimate rows at review or block
    legit_blocked: int
    fraud_flagged: int
    pr_auc: float
    roc_auc: float
    first_ns: int  # the first decided row's time, where the periods start
    periods: list[LegitCounts]
    warm: LegitCounts

    def lines(self) -> list[str]:
        legit = self.rows - self.fraud
        flagged = self.legit_flagged + self.fraud_flagged
        return [
            f"shipped model {self.version} (no retraining), policy review >= {self.review},"
            f" block >= {self.block}:",
            f"  legitimate rows flagged: {self.legit_flagged:,} of {legit:,}"
            f" ({percent_text(self.legit_flagged, legit)}), blocked {self.legit_blocked:,}"
            f" ({percent_text(self.legit_blocked, legit)})",
            f"  fraud rows flagged: {self.fraud_flagged:,} of {self.fraud:,}"
            f" ({percent_text(self.fraud_flagged, self.fraud)}); precision of the flags"
            f" {self.fraud_flagged / max(1, flagged):.3f}",
            f"  PR-AUC {self.pr_auc:.4f}, ROC-AUC {self.roc_auc:.4f}",
            *self.period_lines(),
        ]

    def period_lines(self) -> list[str]:
        """The legitimate rows flagged per period and after the warm-up: the cold start."""
        start = datetime.fromtimestamp(self.first_ns // NS_PER_S, UTC)
        out = [
            f"  legitimate rows flagged per {PERIOD_DAYS} days from the first row"
            f" ({start:%Y-%m-%d %H:%M:%S} UTC):"
        ]
        for p in self.periods:
            out.append(f"    days {p.first_day}-{p.first_day + p.days - 1}: {_counts_text(p)}")
        w = self.warm
        if w.days == 0:
            out.append(f"  after a {w.first_day}-day warm-up: no rows (the file ends before)")
        else:
            out.append(
                f"  after a {w.first_day}-day warm-up (day {w.first_day} onwards):"
                f" {_counts_text(w)}"
            )
        return out


def _counts_text(c: LegitCounts) -> str:
    return (
        f"{c.flagged:,} of {c.legit:,} ({percent_text(c.flagged, c.legit)}),"
        f" blocked {c.blocked:,} ({percent_text(c.blocked, c.legit)})"
    )


def score_dataset(data: Dataset, model: Model, warm_up_days: int = WARM_UP_DAYS) -> ShippedFigures:
    """``model`` and its policy on every row of ``data``."""
    if model.policy is None:
        raise ValueError(f"model {model.version} has no policy (operating points)")
    scores = np.array(model.scores(data.rows), dtype=np.int64)
    labels = data.labels.astype(bool)
    flagged = scores >= model.policy.review
    blocked = scores >= model.policy.block
    both = labels.any() and not labels.all()
    raw = model.probabilities(data.rows)
    first_ns = int(data.timestamps_ns.min()) if len(labels) else 0
    rows = RowFlags(data.timestamps_ns.astype(np.int64) - first_ns, ~labels, flagged, blocked)
    return ShippedFigures(
        version=model.version,
        rows=len(labels),
        fraud=int(labels.sum()),
        review=model.policy.review,
        block=model.policy.block,
        legit_flagged=int((flagged & ~labels).sum()),
        legit_blocked=int((blocked & ~labels).sum()),
        fraud_flagged=int((flagged & labels).sum()),
        pr_auc=float(average_precision_score(labels, raw)) if both else float("nan"),
        roc_auc=float(roc_auc_score(labels, raw)) if both else float("nan"),
        first_ns=first_ns,
        periods=legit_by_period(rows),
        warm=after_warm_up(rows, warm_up_days),
    )
