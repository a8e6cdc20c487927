"""The model's features: the vectorised path (training, backtests) and the online path (the
engine) give the same rows on the same events and labels; a label never counts before it
arrives; absent signals are unknown (NaN), not risky."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from centime.risk.field import FIELD_INDEX, FIELD_NAMES, FieldState, columns_of, compute_matrix
from centime.risk.simulate import TYPOLOGIES, LabelledEvent, SimConfig, simulate
from centime.risk.types import RiskEvent

S = 1_000_000_000
DAY = 86_400 * S
DELAY_NS = 2 * DAY


@pytest.fixture(scope="module")
def labelled() -> list[LabelledEvent]:
    return simulate(
        SimConfig(
            customers=200,
            merchants=12,
            days=12,
            seed=5,
            fraud_per_day_per_k={name: 3.0 for name in TYPOLOGIES},
        )
    )


def arrivals_of(events: list[LabelledEvent]) -> npt.NDArray[np.int64]:
    return np.array(
        [e.event.timestamp_ns + DELAY_NS if e.label else -1 for e in events], dtype=np.int64
    )


def online_rows(
    events: list[RiskEvent], arrivals: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Each event's row from FieldState, labels told at their arrival (before any event at
    or after it)."""
    state = FieldState()
    pending = sorted((int(a), i) for i, a in enumerate(arrivals.tolist()) if a >= 0)
    k = 0
    rows = []
    for event in events:
        while k < len(pending) and pending[k][0] <= event.timestamp_ns:
            arrived, j = pending[k]
            state.add_label(events[j].payer, events[j].payee, arrived)
            k += 1
        rows.append(state.compute(event))
        state.update(event)
    return np.array(rows)


def test_online_and_vectorised_rows_agree(labelled: list[LabelledEvent]) -> None:
    events = [e.event for e in labelled]
    arrivals = arrivals_of(labelled)
    vectorised = compute_matrix(columns_of(events), arrivals)
    online = online_rows(events, arrivals)
    assert vectorised.shape == online.shape == (len(events), len(FIELD_NAMES))
    # Running sums (online) against prefix sums (vectorised): rounding differs in the last bits.
    same = np.isclose(vectorised, online, rtol=1e-5, atol=1e-9, equal_nan=True)
    bad = [FIELD_NAMES[j] for j in np.flatnonzero(~same.all(axis=0))]
    assert not bad
    # The label features did see labels, the amount features amounts.
    assert np.nansum(vectorised[:, FIELD_INDEX["payee_fraud_n_7d"]]) > 0
    assert np.nanmax(vectorised[:, FIELD_INDEX["payer_max_30d"]]) > 0


def test_a_label_never_counts_before_it_arrives(labelled: list[LabelledEvent]) -> None:
    """Leakage: for decisions across the file, the row computed with every label equals the
    row computed with only the labels that had arrived by its time."""
    events = [e.event for e in labelled]
    cols = columns_of(events)
    arrivals = arrivals_of(labelled)
    full = compute_matrix(cols, arrivals)
    label_columns = [j for j, name in enumerate(FIELD_NAMES) if "_fraud_" in name]
    changed = 0
    for i in np.linspace(0, len(events) - 1, 40).astype(int).tolist():
        known = np.where(arrivals <= cols.timestamps_ns[i], arrivals, -1)
        cut = compute_matrix(cols, known)
        assert np.array_equal(full[i], cut[i], equal_nan=True), i
        nothing = compute_matrix(cols, np.full(len(events), -1, dtype=np.int64))
        changed += int(
            not np.array_equal(full[i, label_columns], nothing[i, label_columns], equal_nan=True)
        )
    assert changed > 0  # and labels that had arrived did count


def test_absent_signals_are_unknown_not_risky() -> None:
    t = 1_767_225_600 * S
    card = RiskEvent(t, "payment", 12_500_000, "USD", "C1", "T9")  # no device, IP, card id
    state = FieldState()
    row = state.compute(card)
    for name in (
        "payer_device_new",
        "payer_ip_new",
        "payer_instrument_new",
        "payer_mean_30d",
        "payer_max_1d",
        "amount_to_payer_mean_30d",
        "amount_payer_z_30d",
        "payer_since_last_h",
        "payer_age_d",
        "payer_fraud_since_d",
    ):
        assert math.isnan(row[FIELD_INDEX[name]]), name
    assert row[FIELD_INDEX["payer_n_30d"]] == 0.0
    assert row[FIELD_INDEX["f_amount"]] == 12.5
    state.update(card)
    again = state.compute(card._replace(timestamp_ns=t + 3_600 * S, amount=25_000_000))
    assert again[FIELD_INDEX["amount_to_payer_mean_30d"]] == 2.0
    assert again[FIELD_INDEX["payer_since_last_h"]] == 1.0
    assert again[FIELD_INDEX["pair_n_before"]] == 1.0
