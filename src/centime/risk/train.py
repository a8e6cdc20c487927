"""Offline training: labelled events -> field feature rows -> a LightGBM model, calibrated.

The rows are the model's features (:mod:`centime.risk.field`), computed vectorised over the
time-sorted file with the same definitions the engine uses online, so a row holds only what
was known before its event. Fraud labels feed the label-feedback features from their ARRIVAL
time: ``label_delay_s`` after their event (chargebacks and analysts' decisions come days
later), never earlier. Outcomes (``topup_declined``) count in the features but are no rows:
they are never decided. The last ``calibration_share`` of the rows in time is held out:
early stopping watches its average precision (a ranking metric, which the class weight does
not distort), and the isotonic calibration to 0-99 is fitted on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]

from centime.clock import NS_PER_S
from centime.risk.field import FIELD_NAMES, columns_of, compute_matrix
from centime.risk.model import Model, load_model, save_model
from centime.risk.simulate import LabelledEvent

__all__ = [
    "DECIDED_TYPES",
    "LABEL_DELAY_S",
    "Dataset",
    "TrainConfig",
    "build_rows",
    "fit",
    "train_to",
]

log = logging.getLogger(__name__)

DECIDED_TYPES: Final = frozenset(
    {
        "signup",
        "topup",
        "topup_carrier",
        "payment",
        "transfer",
        "payout",
        "payout_instant",
        "payout_method_change",
    }
)
CALIBRATION_POINTS_MAX: Final = 200  # stored in the sidecar; isotonic steps beyond are merged
LABEL_DELAY_S: Final = 7 * 86_400  # a fraud label is known a week after its event (default)


@dataclass(frozen=True, slots=True)
class Dataset:
    rows: npt.NDArray[np.float64]  # one per decided event
    labels: npt.NDArray[np.int8]
    timestamps_ns: npt.NDArray[np.int64]
    typologies: list[str]
    types: list[str]
    payers: list[str]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    rounds_max: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    calibration_share: float = 0.2
    early_stopping_rounds: int = 40
    seed: int = 1
    threads: int = 1
    legit_flag_rate_max: float = 0.01  # the model flags at most this share of legit traffic
    block_precision_min: float = 0.5  # and blocks only where this share was fraud
    block_rows_min: int = 5  # ... among at least this many validation rows


def build_rows(events: Iterable[LabelledEvent], label_delay_s: int = LABEL_DELAY_S) -> Dataset:
    """The field features of ``events`` (in time order), each fraud label arriving
    ``label_delay_s`` after its event; rows only for the decided events."""
    events = list(events)
    plain = [e.event for e in events]
    cols = columns_of(plain)
    labels = np.fromiter((e.label for e in events), dtype=np.int8, count=len(events))
    arrivals = np.where(labels == 1, cols.timestamps_ns + label_delay_s * NS_PER_S, -1)
    matrix = compute_matrix(cols, arrivals.astype(np.int64))
    decided = np.fromiter((t in DECIDED_TYPES for t in cols.types), dtype=bool, count=len(events))
    idx = np.flatnonzero(decided)
    return Dataset(
        matrix[idx],
        labels[idx],
        cols.timestamps_ns[idx],
        [events[i].typology for i in idx],
        [cols.types[i] for i in idx],
        [cols.payers[i] for i in idx],
    )


def _params(config: TrainConfig, positives: int, negatives: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        # Fraud is rare: weigh positives up, but only part of the way (calibration fixes the
        # probabilities afterwards).
        "scale_pos_weight": max(1.0, (negatives / max(positives, 1)) ** 0.5),
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.threads,  # 1: deterministic, no OpenMP spinning when busy
        "metric": "average_precision",
        "verbose": -1,
    }


def fit(
    data: Dataset, config: TrainConfig | None = None
) -> tuple[lgb.Booster, tuple[list[float], list[float]], dict[str, Any]]:
    """Train on the earlier rows, stop early and calibrate on the later ones."""
    config = config or TrainConfig()
    n = len(data.labels)
    if n < 50 or int(data.labels.sum()) < 5:
        raise ValueError(f"too little to train on: {n} rows, {int(data.labels.sum())} positive")
    cut = int(n * (1 - config.calibration_share))
    x_fit, y_fit = data.rows[:cut], data.labels[:cut]
    x_cal, y_cal = data.rows[cut:], data.labels[cut:]
    positives = int(y_fit.sum())
    params = _params(config, positives, len(y_fit) - positives)
    train_set = lgb.Dataset(x_fit, y_fit, feature_name=list(FIELD_NAMES), free_raw_data=True)
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if int(y_cal.sum()) > 0:
        valid_sets = [lgb.Dataset(x_cal, y_cal, reference=train_set)]
        callbacks.append(lgb.early_stopping(config.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.rounds_max,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    if booster.best_iteration > 0:
        # Keep only the trees that helped: a smaller file and a faster prediction.
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    raw = np.asarray(booster.predict(x_cal if len(y_cal) else x_fit, num_threads=1))
    target = y_cal if len(y_cal) else y_fit
    calibration = _calibration(raw, target)
    info: dict[str, Any] = {
        "policy": choose_policy(raw, target, calibration, config),
        "rows": n,
        "positives": int(data.labels.sum()),
        "trees": booster.num_trees(),
        "params": {k: v for k, v in params.items() if k != "verbose"},
    }
    return booster, calibration, info


def choose_policy(
    raw: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int8],
    calibration: tuple[list[float], list[float]],
    config: TrainConfig,
) -> dict[str, float]:
    """Operating points from the validation window: review at the lowest calibrated score
    that flags at most ``legit_flag_rate_max`` of its LEGITIMATE rows (the false alarms a
    team can afford, whatever the fraud rate); block at the lowest score at or above it and
    at or above ``100 * block_precision_min`` whose rows were at least
    ``block_precision_min`` fraud (100: never)."""
    scores = np.minimum(99, (100 * np.interp(raw, calibration[0], calibration[1])).astype(np.int64))
    legit = labels == 0
    n_legit = max(int(legit.sum()), 1)
    at_least = np.array([int((scores >= s).sum()) for s in range(101)])
    frauds = np.array([int(labels[scores >= s].sum()) for s in range(101)])
    false_alarms = at_least - frauds
    budget = config.legit_flag_rate_max
    review = next(s for s in range(1, 101) if false_alarms[s] / n_legit <= budget)
    # A calibrated score is the share of fraud among the rows scored like it: blocking starts
    # where that share reaches the precision asked for, and where the rows at or above did.
    lowest = max(review, int(np.ceil(100 * config.block_precision_min)))
    block = next(
        (
            s
            for s in range(lowest, 100)
            if at_least[s] >= config.block_rows_min
            and frauds[s] / at_least[s] >= config.block_precision_min
        ),
        100,
    )
    return {
        "review": review,
        "block": block,
        "review_rate": float(at_least[review] / max(len(scores), 1)),
        "legit_flag_rate": float(false_alarms[review] / n_legit),
        "block_precision": float(frauds[block] / at_least[block]) if at_least[block] else 0.0,
    }


def _calibration(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.int8]
) -> tuple[list[float], list[float]]:
    """Isotonic regression of the label on the raw probability, as (x, y) points."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(raw, labels.astype(np.float64))
    x = np.asarray(iso.X_thresholds_, dtype=np.float64)
    y = np.asarray(iso.y_thresholds_, dtype=np.float64)
    if len(x) > CALIBRATION_POINTS_MAX:
        keep = np.unique(np.linspace(0, len(x) - 1, CALIBRATION_POINTS_MAX).astype(int))
        x, y = x[keep], y[keep]
    if len(x) < 2:  # one point: a flat calibration over [0, 1]
        value = float(y[0]) if len(y) else 0.0
        return [0.0, 1.0], [value, value]
    # Beyond the calibration data, the ends extend flat (np.interp clips the same way).
    return [0.0, *x.tolist(), 1.0], [float(y[0]), *y.tolist(), float(y[-1])]


def train_to(
    events: Iterable[LabelledEvent],
    out: Path,
    *,
    version: str | None = None,
    config: TrainConfig | None = None,
    source: str = "",
) -> Model:
    """Train on ``events`` and write the model to ``out``; the loaded result."""
    data = build_rows(events)
    booster, calibration, info = fit(data, config)
    version = version or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    info["trained_on"] = source
    save_model(out, booster, version, calibration, info)
    model = load_model(out)
    if model is None:
        raise RuntimeError(f"the model just written to {out} does not load")
    return model
