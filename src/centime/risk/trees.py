"""The model's trees evaluated natively: raw scores, probabilities and leaves, bit for bit as
LightGBM's own ``Booster.predict``, without its per-call overhead.

``Booster.predict`` on a batch of 8189 rows costs about 16-18 us a row, nearly all of it
walking the trees one row at a time (the same walk in C costs as much); on one row more.
The C extension ``centime.risk._trees`` (``setup.py`` builds it when it can; optional) walks
the same trees faster (each row read once per missing type so that a split is one
comparison; eight rows through each tree together, without branches) with LightGBM's own
rules (see its source for the references): a split ``value <= threshold`` in double, NaN
and values within
kZeroThreshold of zero as LightGBM reads them, the trees summed in the model's order into a
double from 0.0, the binary objective's probability ``1 / (1 + exp(-sigmoid * raw))``. So the
raw scores, probabilities and leaf indices equal the Booster's bit for bit
(tests/risk/test_trees.py checks it, with NaN, signed zeros, infinities, huge values and
values exactly at the thresholds), and the calibrated scores are the same integers.

:func:`native_forest` builds it for one Booster, from the Booster's own text
(``model_to_string``: every value in round-trip precision) at model load. It answers None,
and the model keeps calling the Booster, when the extension is not built or is older than
its source (``trees.build-sha256``), when ``CENTIME_RISK_TREES=booster`` is set, or when
the model holds what the extension does not implement (categorical splits, linear trees,
several trees per iteration, averaged output as random forests, an objective other than
binary). As a last guard it compares itself with the Booster on probe rows built from the
model's thresholds (each threshold, the doubles next to it, NaN, zeros, infinities) and
refuses itself on any difference.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

__all__ = [
    "ENV_TREES",
    "Forest",
    "ForestArrays",
    "UnsupportedModelError",
    "native_forest",
    "parse_model",
    "probe_rows",
    "trees_extension",
    "trees_is_compiled",
]

log = logging.getLogger("centime.risk")

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
HERE: Final = Path(__file__).parent
SOURCE: Final = HERE / "_trees.c"
BUILD_STAMP: Final = HERE / "trees.build-sha256"
ENV_TREES: Final = "CENTIME_RISK_TREES"  # "booster": never the native trees
PROBE_ROWS: Final = 512
T = TypeVar("T")
_CATEGORICAL_MASK: Final = 1


class UnsupportedModelError(ValueError):
    """The model holds something the native trees do not implement."""


@dataclass(frozen=True, slots=True)
class ForestArrays:
    """A LightGBM model's trees as flat arrays, in the model's order (LightGBM's numbering:
    a child >= 0 is a node of the same tree, < 0 is ``~leaf``)."""

    num_leaves: I32  # per tree
    split_feature: I32  # per node, the trees' nodes concatenated
    threshold: F64
    decision_type: npt.NDArray[np.int8]
    left_child: I32
    right_child: I32
    leaf_value: F64  # per leaf, the trees' leaves concatenated
    n_features: int
    sigmoid: float  # the binary objective's; NaN for another objective


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split()]


def _column(values: list[T], inner: int) -> list[T]:
    if len(values) != inner:
        raise ValueError(f"a tree of {inner} splits has a column of {len(values)}")
    return values


def parse_model(text: str) -> ForestArrays:
    """The trees of a model in LightGBM's text format (``Booster.model_to_string()``);
    :class:`UnsupportedModelError` for what the native trees do not implement, ValueError for text
    that is not such a model."""
    head, marker, rest = text.partition("\nTree=")
    if not marker:
        raise ValueError("no trees in the model text")
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition("=")
        header[key.strip()] = value.strip()
    if header.get("num_tree_per_iteration", "1") != "1" or header.get("num_class", "1") != "1":
        raise UnsupportedModelError("several trees per iteration (multiclass)")
    if "average_output" in header:
        raise UnsupportedModelError("averaged output (random forest)")
    n_features = int(header["max_feature_idx"]) + 1
    objective = header.get("objective", "").split()
    sigmoid = math.nan
    if objective and objective[0] == "binary":
        for token in objective[1:]:
            name, _, value = token.partition(":")
            if name == "sigmoid":
                sigmoid = float(value)
        if not sigmoid > 0:
            raise UnsupportedModelError(f"binary objective without a positive sigmoid: {objective}")
    body = rest.split("\nend of trees", 1)[0]
    leaves: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    decision: list[int] = []
    left: list[int] = []
    right: list[int] = []
    values: list[float] = []
    for block in body.split("\nTree="):
        fields: dict[str, str] = {}
        for line in block.splitlines()[1:]:
            key, sep, value = line.partition("=")
            if sep:
                fields[key] = value
        n_leaves = int(fields["num_leaves"])
        if int(fields.get("num_cat", "0")):
            raise UnsupportedModelError("categorical splits")
        if int(fields.get("is_linear", "0")):
            raise UnsupportedModelError("linear trees")
        inner = n_leaves - 1
        tree_values = _floats(fields["leaf_value"])
        if n_leaves < 1 or len(tree_values) != n_leaves:
            raise ValueError(f"a tree of {n_leaves} leaves has {len(tree_values)} leaf values")
        if inner:  # a tree of one leaf has no split columns
            feature += _column(_ints(fields["split_feature"]), inner)
            threshold += _column(_floats(fields["threshold"]), inner)
            decision += _column(_ints(fields["decision_type"]), inner)
            left += _column(_ints(fields["left_child"]), inner)
            right += _column(_ints(fields["right_child"]), inner)
        leaves.append(n_leaves)
        values += tree_values
    if any(d & _CATEGORICAL_MASK for d in decision):
        raise UnsupportedModelError("categorical splits")
    return ForestArrays(
        np.array(leaves, dtype=np.int32),
        np.array(feature, dtype=np.int32),
        np.array(threshold, dtype=np.float64),
        np.array(decision, dtype=np.int8),
        np.array(left, dtype=np.int32),
        np.array(right, dtype=np.int32),
        np.array(values, dtype=np.float64),
        n_features,
        sigmoid,
    )


def _source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def trees_extension() -> ModuleType | None:
    """The compiled ``centime.risk._trees`` when it is built from the current ``_trees.c``
    and ``CENTIME_RISK_TREES`` does not say ``booster``; else None."""
    if os.environ.get(ENV_TREES) == "booster":
        return None
    try:
        module = importlib.import_module("centime.risk._trees")
    except ImportError:
        return None
    try:
        current = BUILD_STAMP.read_text().strip() == _source_digest()
    except OSError:
        current = False
    if not current:
        log.warning(
            "the native trees were built from another _trees.c: the model runs on the Booster"
            " (make install builds them again)"
        )
        return None
    return module


def trees_is_compiled() -> bool:
    """Whether the native trees are built, current and allowed (the install report)."""
    return trees_extension() is not None


class Forest:
    """A model's trees evaluated natively (one ``centime.risk._trees.Forest``); immutable,
    shared by threads (each call releases the GIL while it walks the trees)."""

    __slots__ = ("_extension", "_native", "n_features", "n_trees")

    def __init__(self, arrays: ForestArrays, extension: ModuleType) -> None:
        self._native: Any = extension.Forest(
            arrays.num_leaves,
            arrays.split_feature,
            arrays.threshold,
            arrays.decision_type,
            arrays.left_child,
            arrays.right_child,
            arrays.leaf_value,
            arrays.n_features,
            arrays.sigmoid,
        )
        self._extension = extension
        self.n_features = arrays.n_features
        self.n_trees = len(arrays.num_leaves)

    def _rows(self, rows: F64) -> F64:
        matrix = np.ascontiguousarray(rows, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(f"rows must be a 2-D array of {self.n_features} columns")
        return matrix

    def margins(self, rows: F64) -> F64:
        """The raw score of each row (``Booster.predict(rows, raw_score=True)``)."""
        matrix = self._rows(rows)
        out = np.empty(len(matrix), dtype=np.float64)
        self._native.predict(matrix, margins=out)
        return out

    def probabilities(self, rows: F64) -> F64:
        """The probability of each row (``Booster.predict(rows)``, binary objective)."""
        matrix = self._rows(rows)
        out = np.empty(len(matrix), dtype=np.float64)
        self._native.predict(matrix, probabilities=out)
        return out

    def leaves(self, rows: F64) -> I32:
        """The leaf of each row in each tree (``Booster.predict(rows, pred_leaf=True)``)."""
        matrix = self._rows(rows)
        out = np.empty((len(matrix), self.n_trees), dtype=np.int32)
        self._native.predict(matrix, leaves=out)
        return out

    def credit_table(
        self,
        indptr: npt.NDArray[np.int64],
        features: I32,
        values: F64,
        leaves_per_tree: int,
        width: int,
    ) -> Any:
        """The reasons' path credits as a native ``Credits`` (CSR ``indptr``, ``features``,
        ``values`` per global leaf, checked and copied once): its ``sum(leaves, out)`` adds
        up each row's credits over the leaves it reached (centime.risk.explain)."""
        return self._extension.Credits(indptr, features, values, leaves_per_tree, width)


def probe_rows(arrays: ForestArrays, count: int = PROBE_ROWS, seed: int = 0) -> F64:
    """Rows that test the model's splits: each feature's values drawn from its thresholds,
    the doubles just above and below them, NaN, 0.0, -0.0, +-1e-36, +-inf and +-1e300."""
    rng = np.random.default_rng(seed)
    special = np.array(
        [np.nan, 0.0, -0.0, 1e-36, -1e-36, np.inf, -np.inf, 1e300, -1e300], dtype=np.float64
    )
    rows = np.empty((count, arrays.n_features), dtype=np.float64)
    for j in range(arrays.n_features):
        cuts = arrays.threshold[arrays.split_feature == j]
        pool = np.concatenate(
            [special, cuts, np.nextafter(cuts, np.inf), np.nextafter(cuts, -np.inf)]
        )
        rows[:, j] = rng.choice(pool, size=count)
    return rows


def _agrees(forest: Forest, booster: lgb.Booster, rows: F64) -> str | None:
    """None when the forest answers as the Booster on ``rows``, else what differs."""
    raw = np.asarray(booster.predict(rows, raw_score=True, num_threads=1), dtype=np.float64)
    if not np.array_equal(forest.margins(rows).view(np.int64), raw.view(np.int64)):
        return "raw scores"
    probability = np.asarray(booster.predict(rows, num_threads=1), dtype=np.float64)
    if not np.array_equal(forest.probabilities(rows).view(np.int64), probability.view(np.int64)):
        return "probabilities"
    leaves = np.asarray(booster.predict(rows, pred_leaf=True, num_threads=1))
    if not np.array_equal(forest.leaves(rows), leaves.reshape(len(rows), -1)):
        return "leaves"
    return None


def native_forest(booster: lgb.Booster) -> Forest | None:
    """The native trees of ``booster``, or None (the model then calls the Booster): see the
    module's docstring for when."""
    extension = trees_extension()
    if extension is None:
        return None
    try:
        arrays = parse_model(booster.model_to_string())
        if math.isnan(arrays.sigmoid):
            raise UnsupportedModelError("an objective other than binary")
        if arrays.n_features != booster.num_feature():
            raise ValueError(f"{arrays.n_features} features, the Booster has another count")
        forest = Forest(arrays, extension)
        differs = _agrees(forest, booster, probe_rows(arrays))
        if differs is not None:
            raise ValueError(f"its {differs} differ from the Booster's on the probe rows")
    except (ValueError, KeyError, TypeError) as error:
        log.warning("risk model trees not evaluated natively (%s): the Booster scores", error)
        return None
    return forest
