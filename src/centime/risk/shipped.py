"""How a trained model and its policy do on a labelled file, without retraining.

``centime risk score FILE.csv`` (and every ``centime risk backtest``, in the same run) pass
the file through the field features (labels arriving after the label delay, as in serving),
score every decided row with the model (default: the shipped one), apply its operating
points (the sidecar's policy: review and block thresholds), and report what share of the
LEGITIMATE rows it would flag (review or block) and of the fraud it would catch. The rules
file is not applied here: it reads the engine's other features, which need the online
replay (``tests/risk/test_typologies.py`` measures rules and model together).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score  # type: ignore[import-untyped]

from centime.risk.model import Model
from centime.risk.train import Dataset

__all__ = ["ShippedFigures", "score_dataset"]


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

    def lines(self) -> list[str]:
        legit = max(1, self.rows - self.fraud)
        fraud = max(1, self.fraud)
        flagged = self.legit_flagged + self.fraud_flagged
        return [
            f"shipped model {self.version} (no retraining), policy review >= {self.review},"
            f" block >= {self.block}:",
            f"  legitimate rows flagged: {self.legit_flagged:,} of {self.rows - self.fraud:,}"
            f" ({self.legit_flagged / legit:.2%}), blocked {self.legit_blocked:,}"
            f" ({self.legit_blocked / legit:.2%})",
            f"  fraud rows flagged: {self.fraud_flagged:,} of {self.fraud:,}"
            f" ({self.fraud_flagged / fraud:.2%}); precision of the flags"
            f" {self.fraud_flagged / max(1, flagged):.3f}",
            f"  PR-AUC {self.pr_auc:.4f}, ROC-AUC {self.roc_auc:.4f}",
        ]


def score_dataset(data: Dataset, model: Model) -> ShippedFigures:
    """``model`` and its policy on every row of ``data``."""
    if model.policy is None:
        raise ValueError(f"model {model.version} has no policy (operating points)")
    scores = np.array(model.scores(data.rows), dtype=np.int64)
    labels = data.labels.astype(bool)
    flagged = scores >= model.policy.review
    blocked = scores >= model.policy.block
    both = labels.any() and not labels.all()
    raw = model.probabilities(data.rows)
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
    )
