"""The native trees (centime.risk.trees, the C extension centime.risk._trees) answer as
LightGBM's Booster bit for bit: raw scores, probabilities, leaves, and so the calibrated
scores and the reasons; a model they do not implement is refused to the Booster; without
them (``CENTIME_RISK_TREES=booster``, or no build) the model answers the same."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime.risk import explain, trees
from centime.risk.explain import PathExplainer
from centime.risk.model import Model, load_default_model
from centime.risk.trees import (
    ENV_TREES,
    Forest,
    ForestArrays,
    UnsupportedModelError,
    native_forest,
    parse_model,
    trees_extension,
)

ROOT = Path(__file__).resolve().parents[2]
F64 = npt.NDArray[np.float64]
SPECIAL = [
    np.nan,
    0.0,
    -0.0,
    1e-36,
    -1e-36,
    float(np.float32(1e-35)),  # kZeroThreshold exactly
    -float(np.float32(1e-35)),
    5e-324,
    np.inf,
    -np.inf,
    1e300,
    -1e300,
    np.finfo(np.float64).max,
]

needs_extension = pytest.mark.skipif(
    trees_extension() is None, reason="the native trees are not built (make install)"
)


def bits(values: Any) -> F64:
    """The values' bit patterns: equality of these is equality bit for bit."""
    return np.asarray(values, dtype=np.float64).view(np.int64)


@pytest.fixture(scope="module")
def model() -> Model:
    loaded = load_default_model()
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def booster_model(model: Model) -> Model:
    """The shipped model without its native trees: the Booster and its single-row C API."""
    return model.on_booster()


@pytest.fixture(scope="module")
def shipped(model: Model) -> ForestArrays:
    return parse_model(model.booster.model_to_string())


def rows_strategy(arrays: ForestArrays, max_rows: int = 24) -> st.SearchStrategy[F64]:
    """Rows whose values are each feature's thresholds, the doubles next to them, the
    special values, or any double at all."""
    per_feature = []
    for j in range(arrays.n_features):
        cuts = arrays.threshold[arrays.split_feature == j].tolist()
        near = [float(np.nextafter(c, d)) for c in cuts for d in (np.inf, -np.inf)]
        choices = cuts + near + SPECIAL
        per_feature.append(
            st.one_of(
                st.sampled_from(choices),
                st.floats(allow_nan=True, allow_infinity=True),
                st.floats(-50.0, 50.0),
            )
        )
    row = st.tuples(*per_feature).map(list)
    return st.lists(row, min_size=1, max_size=max_rows).map(
        lambda rows: np.array(rows, dtype=np.float64)
    )


def assert_as_booster(forest: Forest, booster: lgb.Booster, rows: F64) -> None:
    raw = booster.predict(rows, raw_score=True, num_threads=1)
    assert np.array_equal(bits(forest.margins(rows)), bits(raw))
    probability = booster.predict(rows, num_threads=1)
    assert np.array_equal(bits(forest.probabilities(rows)), bits(probability))
    leaves = booster.predict(rows, pred_leaf=True, num_threads=1)
    assert np.array_equal(forest.leaves(rows), np.asarray(leaves).reshape(len(rows), -1))


# -- the shipped model ------------------------------------------------------------------------


@needs_extension
def test_the_shipped_model_is_evaluated_natively(model: Model) -> None:
    assert model.trees is not None and model.single is None
    assert model.explainer is not None and model.explainer.trees is model.trees


@needs_extension
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shipped_model_margins_probabilities_leaves_and_scores_are_the_boosters(
    model: Model, booster_model: Model, shipped: ForestArrays, data: st.DataObject
) -> None:
    rows = data.draw(rows_strategy(shipped))
    assert model.trees is not None
    assert_as_booster(model.trees, model.booster, rows)
    assert model.scores(rows) == booster_model.scores(rows)
    for row in rows[:3]:  # one row: the single-row paths on both sides
        one = row.reshape(1, -1)
        assert model.scores(one) == booster_model.scores(one)
        assert np.array_equal(
            bits(model.probabilities(one)), bits(booster_model.probabilities(one))
        )


@pytest.fixture(scope="module")
def traffic_rows() -> F64:
    """Field-feature rows of simulated traffic (the rows the engine scores)."""
    from centime.risk.field import FieldState
    from centime.risk.simulate import TYPOLOGIES, SimConfig, simulate

    events = simulate(
        SimConfig(
            customers=200,
            merchants=12,
            days=8,
            seed=11,
            fraud_per_day_per_k={name: 3.0 for name in TYPOLOGIES},
        )
    )
    state = FieldState()
    rows = []
    for labelled in events:
        rows.append(state.compute(labelled.event))
        state.update(labelled.event)
    return np.array(rows)


@needs_extension
def test_traffic_scores_and_reasons_are_the_boosters(
    model: Model, booster_model: Model, traffic_rows: F64
) -> None:
    assert model.trees is not None
    for size in (1, 7, 8, 9, 333, len(traffic_rows)):  # whole blocks of 8 and leftovers
        assert_as_booster(model.trees, model.booster, traffic_rows[:size])
    assert model.scores(traffic_rows) == booster_model.scores(traffic_rows)
    assert model.policy is not None
    banded = traffic_rows[np.array(model.scores(traffic_rows)) >= model.policy.review][:200]
    assert len(banded) >= 20
    assert model.reasons_many(banded) == booster_model.reasons_many(banded)
    assert [model.reasons(r.reshape(1, -1)) for r in banded[:20]] == [
        booster_model.reasons(r.reshape(1, -1)) for r in banded[:20]
    ]


@needs_extension
def test_threads_share_one_forest(model: Model, traffic_rows: F64) -> None:
    """Calls from several threads at once (each releases the GIL) answer as one alone."""
    assert model.trees is not None
    forest = model.trees
    expected = forest.margins(traffic_rows)
    answers: list[F64] = []

    def work() -> None:
        for _ in range(5):
            answers.append(forest.margins(traffic_rows))

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(answers) == 20
    assert all(np.array_equal(bits(a), bits(expected)) for a in answers)


@needs_extension
def test_rows_of_another_width_or_shape_are_refused(model: Model) -> None:
    assert model.trees is not None
    with pytest.raises(ValueError, match="columns"):
        model.trees.margins(np.zeros((2, model.trees.n_features + 1)))
    with pytest.raises(ValueError, match="columns"):
        model.trees.margins(np.zeros(model.trees.n_features))
    empty = model.trees.margins(np.zeros((0, model.trees.n_features)))
    assert empty.shape == (0,)
    strided = np.zeros((4, 2 * model.trees.n_features))[:, ::2]  # not contiguous: copied
    assert np.array_equal(model.trees.margins(strided), model.trees.margins(np.zeros((4, 50))))


# -- small models trained here ----------------------------------------------------------------


def _training_data(seed: int, n: int = 600, features: int = 6) -> tuple[F64, F64]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    x[:, 1] = rng.integers(0, 4, size=n)  # few distinct values: thresholds between them
    x[rng.random(n) < 0.15, 2] = np.nan
    x[rng.random(n) < 0.3, 3] = 0.0
    x[rng.random(n) < 0.1, 4] = np.nan
    x[rng.random(n) < 0.2, 4] = 0.0
    y = ((x[:, 0] + np.nan_to_num(x[:, 2]) + (x[:, 3] == 0) + rng.normal(size=n)) > 0.5) * 1.0
    return x, y


SMALL_MODELS = {
    "missing as NaN": {},
    "zero as missing": {"zero_as_missing": True},
    "no missing handling": {"use_missing": False},
    "sigmoid 0.7": {"sigmoid": 0.7},
    "deep and many leaves": {"num_leaves": 63, "min_data_in_leaf": 2},
    "stumps": {"num_leaves": 2},
}


@functools.cache
def _small_model(name: str) -> lgb.Booster:
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "learning_rate": 0.3,
        "verbosity": -1,
        "seed": 1,
        **SMALL_MODELS[name],
    }
    x, y = _training_data(len(name))
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=25)


@pytest.fixture(scope="module", params=sorted(SMALL_MODELS))
def small(request: pytest.FixtureRequest) -> lgb.Booster:
    return _small_model(request.param)


@needs_extension
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_small_trained_models_are_the_boosters(small: lgb.Booster, data: st.DataObject) -> None:
    forest = native_forest(small)
    assert forest is not None
    arrays = parse_model(small.model_to_string())
    assert_as_booster(forest, small, data.draw(rows_strategy(arrays, max_rows=40)))


@needs_extension
def test_missing_types_of_the_small_models_are_all_covered() -> None:
    """The small models hold splits of each missing type and both default ways (else the
    property above would not test them)."""
    seen = set()
    for name in SMALL_MODELS:
        arrays = parse_model(_small_model(name).model_to_string())
        seen |= {(int(d) >> 2 & 3, int(d) & 2) for d in arrays.decision_type}
    assert {0, 1, 2} <= {missing for missing, _ in seen}  # None, Zero, NaN
    assert {(2, 0), (2, 2)} <= seen  # NaN going right and left by default


@needs_extension
def test_a_model_with_a_one_leaf_tree() -> None:
    """A tree that could not split (one leaf, no split columns) adds its one value."""
    x, y = _training_data(3)
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 4}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=3)
    text = booster.model_to_string()
    # The last tree replaced by a one-leaf tree, as LightGBM writes one.
    head, _, rest = text.partition("\nTree=2\n")
    _, _, tail = rest.partition("\n\n\n")
    one_leaf = "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n"
    one_leaf += "decision_type=\nleft_child=\nright_child=\nleaf_value=0.25\nleaf_weight=\n"
    one_leaf += "leaf_count=\ninternal_value=\ninternal_weight=\ninternal_count=\n"
    one_leaf += "is_linear=0\nshrinkage=1"
    changed = lgb.Booster(model_str=f"{head}\nTree=2\n{one_leaf}\n\n\n{tail}")
    forest = native_forest(changed)
    assert forest is not None
    rows = np.array([[0.0] * 6, [1.0] * 6, [np.nan] * 6])
    assert_as_booster(forest, changed, rows)
    assert (forest.leaves(rows)[:, 2] == 0).all()


# -- refused models -----------------------------------------------------------------------------


def _refused(booster: lgb.Booster, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.WARNING, logger="centime.risk"):
        assert native_forest(booster) is None
    return " ".join(r.getMessage() for r in caplog.records)


def test_categorical_splits_are_refused_to_the_booster(
    caplog: pytest.LogCaptureFixture,
) -> None:
    x, y = _training_data(7)
    x[:, 5] = np.random.default_rng(7).integers(0, 6, size=len(x))
    y = np.where(np.isin(x[:, 5], [1, 4]), 1.0, y)
    params = {"objective": "binary", "verbosity": -1, "min_data_per_group": 5, "cat_smooth": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, categorical_feature=[5]), num_boost_round=10)
    assert "num_cat=1" in booster.model_to_string()  # it did split on the category
    with pytest.raises(UnsupportedModelError, match="categorical"):
        parse_model(booster.model_to_string())
    if trees_extension() is not None:
        assert "categorical" in _refused(booster, caplog)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"objective": "binary", "linear_tree": True}, "linear"),
        ({"objective": "multiclass", "num_class": 3}, "several trees"),
        (
            {"objective": "binary", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.5},
            "averaged",
        ),
    ],
)
def test_what_the_native_trees_do_not_implement_is_refused(
    params: dict[str, Any], why: str
) -> None:
    x, y = _training_data(9)
    if params["objective"] == "multiclass":
        y = (np.nan_to_num(x[:, 0]) > 0) + (np.nan_to_num(x[:, 2]) > 0) * 1.0
    booster = lgb.train({**params, "verbosity": -1}, lgb.Dataset(x, y), num_boost_round=5)
    with pytest.raises(UnsupportedModelError, match=why):
        parse_model(booster.model_to_string())


@needs_extension
def test_an_objective_without_a_probability_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _training_data(5)
    booster = lgb.train({"objective": "regression", "verbosity": -1}, lgb.Dataset(x, y), 5)
    assert "objective other than binary" in _refused(booster, caplog)


@needs_extension
@pytest.mark.parametrize(
    "damage",
    ["child before its parent", "child of another tree", "feature out of range", "categorical"],
)
def test_the_extension_checks_every_array(shipped: ForestArrays, damage: str) -> None:
    """Arrays that would walk out of bounds or forever are refused when the forest is built
    (never a crash)."""
    left = shipped.left_child.copy()
    feature = shipped.split_feature.copy()
    decision = shipped.decision_type.copy()
    internal = np.flatnonzero(left > 0)[0]
    if damage == "child before its parent":
        left[internal + 1] = 0
    elif damage == "child of another tree":
        left[internal] = 40
    elif damage == "feature out of range":
        feature[3] = shipped.n_features
    else:
        decision[5] |= 1
    extension = trees_extension()
    with pytest.raises(ValueError):
        extension.Forest(  # type: ignore[union-attr]
            shipped.num_leaves,
            feature,
            shipped.threshold,
            decision,
            left,
            shipped.right_child,
            shipped.leaf_value,
            shipped.n_features,
            shipped.sigmoid,
        )


# -- without the native trees ------------------------------------------------------------------


def test_the_booster_path_when_turned_off(
    monkeypatch: pytest.MonkeyPatch, model: Model, traffic_rows: F64
) -> None:
    monkeypatch.setenv(ENV_TREES, "booster")
    assert trees_extension() is None
    off = load_default_model()
    assert off is not None and off.trees is None and off.single is not None
    rows = traffic_rows[:2_000]
    assert off.scores(rows) == model.scores(rows)
    assert [off.scores(r.reshape(1, -1)) for r in rows[:50]] == [
        model.scores(r.reshape(1, -1)) for r in rows[:50]
    ]
    assert off.reasons_many(rows[:100]) == model.reasons_many(rows[:100])


def test_the_booster_path_when_the_extension_is_missing(
    monkeypatch: pytest.MonkeyPatch, model: Model, traffic_rows: F64
) -> None:
    real_import = trees.importlib.import_module

    def no_extension(name: str) -> Any:
        if name == "centime.risk._trees":
            raise ImportError("not built")
        return real_import(name)

    monkeypatch.setattr(trees.importlib, "import_module", no_extension)
    off = load_default_model()
    assert off is not None and off.trees is None
    assert off.scores(traffic_rows[:500]) == model.scores(traffic_rows[:500])


@needs_extension
def test_a_stale_build_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stamp = tmp_path / "trees.build-sha256"
    stamp.write_text("0" * 64 + "\n")  # built from another _trees.c
    monkeypatch.setattr(trees, "BUILD_STAMP", stamp)
    with caplog.at_level(logging.WARNING, logger="centime.risk"):
        assert trees_extension() is None
    assert any("another _trees.c" in r.getMessage() for r in caplog.records)
    stamp.unlink()
    assert trees_extension() is None  # no stamp: never trusted


def test_setup_and_the_makefile_build_the_extension_trees_loads() -> None:
    setup = (ROOT / "setup.py").read_text()
    assert '"centime.risk._trees"' in setup and '"_trees.c"' in setup
    assert "src/centime/risk/_trees.c" in (ROOT / "Makefile").read_text()  # edits rebuild
    assert trees.SOURCE.name == "_trees.c" and trees.BUILD_STAMP.name == "trees.build-sha256"


def test_the_install_report_says_whether_the_trees_are_native() -> None:
    env = {**os.environ, ENV_TREES: "booster"}
    probe = "from centime.risk.trees import trees_is_compiled; print(trees_is_compiled())"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
    assert "trees_is_compiled" in (ROOT / "Makefile").read_text()


# -- the reasons' path credits summed natively -------------------------------------------------


def int_bits(values: F64) -> npt.NDArray[np.int64]:
    return np.ascontiguousarray(values).view(np.int64)


@needs_extension
def test_native_path_credits_are_numpys_sums_bit_for_bit(model: Model, traffic_rows: F64) -> None:
    explainer = model.explainer
    assert explainer is not None and explainer.trees is not None
    for size in (1, 2, 63, 64, 65, 500):
        rows = traffic_rows[:size]
        leaves = explainer.leaves(rows)
        native = explainer.credits(rows)
        assert np.array_equal(int_bits(native), int_bits(explainer.dense_credits(leaves, size)))


@needs_extension
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_small_models_path_credits_are_numpys_sums(small: lgb.Booster, data: st.DataObject) -> None:
    forest = native_forest(small)
    assert forest is not None
    explainer = PathExplainer(small, None, forest)
    rows = data.draw(rows_strategy(parse_model(small.model_to_string()), max_rows=20))
    leaves = explainer.leaves(rows)
    assert np.array_equal(
        int_bits(explainer.credits(rows)), int_bits(explainer.dense_credits(leaves, len(rows)))
    )


@needs_extension
def test_path_credits_refuse_indices_out_of_range(model: Model) -> None:
    explainer = model.explainer
    assert explainer is not None and explainer.trees is not None
    indptr, features, values = explain._sparse(explainer._credits)
    per_tree, width = explainer._leaves_per_tree, explainer.features
    n_trees = explainer.trees.n_trees
    table = explainer.trees.credit_table(indptr, features, values, per_tree, width)
    out = np.empty((1, width))
    good = np.zeros((1, n_trees), dtype=np.int32)
    table.sum(good, out)
    bad_leaf = good.copy()
    bad_leaf[0, 3] = per_tree
    for leaves, into in ((bad_leaf, out), (good, np.empty((2, width))), (good[:, 1:], out)):
        with pytest.raises(ValueError):
            table.sum(leaves, into)
    bad_feature = features.copy()
    bad_feature[0] = width
    bad_indptr = indptr.copy()
    bad_indptr[-1] += 1
    for arrays in (
        (indptr, bad_feature, values),
        (bad_indptr, features, values),
        (indptr, features[:-1], values),
        (indptr[:1], features, values),
    ):
        with pytest.raises(ValueError):
            explainer.trees.credit_table(*arrays, per_tree, width)


@needs_extension
def test_credits_refuse_a_width_past_int32_and_an_overflowing_out() -> None:
    """The width indexes int32 features and sizes rows x width: bounded, checked."""
    extension = trees_extension()
    assert extension is not None
    indptr = np.array([0, 1, 1], dtype=np.int64)
    features = np.array([0], dtype=np.int32)
    values = np.array([1.5])
    with pytest.raises(ValueError):
        extension.Credits(indptr, features, values, 2, 2**40)
    credits = extension.Credits(indptr, features, values, 2, 3)
    out = np.zeros((1, 3))
    credits.sum(np.array([0], dtype=np.int32), out)
    assert out.tolist() == [[1.5, 0.0, 0.0]]
    with pytest.raises(ValueError):
        credits.sum(np.array([2], dtype=np.int32), out)
