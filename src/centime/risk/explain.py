"""The model's reasons, fast: path attributions precomputed per leaf of every tree.

A decision that reaches a band names the features that pushed its score up most. LightGBM's
own contributions (``pred_contrib``, TreeSHAP) cost about 3 ms per row on the shipped model
(400 trees of 31 leaves): one such row is the whole budget of a decision three times over.
The path attribution (Saabas) answers the same question in microseconds: walking a tree
from its root to the row's leaf, each split moves the tree's value from the node's value to
the child's, and that move is credited to the split's feature. A row's credit per feature
is the sum over the trees of the moves on its path, so the credits plus the trees' root
values add up to the row's raw score (log-odds) exactly as the trees store them.

The path depends only on the leaf the row reaches, so the credits of every (tree, leaf) are
computed once when the model loads (``trees x leaves x features`` floats: 5 MB for the
shipped model); a row costs the leaves it reaches (the native trees of centime.risk.trees
when the model has them, else a ``pred_leaf`` call: the same leaves, LightGBM's own rules for
missing values) and one gather. tests/risk/test_model.py measures how
often its top reason is TreeSHAP's.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from centime.risk.single_row import SingleRow
from centime.risk.trees import Forest

__all__ = ["PathExplainer"]

F64 = npt.NDArray[np.float64]
ROWS_PER_GATHER = 64  # rows x trees x features floats per gather: about 10 MB at most


class PathExplainer:
    """Per-feature path credits of rows of one Booster."""

    __slots__ = (
        "_credits",
        "_leaves_per_tree",
        "_offsets",
        "_sparse",
        "booster",
        "features",
        "single",
        "trees",
    )

    def __init__(
        self, booster: lgb.Booster, single: SingleRow | None = None, trees: Forest | None = None
    ) -> None:
        dump = booster.dump_model()
        self.booster = booster
        self.single = single  # one row's leaves through the single-row C API
        self.trees = trees  # every row's leaves natively (then ``single`` is not used)
        self.features = int(dump["max_feature_idx"]) + 1
        infos = dump["tree_info"]
        leaves = max(int(tree["num_leaves"]) for tree in infos)
        credits = np.zeros((len(infos), leaves, self.features), dtype=np.float64)
        for t, tree in enumerate(infos):
            if int(tree.get("num_cat", 0)):
                raise ValueError("path credits of categorical splits are not implemented")
            _walk(tree["tree_structure"], np.zeros(self.features), credits[t])
        self._credits = credits.reshape(len(infos) * leaves, self.features)
        self._offsets = np.arange(len(infos), dtype=np.int64) * leaves  # tree t's first leaf
        self._leaves_per_tree = leaves
        # The table's non-zero entries per leaf (a path's few features), summed natively.
        self._sparse: Any = None
        if trees is not None:
            self._sparse = trees.credit_table(
                *_sparse(self._credits), self._leaves_per_tree, self.features
            )

    def leaves(self, rows: F64) -> npt.NDArray[Any]:
        """The leaf of each row in each tree (rows x trees)."""
        if self.trees is not None:
            return self.trees.leaves(rows)
        if len(rows) == 1 and self.single is not None:
            return self.single.leaves(rows[0]).reshape(1, -1)
        leaves = np.asarray(self.booster.predict(rows, pred_leaf=True, num_threads=1))
        return leaves.reshape(len(rows), -1)

    def credits(self, rows: F64) -> F64:
        """One row of per-feature credits (raw score units) per row of ``rows``: summed
        natively over the leaves' non-zero credits when the native trees are there (the same
        sums, bit for bit), else gathered from the dense table by numpy."""
        leaves = self.leaves(rows)
        if self._sparse is not None and len(rows):
            out = np.empty((len(rows), self.features), dtype=np.float64)
            self._sparse.sum(np.ascontiguousarray(leaves, dtype=np.int32), out)
            return out
        return self.dense_credits(leaves, len(rows))

    def dense_credits(self, leaves: npt.NDArray[Any], n_rows: int) -> F64:
        """The credits of rows that reached ``leaves``, gathered from the dense table (the
        reference of the native sum)."""
        if n_rows == 1:  # a single decision: one gather
            flat_row = leaves[0].astype(np.int64) + self._offsets
            one: F64 = self._credits[flat_row].sum(axis=0, keepdims=True)
            return one
        flat = leaves.reshape(n_rows, -1).astype(np.int64) + self._offsets
        out = np.empty((n_rows, self.features), dtype=np.float64)
        for start in range(0, n_rows, ROWS_PER_GATHER):
            chunk = flat[start : start + ROWS_PER_GATHER]
            out[start : start + len(chunk)] = self._credits[chunk].sum(axis=1)
        return out


def _sparse(dense: F64) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], F64]:
    """The dense (leaves x features) table as CSR arrays: indptr, features, values, keeping
    every entry but the +0.0 ones (a -0.0 is kept: it can change a sum's sign of zero)."""
    keep = (dense != 0.0) | np.signbit(dense)
    counts = keep.sum(axis=1)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    rows, features = np.nonzero(keep)  # row-major: each leaf's features in order
    del rows
    return indptr, features.astype(np.int32), np.ascontiguousarray(dense[keep])


def _walk(node: dict[str, Any], path: F64, out: F64) -> None:
    """Fill ``out[leaf]`` with the credits on the path to each leaf under ``node``."""
    if "leaf_index" in node:
        out[int(node["leaf_index"])] = path
        return
    value = float(node["internal_value"])
    feature = int(node["split_feature"])
    for side in ("left_child", "right_child"):
        child = node[side]
        child_value = float(
            child["leaf_value"] if "leaf_index" in child else child["internal_value"]
        )
        step = path.copy()
        step[feature] += child_value - value
        _walk(child, step, out)
