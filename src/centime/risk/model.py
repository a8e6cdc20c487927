"""The risk model as served: LightGBM's raw Booster, a calibration to 0-99, readable reasons.

On disk a model is a directory of two files: ``model.txt`` (LightGBM's text format) and
``model.json`` (the sidecar: version, the model file's SHA-256, feature names in row order,
the calibration, how it was trained). :func:`load_model` answers ``None`` with a logged
warning when either is missing, unreadable, damaged, or made for other features: the engine
then decides on rules alone, never allowing everything.

The score: the Booster's probability mapped through the isotonic calibration fitted at
training (piecewise linear between the stored points, as scikit-learn's IsotonicRegression
predicts), times 100, truncated to an integer, at most 99. So a score of 70 means about 70%
of events scored like it were fraud in the calibration data.

Rows are scored by the model's trees evaluated natively (centime.risk.trees: the C extension
``centime.risk._trees``, the same raw scores, probabilities and leaves as the Booster bit for
bit, without its per-call overhead) when it is built and the model is one it implements;
otherwise by ``Booster.predict`` on a 2-D float64 array (a batch) or LightGBM's single-row C
API (one row), single-threaded: for one row, threads cost more than they save, and the API's
threads already use the cores.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from centime.risk.explain import PathExplainer
from centime.risk.field import FIELD_NAMES as FEATURE_NAMES
from centime.risk.single_row import SingleRow
from centime.risk.trees import Forest, native_forest

__all__ = ["DEFAULT_MODEL_DIR", "Model", "Policy", "load_default_model", "load_model", "save_model"]

log = logging.getLogger(__name__)

MODEL_FILE: Final = "model.txt"
SIDECAR_FILE: Final = "model.json"
REASONS_MAX: Final = 3  # model reasons per decision
SIDECAR_BYTES_MAX: Final = 1_000_000
MODEL_BYTES_MAX: Final = 50_000_000

Matrix = npt.NDArray[np.float64]


def _default_model_dir() -> Path:
    return Path(str(resources.files("centime.risk") / "data" / "model"))


DEFAULT_MODEL_DIR: Final = _default_model_dir()


@dataclass(frozen=True, slots=True)
class Policy:
    """The operating points chosen at training on the validation window (docs/risk.md):
    calibrated scores at or above which the model asks for review, and for a block."""

    review: int
    block: int
    review_rate: float  # the share of the validation window's rows at or above ``review``
    block_precision: float  # the share of fraud among its rows at or above ``block``

    def band(self, score: int) -> str:
        return "block" if score >= self.block else "review" if score >= self.review else "allow"


def _policy(sidecar: dict[str, Any]) -> Policy | None:
    raw = sidecar.get("policy")
    if raw is None:
        return None
    review, block = int(raw["review"]), int(raw["block"])
    if not 0 < review <= block <= 100:
        raise ValueError(f"its policy's thresholds are not 0 < review <= block <= 100: {raw}")
    return Policy(review, block, float(raw["review_rate"]), float(raw["block_precision"]))


@dataclass(frozen=True, slots=True)
class Model:
    booster: lgb.Booster
    version: str
    feature_names: tuple[str, ...]
    calibration_x: Matrix  # raw probabilities, increasing
    calibration_y: Matrix  # calibrated probabilities at those points
    info: dict[str, Any]
    policy: Policy | None = None
    # Path credits per leaf (centime.risk.explain) for the reasons; None: TreeSHAP (slow).
    explainer: PathExplainer | None = None
    # One row through LightGBM's single-row C API (centime.risk.single_row); None: predict.
    single: SingleRow | None = None
    # The trees evaluated natively (centime.risk.trees); None: the Booster (and ``single``).
    trees: Forest | None = None

    def on_booster(self) -> Model:
        """This model scored and explained through LightGBM's Booster alone (no native
        trees): what runs when the extension is not built (the bench's baseline, tests)."""
        single = self.single if self.single is not None else SingleRow(self.booster)
        return replace(self, single=single, trees=None, explainer=_explainer(self.booster, single))

    def probabilities(self, rows: Matrix) -> Matrix:
        """The Booster's uncalibrated probability for each row of a 2-D array."""
        if self.trees is not None:
            return self.trees.probabilities(rows)
        if len(rows) == 1 and self.single is not None:
            return np.array([self.single.probability(rows[0])], dtype=np.float64)
        return np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)

    def scores(self, rows: Matrix) -> list[int]:
        """Calibrated scores 0-99, one per row."""
        return self.calibrate(self.probabilities(rows))

    def calibrate(self, probabilities: Matrix) -> list[int]:
        """``min(99, max(0, int(p * 100)))`` of each calibrated probability, vectorised (the
        same doubles: one IEEE product, truncated toward zero); a NaN raises as int() would."""
        with np.errstate(over="ignore"):  # an overflow to inf raises just below
            calibrated = np.interp(probabilities, self.calibration_x, self.calibration_y) * 100
        if not np.isfinite(calibrated).all():  # int() of NaN or inf raises: fail closed
            raise ValueError("a calibrated probability is not finite")
        scores: list[int] = np.clip(np.trunc(calibrated), 0, 99).astype(np.int64).tolist()
        return scores

    def reasons(self, row: Matrix, limit: int = REASONS_MAX) -> tuple[str, ...]:
        """The features that pushed this row's score up most, as ``model:<feature>`` codes
        (only those that raised the score)."""
        return self.reasons_many(row, limit)[0]

    def reasons_many(self, rows: Matrix, limit: int = REASONS_MAX) -> list[tuple[str, ...]]:
        """:meth:`reasons` of each row of a 2-D array, in one call: the path credits of the
        explainer (centime.risk.explain) or, without one, LightGBM's TreeSHAP."""
        if self.explainer is not None:
            credits = self.explainer.credits(rows)
        else:
            contrib = np.asarray(self.booster.predict(rows, pred_contrib=True, num_threads=1))
            credits = contrib[:, :-1]  # the last column is the bias
        out = []
        for values in credits:
            top = np.argsort(values)[::-1][:limit]
            out.append(
                tuple(f"model:{self.feature_names[i]}" for i in top.tolist() if values[i] > 0)
            )
        return out


def save_model(
    directory: Path,
    booster: lgb.Booster,
    version: str,
    calibration: tuple[list[float], list[float]],
    info: dict[str, Any],
) -> None:
    """Write ``model.txt`` and ``model.json`` into ``directory`` (each replaced atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = booster.model_to_string()
    sidecar = {
        "version": version,
        "model_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "feature_names": list(FEATURE_NAMES),
        "calibration": {"x": calibration[0], "y": calibration[1]},
        **info,
    }
    tmp_model = directory / (MODEL_FILE + ".tmp")
    tmp_model.write_text(text)
    tmp_model.replace(directory / MODEL_FILE)
    tmp_sidecar = directory / (SIDECAR_FILE + ".tmp")
    tmp_sidecar.write_text(json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
    tmp_sidecar.replace(directory / SIDECAR_FILE)


def load_model(directory: Path) -> Model | None:
    """The model in ``directory``, or None with a warning logged saying why not."""
    try:
        sidecar_path = directory / SIDECAR_FILE
        model_path = directory / MODEL_FILE
        if sidecar_path.stat().st_size > SIDECAR_BYTES_MAX:
            raise ValueError(f"{sidecar_path} is larger than {SIDECAR_BYTES_MAX} bytes")
        if model_path.stat().st_size > MODEL_BYTES_MAX:
            raise ValueError(f"{model_path} is larger than {MODEL_BYTES_MAX} bytes")
        sidecar = json.loads(sidecar_path.read_text())
        names = tuple(sidecar["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError("it was trained on other features than this code computes")
        x = np.array(sidecar["calibration"]["x"], dtype=np.float64)
        y = np.array(sidecar["calibration"]["y"], dtype=np.float64)
        if (
            x.ndim != 1
            or x.shape != y.shape
            or len(x) < 2
            or not (np.isfinite(x).all() and np.isfinite(y).all())
            or np.any(np.diff(x) < 0)
        ):
            raise ValueError("its calibration is not two equal lists of increasing finite points")
        text = model_path.read_bytes()
        # LightGBM's parser aborts the whole process on some damaged files (a truncated one
        # does): the checksum refuses them before the parser sees them.
        if hashlib.sha256(text).hexdigest() != sidecar["model_sha256"]:
            raise ValueError(f"{model_path} does not match the checksum in its sidecar")
        booster = lgb.Booster(model_str=text.decode())
        if booster.num_feature() != len(FEATURE_NAMES):
            raise ValueError(f"the booster has {booster.num_feature()} features")
        version = str(sidecar["version"])
        policy = _policy(sidecar)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        UnicodeDecodeError,
        lgb.basic.LightGBMError,
    ) as e:
        log.warning("risk model in %s not loaded (%s): deciding on rules alone", directory, e)
        return None
    info = {k: v for k, v in sidecar.items() if k not in ("feature_names", "calibration", "policy")}
    trees = native_forest(booster)
    single = SingleRow(booster) if trees is None else None  # one row through the C API
    explainer = _explainer(booster, single, trees)
    return Model(booster, version, names, x, y, info, policy, explainer, single, trees)


def _explainer(
    booster: lgb.Booster, single: SingleRow | None, trees: Forest | None = None
) -> PathExplainer | None:
    try:
        return PathExplainer(booster, single, trees)
    except (ValueError, KeyError) as e:  # a tree it cannot read: TreeSHAP, slow but right
        log.warning("risk model reasons fall back to TreeSHAP (%s)", e)
        return None


def load_default_model() -> Model | None:
    """The model shipped in the package (trained by ``centime risk train``, docs/risk.md)."""
    return load_model(DEFAULT_MODEL_DIR)
