"""The C state (centime.risk._cstate) against the Python reference classes: the same outputs,
bit for bit, on random event streams (time going forward with jumps, out of order within a
bucket and beyond, huge gaps, zero, negative and huge amounts, labels arriving late), and
the same buckets held (memory). Skipped when the extension is not built from the source on
disk. The reference is whatever runs here: compiled by mypyc, or Python
(``CENTIME_RISK_NATIVE=pure``)."""

from __future__ import annotations

import importlib
import math
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk import native
from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.field import (
    FIELD_NAMES,
    FIELD_WINDOWS,
    FieldState,
    NativeFieldState,
    new_field_state,
)
from centime.risk.field import _Party as _PyParty
from centime.risk.sketch import BoundedMap, PairCounts
from centime.risk.types import RiskEvent
from centime.risk.windows import STANDARD_WINDOWS, WindowSet, WindowSpec, window_spec

S = 1_000_000_000
DAY = 86_400 * S
INT64_MAX = 2**63 - 1


def _cstate() -> ModuleType | None:
    if importlib.util.find_spec("centime.risk._cstate") is None:
        return None
    if not native.stamp_matches(native.CSTATE_STAMP, native._cstate_digest):
        return None
    return importlib.import_module("centime.risk._cstate")


CSTATE = _cstate()


@contextmanager
def c_state() -> Iterator[None]:
    """state_module() gives the C state, even under CENTIME_RISK_NATIVE=pure (the reference
    is then pure Python)."""
    saved = list(native._STATE)
    native._STATE[:] = [CSTATE]
    try:
        yield
    finally:
        native._STATE[:] = saved


pytestmark = pytest.mark.skipif(CSTATE is None, reason="the C state is not built (make install)")


def bits(values: Any) -> list[str]:
    """Floats as their exact bits (NaN is NaN whatever its sign; -0.0 is not 0.0)."""
    return [float(v).hex() for v in values]


# -- WindowSet ------------------------------------------------------------------------------

SPECS = st.sampled_from(
    [
        STANDARD_WINDOWS,
        FIELD_WINDOWS,
        (window_spec("15m", 900, 15),),
        (WindowSpec("tiny", 7, 3), WindowSpec("one", 1, 1), window_spec("1m", 60, 6)),
        (WindowSpec("ns", 1, 5), WindowSpec("odd", 1_000_003, 2)),
    ]
)
# Steps between events: none, inside a bucket, a bucket or two, past every window, back in time.
GAPS = st.one_of(
    st.just(0),
    st.integers(0, 20),
    st.integers(0, 5 * S),
    st.integers(0, 400 * S),
    st.integers(0, 10_000 * S),
    st.integers(0, 400 * DAY),
    st.integers(-3_600 * S, 0),
    # Steps of a few buckets: windows partly left behind, several buckets dropped at once.
    st.integers(0, 12).map(lambda k: k * 5 * S + 1),
    st.integers(0, 30).map(lambda k: k * 1_800 * S + 7),
    st.integers(0, 10).map(lambda k: k * 3 + 1),
)
VALUES = st.one_of(
    st.just(0.0),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**6), 10**6).map(float),
    st.sampled_from([0.1, 0.2, 0.3, 1e-300, -0.0, 1e300]),
)
STEP = st.tuples(GAPS, VALUES, st.integers(-3, 3), st.sampled_from(["add", "add", "read", "into"]))


def _held(reference: WindowSet) -> list[int]:
    return [len(entries) // 3 for entries in reference._entries]


@settings(max_examples=400, deadline=None)
@given(SPECS, st.integers(-(10**15), 2 * 10**18), st.lists(STEP, min_size=10, max_size=120))
def test_windowset_is_the_reference_bit_for_bit(
    specs: tuple[WindowSpec, ...], start: int, steps: list[tuple[int, float, int, str]]
) -> None:
    assert CSTATE is not None
    reference, native_ = WindowSet(specs), CSTATE.WindowSet(specs)
    now = start
    for gap, value, count, what in steps:
        now = min(now + gap, INT64_MAX)
        if what == "add":
            if count == 1:
                reference.add(now, value)
                native_.add(now, value)
            else:
                reference.add(now, value, count)
                native_.add(now, value, count)
        elif what == "read":
            counts, sums = reference.read(now)
            native_counts, native_sums = native_.read(now)
            assert native_counts == counts and bits(native_sums) == bits(sums)
            assert all(type(c) is int for c in native_counts)
        else:
            out: list[float] = [7.0]
            native_out: list[float] = [7.0]
            reference.read_into(out, now)
            native_.read_into(native_out, now)
            assert bits(native_out) == bits(out)
        held = native_.held()
        assert held == _held(reference)  # the same buckets kept: the same memory bound
        assert all(h <= spec.buckets for h, spec in zip(held, specs, strict=True))
    later = min(now + 31 * DAY, INT64_MAX)
    counts, sums = reference.read(later)
    assert native_.read(later) == (counts, sums)


@pytest.mark.parametrize("seed", range(4))
def test_windowset_long_random_streams(seed: int) -> None:
    """Long streams hypothesis seldom draws: many buckets, several dropped at once while
    the window keeps others, sums that round (a subtraction order changed shows here)."""
    assert CSTATE is not None
    rng = random.Random(seed)
    all_specs = [STANDARD_WINDOWS, FIELD_WINDOWS, (WindowSpec("tiny", 7, 3),)]
    for trial in range(60):
        specs = all_specs[trial % len(all_specs)]
        width = specs[0].width_ns
        reference, native_ = WindowSet(specs), CSTATE.WindowSet(specs)
        now = rng.randrange(0, 2 * 10**18)
        for _ in range(150):
            now += rng.choice([0, 1, width // 2, width, 2 * width + 1, 4 * width, -width])
            value = rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(0, 1), 0.1, 1e-9, -0.0])
            reference.add(now, value)
            native_.add(now, value)
            counts, sums = reference.read(now)
            native_counts, native_sums = native_.read(now)
            assert native_counts == counts and bits(native_sums) == bits(sums)
        assert native_.held() == _held(reference)


def test_field_state_long_random_stream() -> None:
    assert CSTATE is not None
    rng = random.Random(11)
    reference = FieldState()
    with c_state():
        native_, fused = new_field_state(True), new_field_state(True)
    matrix = np.empty((2, len(FIELD_NAMES)))
    parties = [f"p{i}" for i in range(12)]
    now = 1_767_225_600 * S
    for i in range(4_000):
        now += rng.choice([0, S, 60 * S, 1_800 * S, 3 * 3_600 * S, 2 * DAY, -600 * S])
        payer, payee = rng.choice(parties), rng.choice([*parties, ""])
        amount = rng.choice([0, rng.randrange(1, 10**9), rng.randrange(10**9, 10**13)])
        event = RiskEvent(
            now,
            rng.choice(TYPES),
            amount,
            rng.choice(ASSETS),
            payer,
            payee,
            rng.choice([None, "d1", "d2"]),
            None,
            rng.choice([None, "c1"]),
        )
        if i % 37 == 0:
            reference.add_label(payer, payee, now)
            native_.add_label(payer, payee, now)
            fused.add_label(payer, payee, now)
        row = reference.compute(event)
        assert bits(native_.compute(event)) == bits(row), i
        fused.step_into(matrix, i % 2, event)
        assert bits(matrix[i % 2]) == bits(row), i
        reference.update(event)
        native_.update(event)


def test_windowset_refuses_what_it_cannot_hold() -> None:
    assert CSTATE is not None
    with pytest.raises(ValueError):
        CSTATE.WindowSet((WindowSpec("zero", 0, 3),))
    windows = CSTATE.WindowSet(STANDARD_WINDOWS)
    with pytest.raises(OverflowError):
        windows.add(2**63, 1.0)  # beyond int64: refused, nothing counted
    with pytest.raises(TypeError):
        windows.add(1, "1")
    with pytest.raises(TypeError):
        windows.read_into((), 1)
    assert windows.read(0) == ([0] * 5, [0.0] * 5)


# -- FieldState -----------------------------------------------------------------------------

TYPES = ["payment", "transfer", "topup", "signup", "payout", "topup_declined", "mystery"]
ASSETS = ["USD", "JPY", "XXX"]  # scale 6, 4, unknown (0)
AMOUNTS = st.one_of(
    st.just(0),
    st.integers(1, 10**9),
    st.integers(-(10**6), -1),
    st.integers(10**15, 10**24),
)
FIELD_GAPS = st.one_of(
    st.just(0),
    st.integers(0, 90 * S),
    st.integers(0, 10 * 3_600 * S),
    st.integers(3_600 * S, 30 * 3_600 * S),  # an hour to a day: windows partly left behind
    st.integers(0, 40 * DAY),
    st.integers(0, 400 * DAY),  # past 2**53 ns: the divisions of long gaps
    st.integers(-2 * 3_600 * S, 0),  # an event older than the last one
)
PARTIES = st.sampled_from(["a", "b", "c", "d", "a", "b", ""])
THINGS = st.one_of(st.none(), st.just(""), st.sampled_from(["x", "y", "z"]))
EVENT = st.tuples(
    FIELD_GAPS,
    st.sampled_from(TYPES),
    AMOUNTS,
    st.sampled_from(ASSETS),
    PARTIES,
    PARTIES,
    THINGS,
    THINGS,
    THINGS,
    st.one_of(st.none(), st.integers(0, 60 * DAY)),  # a fraud label on it arrives this late
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2 * 10**18), st.lists(EVENT, min_size=5, max_size=80))
def test_native_field_state_is_the_reference_bit_for_bit(
    start: int, steps: list[tuple[Any, ...]]
) -> None:
    assert CSTATE is not None
    reference = FieldState()
    with c_state():
        native_ = new_field_state(True)
    assert isinstance(native_, NativeFieldState)
    with c_state():
        fused = new_field_state(True)  # the engine's path: step_into, the row in C
    matrix = np.full((3, len(FIELD_NAMES)), 7.0)
    now = start
    pending: list[tuple[int, str, str]] = []
    for gap, kind, amount, asset, payer, payee, device, ip, instrument, delay in steps:
        now = max(0, min(now + gap, 2**62))
        due = [p for p in pending if p[0] <= now]
        pending = [p for p in pending if p[0] > now]
        for arrival, label_payer, label_payee in sorted(due):  # labels arrive late, in order
            reference.add_label(label_payer, label_payee, arrival)
            native_.add_label(label_payer, label_payee, arrival)
            fused.add_label(label_payer, label_payee, arrival)
        event = RiskEvent(now, kind, amount, asset, payer, payee, device, ip, instrument)
        row = reference.compute(event)
        assert bits(native_.compute(event)) == bits(row)
        fused.step_into(matrix, 1, event)
        assert bits(matrix[1]) == bits(row)
        reference.update(event)
        native_.update(event)
        if delay is not None:
            pending.append((now + delay, payer, payee))
    assert bits(matrix[0]) == bits(matrix[2]) == bits([7.0] * len(FIELD_NAMES))  # one row
    for party in ("a", "b", "c", "d"):
        for kind_ in ("payers", "payees"):
            ref = getattr(reference, kind_).get(party)
            for state in (native_, fused):
                got = getattr(state, kind_).get(party)
                if ref is None:
                    assert got is None
                else:  # the same buckets held
                    assert got.held() == [len(e) // 5 for e in ref.entries]
    later = RiskEvent(now + 45 * DAY, "payment", 1, "USD", "a", "b")
    expected = reference.compute(later)
    assert bits(native_.compute(later)) == bits(expected)
    fused.step_into(matrix, 0, later)
    assert bits(matrix[0]) == bits(expected)


@pytest.mark.parametrize("seed", [5, 6, 7, 8, 9, 10])
def test_step_into_past_the_exact_limits_is_the_reference(seed: int) -> None:
    """Beyond the exact maps (parties sharing slots, pairs and uses in the count-min sketch)
    the fused step reads the counts its ``add`` returns: still the reference's rows."""
    assert CSTATE is not None
    reference = FieldState()
    with c_state():
        native_ = new_field_state(True)
    assert isinstance(native_, NativeFieldState)
    reference.payers, reference.payees = BoundedMap(_PyParty, 3, 4), BoundedMap(_PyParty, 3, 4)
    native_.payers = BoundedMap(CSTATE.Party, 3, 4)
    native_.payees = BoundedMap(CSTATE.Party, 3, 4)
    for state in (reference, native_):
        state.pairs, state.seen, state.device_payers = (PairCounts(4, 64) for _ in range(3))
    rng = random.Random(seed)
    matrix = np.empty((1, len(FIELD_NAMES)))
    now = 1_767_225_600 * S
    for i in range(3_000):
        now += rng.choice([0, S, 600 * S, 5 * 3_600 * S])
        event = RiskEvent(
            now,
            rng.choice(TYPES),
            rng.randrange(0, 10**9),
            "USD",
            f"p{rng.randrange(40)}",
            rng.choice(["", f"q{rng.randrange(40)}"]),
            rng.choice([None, f"d{rng.randrange(30)}"]),
            rng.choice([None, f"i{rng.randrange(30)}"]),
            rng.choice([None, f"c{rng.randrange(30)}"]),
        )
        row = reference.compute(event)
        native_.step_into(matrix, 0, event)
        assert bits(matrix[0]) == bits(row), i
        reference.update(event)
    assert native_.payers.shared_states and native_.pairs.sketch is not None


def test_field_labels_and_absent_parties() -> None:
    assert CSTATE is not None
    with c_state():
        reference, native_ = FieldState(), new_field_state(True)
    assert isinstance(native_, NativeFieldState)
    t = 1_767_225_600 * S
    for state in (reference, native_):
        state.add_label("p", "q", t - DAY)
        state.update(RiskEvent(t, "payment", 5_000_000, "USD", "p", "q", "d", "i", "c"))
    for event in (
        RiskEvent(t + S, "payment", 7_000_000, "USD", "p", "q", "d", "i", "c"),
        RiskEvent(t + S, "payment", 7_000_000, "USD", "new", "", None, None, None),
        RiskEvent(t + S, "signup", 0, "USD", "p", "q"),
    ):
        assert bits(native_.compute(event)) == bits(reference.compute(event))


# -- the rules' features with C windows -----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 * 10**18), st.lists(EVENT, max_size=60))
def test_online_features_with_c_windows_give_the_same_rows(
    start: int, steps: list[tuple[Any, ...]]
) -> None:
    assert CSTATE is not None
    python = OnlineFeatures(FeatureConfig(native_state=False))
    with c_state():
        c = OnlineFeatures(FeatureConfig(native_state=True))
    assert c.native is not None and python.native is None  # the C rules state runs
    now = start
    for gap, kind, amount, asset, payer, payee, device, ip, instrument, _ in steps:
        now = max(0, min(now + gap, 2**62))
        event = RiskEvent(now, kind, amount, asset, payer or "p", payee, device, ip, instrument)
        try:
            expected = python.process(event)
        except (OverflowError, ZeroDivisionError) as error:  # both fail alike
            with pytest.raises(type(error)):
                c.process(event)
            return
        assert bits(c.process(event)) == bits(expected)


# -- which state runs -----------------------------------------------------------------------

PROBE = """
from centime.risk.native import state_module
from centime.risk.engine import RiskEngine
from centime.risk.features import OnlineFeatures
from centime.risk.rules import RulesFile
engine = RiskEngine(OnlineFeatures(), RulesFile(), None)
print(state_module() is not None, type(engine.field).__name__)
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, ["True", "NativeFieldState"]),
        ("pure", ["False", "FieldState"]),
        ("mypyc", ["False", "FieldState"]),
    ],
)
def test_the_engine_uses_the_c_state_unless_told_not_to(
    setting: str | None, expected: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != native.ENV_NATIVE}
    if setting is not None:
        env[native.ENV_NATIVE] = setting
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == expected


def test_nan_is_nan_in_bits() -> None:
    assert bits([math.nan, -math.nan]) == ["nan", "nan"] and bits([-0.0]) != bits([0.0])


def test_a_failed_step_into_counts_nothing() -> None:
    """A timestamp outside int64 (or a matrix field_step refuses) raises before the Python
    side counts the pair, the uses or the device's payers: the next rows are the reference's."""
    reference = FieldState()
    with c_state():
        native_ = new_field_state(True)
    assert isinstance(native_, NativeFieldState)
    matrix = np.empty((1, len(FIELD_NAMES)))
    bad = RiskEvent(2**63, "payment", 10**6, "USD", "a", "b", "dev", "ip", "card")
    with pytest.raises(OverflowError):
        native_.step_into(matrix, 0, bad)
    with pytest.raises(IndexError):
        native_.step_into(matrix, 1, bad._replace(timestamp_ns=10**18))
    with pytest.raises(ValueError):
        native_.step_into(np.empty((1, 3)), 0, bad._replace(timestamp_ns=10**18))
    for t in (10**18, 10**18 + S):
        event = bad._replace(timestamp_ns=t)
        row = reference.compute(event)
        native_.step_into(matrix, 0, event)
        assert bits(matrix[0]) == bits(row)
        reference.update(event)
