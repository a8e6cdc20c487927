"""The model as served: the shipped one, calibration, reasons, missing and corrupt files."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
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
        "inf calibration",
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
    elif damage == "inf calibration":  # json writes and reads Infinity
        meta["calibration"] = {"x": [0.0, 1.0], "y": [0.0, float("inf")]}
        sidecar.write_text(json.dumps(meta))
    else:
        sidecar.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="centime.risk.model"):
        assert load_model(directory) is None
    assert any("deciding on rules alone" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def traffic_rows() -> np.ndarray:
    """Field-feature rows of simulated traffic (the kind of rows the engine scores)."""
    from centime.risk.field import FieldState
    from centime.risk.simulate import TYPOLOGIES, SimConfig, simulate

    events = simulate(
        SimConfig(
            customers=200,
            merchants=12,
            days=12,
            seed=5,
            fraud_per_day_per_k={name: 3.0 for name in TYPOLOGIES},
        )
    )
    state = FieldState()
    rows = []
    for labelled in events:
        rows.append(state.compute(labelled.event))
        state.update(labelled.event)
    return np.array(rows)


def test_one_row_through_the_c_api_is_the_wrappers_answer_bit_for_bit(
    traffic_rows: np.ndarray,
) -> None:
    loaded = load_default_model()
    assert loaded is not None
    model = loaded.on_booster()  # the path without the native trees (centime.risk.trees)
    assert model.single is not None
    rows = traffic_rows[:3_000]
    batch = model.booster.predict(rows, num_threads=1)
    one_by_one = np.array([model.single.probability(row) for row in rows])
    assert np.array_equal(batch, one_by_one)
    leaves = model.booster.predict(rows[:300], pred_leaf=True, num_threads=1)
    assert np.array_equal(leaves, np.array([model.single.leaves(row) for row in rows[:300]]))


def test_path_credits_add_up_to_the_score_and_mostly_agree_with_treeshap(
    traffic_rows: np.ndarray,
) -> None:
    """The reasons' path credits plus the trees' root values are the raw score; their top
    feature is TreeSHAP's for most rows that reach a band (measured: 86% on the bench's
    traffic), and TreeSHAP's top feature is among their top three for nearly all."""
    model = load_default_model()
    assert model is not None and model.explainer is not None and model.policy is not None
    scores = np.array(model.scores(traffic_rows))
    banded = traffic_rows[scores >= model.policy.review][:300]
    assert len(banded) >= 50
    credits = model.explainer.credits(banded)
    roots = sum(
        tree["tree_structure"].get("internal_value", tree["tree_structure"].get("leaf_value"))
        for tree in model.booster.dump_model()["tree_info"]
    )
    raw = model.booster.predict(banded, raw_score=True, num_threads=1)
    assert np.allclose(credits.sum(axis=1) + roots, raw, atol=1e-9)
    shap = model.booster.predict(banded, pred_contrib=True, num_threads=1)[:, :-1]
    top = credits.argmax(axis=1)
    assert (top == shap.argmax(axis=1)).mean() >= 0.75
    top3 = np.argsort(-credits, axis=1)[:, :3]
    assert np.mean([s in t for s, t in zip(shap.argmax(axis=1), top3, strict=True)]) >= 0.95
    one = [model.reasons(row.reshape(1, -1)) for row in banded[:20]]
    assert one == model.reasons_many(banded[:20])  # one row or a batch: the same reasons


def test_calibrated_scores_truncate_as_int_does() -> None:
    model = load_default_model()
    assert model is not None
    probabilities = np.concatenate(
        (np.linspace(0.0, 1.0, 10_001), model.calibration_x, np.nextafter(model.calibration_x, 2))
    )
    expected = [
        min(99, max(0, int(p * 100)))
        for p in np.interp(probabilities, model.calibration_x, model.calibration_y).tolist()
    ]
    scores = model.calibrate(probabilities)
    assert scores == expected and all(type(s) is int for s in scores)
    with pytest.raises(ValueError):
        model.calibrate(np.array([np.nan]))


def test_a_calibration_to_inf_raises() -> None:
    """int() of inf raises: the vectorised calibration must too (fail closed), not clip
    to 99 (a sidecar whose calibration is not finite does not load: the damages above)."""
    model = load_default_model()
    assert model is not None
    for top in (np.inf, 1e308):  # 1e308 * 100 overflows to inf
        broken = replace(
            model, calibration_x=np.array([0.0, 1.0]), calibration_y=np.array([0.0, top])
        )
        with pytest.raises(ValueError):
            broken.calibrate(np.array([1.0]))
