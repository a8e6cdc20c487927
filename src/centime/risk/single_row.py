"""One row through the model without the Python wrapper's cost: LightGBM's single-row C API.

``Booster.predict`` on one row spends most of its time in Python (checking and converting
the input, building the output): about 70 us against a few for the trees themselves. A
decision scores one row, so the engine calls LightGBM's ``PredictForMatSingleRowFast``
instead, with a configuration prepared once per model (one for the probability, one for
the leaf of each tree, which the reasons read). The same predictor code runs underneath
(tests/risk/test_model.py checks the answers equal ``Booster.predict``'s bit for bit); the
C side takes the booster's lock, and ctypes releases the GIL during the call.
"""

from __future__ import annotations

import ctypes
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from lightgbm import basic
from lightgbm.basic import (
    _C_API_DTYPE_FLOAT64,
    _C_API_PREDICT_LEAF_INDEX,
    _C_API_PREDICT_NORMAL,
    _c_str,
    _safe_call,
)

__all__ = ["SingleRow"]

F64 = npt.NDArray[np.float64]
_DOUBLE_P: Final = ctypes.POINTER(ctypes.c_double)
_LIB: Final[Any] = vars(basic)["_LIB"]  # the C library the wrapper loaded (not exported)


class _Fast:
    """A prepared single-row configuration of one prediction type (freed with it)."""

    def __init__(self, booster: lgb.Booster, kind: int, columns: int, outputs: int) -> None:
        self.handle = ctypes.c_void_p()
        self.outputs = outputs
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(kind),
                ctypes.c_int(0),  # first iteration
                ctypes.c_int(-1),  # every iteration
                ctypes.c_int(_C_API_DTYPE_FLOAT64),
                ctypes.c_int32(columns),
                _c_str("num_threads=1"),
                ctypes.byref(self.handle),
            )
        )

    def __call__(self, row: F64) -> F64:
        data = np.ascontiguousarray(row, dtype=np.float64)
        out = np.empty(self.outputs, dtype=np.float64)
        length = ctypes.c_int64(0)
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                self.handle,
                data.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(length),
                out.ctypes.data_as(_DOUBLE_P),
            )
        )
        return out

    def __del__(self) -> None:
        if self.handle.value:
            _LIB.LGBM_FastConfigFree(self.handle)


class SingleRow:
    """The probability and the leaves of one row, through the single-row C API."""

    __slots__ = ("_leaves", "_probability", "booster")

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster  # kept alive as long as the configurations that point at it
        columns = booster.num_feature()
        trees = booster.num_trees()
        self._probability = _Fast(booster, _C_API_PREDICT_NORMAL, columns, 1)
        self._leaves = _Fast(booster, _C_API_PREDICT_LEAF_INDEX, columns, trees)

    def probability(self, row: F64) -> float:
        return float(self._probability(row)[0])

    def leaves(self, row: F64) -> npt.NDArray[Any]:
        """The leaf index of the row in each tree (as ``predict(pred_leaf=True)``)."""
        return self._leaves(row)
