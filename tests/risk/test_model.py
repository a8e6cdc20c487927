"""The model as served: the shipped one, calibration, reasons, missing and corrupt files."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from centime.risk.field import FIELD_NAMES as FEATURE_NAMES
from centime.risk.model import DEFAULT_MODEL_DIR, load_default_model, load_model


def test_the_shipped_model_loads_small_with_its_sidecar() -> None:
    model = load_default_model()
    assert model is not None
    assert model.feature_names == FEATURE_NAMES
    assert (DEFAULT_MODEL_DIR / "model.txt").stat().st_size < 2_000_000
    rows = np.zeros((3, len(FEATURE_NAMES)))
    scores = model.scores(rows)
    assert all(type(s) is int and 0 <= s <= 99 for s in scores)
    assert model.scores(rows[:1]) == scores[:1]


def test_calibration_is_monotone_and_bounded() -> None:
    model = load_default_model()
    assert model is not None
    probabilities = np.linspace(0, 1, 501)
    scores = model.calibrate(probabilities)
    assert scores == sorted(scores) and scores[0] >= 0 and scores[-1] <= 99


def test_reasons_name_the_features_that_raised_the_score() -> None:
    model = load_default_model()
    assert model is not None
    row = np.zeros((1, len(FEATURE_NAMES)))
    row[0, FEATURE_NAMES.index("payee_fraud_n_7d")] = 12
    row[0, FEATURE_NAMES.index("payee_fraud_rate_7d")] = 0.9
    reasons = model.reasons(row)
    assert reasons and all(r.startswith("model:") and r[6:] in FEATURE_NAMES for r in reasons)


def copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, target)
    return target


@pytest.mark.parametrize(
    "damage",
    [
        "no model file",
        "no sidecar",
        "garbage model",
        "truncated model",
        "other features",
        "bad calibration",
        "sidecar not json",
    ],
)
def test_a_missing_or_corrupt_model_is_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    directory = copy_model(tmp_path)
    model_file, sidecar = directory / "model.txt", directory / "model.json"
    meta = json.loads(sidecar.read_text())
    if damage == "no model file":
        model_file.unlink()
    elif damage == "no sidecar":
        sidecar.unlink()
    elif damage == "garbage model":
        model_file.write_bytes(b"\x00\xffnot a model at all")
    elif damage == "truncated model":
        model_file.write_text(model_file.read_text()[:5_000])
    elif damage == "other features":
        meta["feature_names"] = meta["feature_names"][:-1]
        sidecar.write_text(json.dumps(meta))
    elif damage == "bad calibration":
        meta["calibration"] = {"x": [0.5, 0.1], "y": [0.0, 1.0]}
        sidecar.write_text(json.dumps(meta))
    else:
        sidecar.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="centime.risk.model"):
        assert load_model(directory) is None
    assert any("deciding on rules alone" in r.getMessage() for r in caplog.records)
