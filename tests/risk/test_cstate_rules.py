"""The rules' C state (centime.risk._cstate.RulesState) against the Python OnlineFeatures:
the same rows, bit for bit, read lazily as the shipped rules read them or whole, on random
streams and on long seeded simulator streams; with limits small enough that keys share
states and pairs overflow into the count-min sketch (hashed as Python hashes a tuple).
Skipped when the extension is not built from the source on disk."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk.features import FEATURE_NAMES, FeatureConfig, OnlineFeatures
from centime.risk.rules import RulesFile
from centime.risk.simulate import SimConfig, simulate
from centime.risk.types import EVENT_TYPES, RiskEvent

from .test_cstate import CSTATE, bits, c_state

pytestmark = pytest.mark.skipif(CSTATE is None, reason="the C state is not built (make install)")

S = 1_000_000_000
DAY = 86_400 * S
ROW = len(FEATURE_NAMES)


def pair(**limits: Any) -> tuple[OnlineFeatures, OnlineFeatures]:
    """(C, Python) features with the same configuration."""
    python = OnlineFeatures(FeatureConfig(native_state=False, **limits))
    with c_state():
        c = OnlineFeatures(FeatureConfig(native_state=True, **limits))
    assert c.native is not None and python.native is None
    return c, python


def same_step(c: OnlineFeatures, python: OnlineFeatures, event: RiskEvent, read: int) -> None:
    """One event through both: a whole row, or the rules' lazy reads, or a few features in
    a random order (reading moves windows: C must read what Python reads); then update."""
    rules = RulesFile().current()
    crow, prow = c.row(event), python.row(event)
    if read == 0:
        assert bits(crow.all()) == bits(prow.all())
    elif read == 1:
        fired = [r.code for r in rules.evaluate(event, crow)]
        assert fired == [r.code for r in rules.evaluate(event, prow)]
        assert bits(crow.all()) == bits(prow.all())  # and the rest, computed after
    else:
        order = random.Random(read).sample(range(ROW), 7)
        assert bits(crow[i] for i in order) == bits(prow[i] for i in order)
    c.update(event)
    python.update(event)


TYPES = [*EVENT_TYPES, "mystery"]
ASSETS = ["USD", "JPY", "XXX"]
AMOUNTS = st.one_of(
    st.just(0),
    st.integers(1, 10**6).map(lambda a: a * 10**4),  # round amounts
    st.integers(1, 10**9),
    st.integers(-(10**6), -1),
    st.integers(2**53 - 5, 2**53 + 5),
    st.integers(10**15, 10**24),
)
GAPS = st.one_of(
    st.just(0),
    st.integers(0, 90 * S),
    st.integers(0, 10 * 3_600 * S),
    st.integers(0, 40 * DAY),
    st.integers(0, 400 * DAY),  # past 2**53 ns: the divisions of long gaps
    st.integers(-2 * 3_600 * S, 0),  # an event older than the last one
)
# Account ids that look like tagged things ("d:x" is the device "x"'s node), non-ASCII ones.
PARTIES = st.sampled_from(["a", "b", "c", "d:x", "p:a", "é", "客", "a", "b", ""])
THINGS = st.one_of(st.none(), st.just(""), st.sampled_from(["x", "y", "z", "é"]))
EVENT = st.tuples(
    GAPS,
    st.sampled_from(TYPES),
    AMOUNTS,
    st.sampled_from(ASSETS),
    PARTIES,
    PARTIES,
    THINGS,
    THINGS,
    THINGS,
    st.integers(0, 20),
)
LIMITS = st.sampled_from(
    [
        {},
        {"exact_keys": 2, "exact_pairs": 3, "sketch_width": 4, "max_graph_links": 10},
        {"exact_keys": 1, "exact_pairs": 0, "sketch_width": 2},
    ]
)


# Timestamps near -2**63 too: there `now - a day` is below the int64 range (Python's is
# not bounded; C must saturate, not overflow).
STARTS = st.one_of(st.integers(0, 2 * 10**18), st.integers(-(2**63), -(2**63) + 3 * DAY))


@settings(max_examples=150, deadline=None)
@given(STARTS, LIMITS, st.lists(EVENT, max_size=80))
def test_c_rules_state_gives_the_python_rows(
    start: int, limits: dict[str, int], steps: list[tuple[Any, ...]]
) -> None:
    c, python = pair(**limits)
    now = start
    for gap, kind, amount, asset, payer, payee, device, ip, instrument, read in steps:
        now = max(-(2**63), min(now + gap, 2**62))
        event = RiskEvent(now, kind, amount, asset, payer or "p", payee, device, ip, instrument)
        try:
            python.compute(event)
        except (OverflowError, ZeroDivisionError) as error:  # both fail alike
            with pytest.raises(type(error)):
                c.compute(event)
            return
        same_step(c, python, event, read % 4)
    assert c.exact_sizes() == python.exact_sizes()


@pytest.mark.parametrize(
    ("seed", "limits"),
    [
        (1, {}),
        (2, {"exact_keys": 300, "exact_pairs": 2_000, "sketch_width": 1 << 10}),
        (3, {"exact_keys": 40, "exact_pairs": 200, "sketch_width": 1 << 6, "max_graph_links": 50}),
    ],
)
def test_long_simulated_streams_give_the_same_rows(seed: int, limits: dict[str, int]) -> None:
    """Several days of simulated traffic (every typology): long streams caught order bugs."""
    events = [s.event for s in simulate(SimConfig(customers=300, days=4, seed=seed))]
    assert len(events) > 3_000
    c, python = pair(**limits)
    for i, event in enumerate(events):
        same_step(c, python, event, i % 4)
    assert c.exact_sizes() == python.exact_sizes()


@given(st.text(max_size=6), st.text(max_size=6))
def test_the_sketch_hashes_a_pair_as_python_hashes_its_tuple(a: str, b: str) -> None:
    assert CSTATE is not None
    assert CSTATE.tuple2_hash(a, b) == hash((a, b))
    assert CSTATE.tuple2_hash(a, "d:" + b) == hash((a, "d:" + b))


def test_a_party_sharing_a_state_with_its_payee_updates_it_once_per_step() -> None:
    """With one exact key, every other account shares a slot: payer and payee may be one
    state (the Python objects alias; so do the C pointers)."""
    c, python = pair(exact_keys=1)
    t = 10**18
    for i in range(400):
        kind = ("topup", "payment", "transfer", "topup_carrier")[i % 4]
        event = RiskEvent(t + i * 7 * S, kind, 10**7 + i, "USD", f"u{i % 13}", f"u{i % 7}", "d")
        same_step(c, python, event, i % 3)


def test_views_of_the_c_state() -> None:
    c, python = pair()
    event = RiskEvent(10**18, "payment", 10**6, "USD", "a", "b", "dev", "ip", "card")
    for features in (c, python):
        features.update(event)
        assert features.velocity_keys("payer") == ["a"]
        assert features.holds_account("b") and not features.holds_account("z")
        windows = features.velocity_windows("device", "dev")
        assert windows is not None and windows.read(10**18)[0][0] == 1
        assert features.velocity_windows("payee", "a") is None
    assert c.exact_sizes() == python.exact_sizes()
    with pytest.raises(TypeError):
        c.native.row(("not", "an", "event"))
    with pytest.raises(IndexError):
        c.row(event)[ROW]


# -- the shared-thing graph ------------------------------------------------------------------

NODES = st.sampled_from(["a", "b", "c", "d", "e", "d:x", "x", "i:x", "p:a", "é", "d:é"])
GRAPH_OPS = st.lists(
    st.tuples(st.integers(0, 5), NODES, NODES, st.booleans()), min_size=1, max_size=200
)


@settings(max_examples=200, deadline=None)
@given(st.integers(10, 14), GRAPH_OPS)
def test_c_components_are_the_python_ones(max_edges: int, ops: list[tuple[Any, ...]]) -> None:
    """Random links (account ids that are also tagged things' names: "d:x" is the device
    x's node in both), inflows and reads, with rebuilds every few links."""
    from centime.risk.graph import Components

    assert CSTATE is not None
    python, c = Components(max_edges), CSTATE.Components(max_edges)
    for op, a, b, flag in ops:
        if op <= 2:
            tagged = ("d:" + b) if op == 1 else ("p:" + b) if op == 2 else b
            python.link(a, tagged, other_is_account=flag and op == 0)
            c.link(a, tagged, other_is_account=flag and op == 0)
        elif op == 3:
            python.add_inflow(a)
            c.add_inflow(a)
        for node in (a, b, "d:" + b):
            assert (c.size(node), c.inflow(node)) == (python.size(node), python.inflow(node))
        assert len(c) == len(python) and c.rebuilds == python.rebuilds


def test_a_sketch_wider_than_2_32_is_refused() -> None:
    """depth x width counters: a width past 2**32 (whose product could overflow) raises,
    in the configuration and in the C state (it segfaulted once the sketch was made)."""
    with pytest.raises(ValueError):
        FeatureConfig(exact_pairs=0, sketch_width=2**62)
    config = FeatureConfig(native_state=True, exact_pairs=0, sketch_width=4)
    object.__setattr__(config, "sketch_width", 2**62)  # past the dataclass's check
    with c_state(), pytest.raises(ValueError):
        OnlineFeatures(config)


@pytest.mark.parametrize("field", [0, 1, 2, 3, 4, 5, 6, 7, 8])
def test_a_badly_typed_event_raises_and_counts_nothing(field: int) -> None:
    """Each field's type is checked before anything counts (an int device with the sketch
    active once raised after the windows had counted the event)."""
    c, python = pair(exact_keys=1, exact_pairs=0, sketch_width=2)
    good = RiskEvent(10**18, "payment", 10**6, "USD", "a", "b", "dev", "ip", "card")
    same_step(c, python, good, 0)
    bad = list(good)
    bad[field] = 1.5 if field in (0, 2) else 7
    with pytest.raises(TypeError):
        c.update(RiskEvent(*bad))
    for t in (10**18 + S, 10**18 + 2 * S):
        same_step(c, python, good._replace(timestamp_ns=t), 0)
    assert c.exact_sizes() == python.exact_sizes()
