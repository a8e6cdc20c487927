"""The C state when memory runs out: every allocation a call makes is made to fail in turn
(``_cstate._fail_alloc_after``). Each time the call raises MemoryError and the state is
exactly as before it: a twin that never saw the call reads the same, bit for bit, and after
the call succeeds on both they still agree. Until the call runs through with no allocation
left to fail, so every allocation point is tried. Skipped when the extension is not built."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.types import RiskEvent
from centime.risk.windows import STANDARD_WINDOWS

from .test_cstate import CSTATE, bits, c_state

pytestmark = pytest.mark.skipif(CSTATE is None, reason="the C state is not built (make install)")

S = 1_000_000_000
T0 = 10**18


LEAK_REPEATS = 200  # failed calls per allocation point; a leak of 16 bytes each is seen


def bytes_kept(make: Callable[[], tuple[Any, Any]], call: Callable[[Any], object], n: int) -> int:
    """How many traced bytes LEAK_REPEATS fresh states, each failing call at allocation n and
    then dropped, keep (PyMem allocations are traced): about 0 unless a failed call leaks.
    A fresh state each time: a failed call may keep room it made (grown tables), so the
    same state would not fail at n again."""
    assert CSTATE is not None

    def fail() -> None:
        state = make()[0]
        CSTATE._fail_alloc_after(n)
        try:
            call(state)
        except MemoryError:
            return
        finally:
            CSTATE._fail_alloc_after(-1)
        raise AssertionError(f"allocation {n} did not fail again")

    def kept(step: Callable[[], object]) -> int:
        step()  # warm: whatever the first time caches
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(LEAK_REPEATS):
                step()
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    # less what making and dropping the states alone keeps: the first few hundred
    # OnlineFeatures fill caches (~20 kB), after that it is noise of a few kB, not growing
    kept(make)
    return kept(fail) - kept(make)


def each_allocation_failing(
    make: Callable[[], tuple[Any, Any]],
    call: Callable[[Any], object],
    same: Callable[[Any, Any], None],
    leaks: bool = False,
) -> int:
    """For n = 0, 1, ...: a fresh (state, twin) from make; call(state) with the allocation
    after the next n failing raises MemoryError (and, with leaks, keeps no memory however often
    it fails), and then same(state, twin) holds, and again once call ran on both. Until call
    succeeds without the failure firing. Returns how many allocation points failed."""
    assert CSTATE is not None
    n = 0
    while True:
        state, twin = make()
        CSTATE._fail_alloc_after(n)
        try:
            call(state)
        except MemoryError:
            assert CSTATE._fail_alloc_after(-1) == -1  # it fired
            if leaks:  # costs LEAK_REPEATS makes: asked for where make is cheap
                assert bytes_kept(make, call, n) < 16 * LEAK_REPEATS, f"allocation {n} leaks"
            same(state, twin)
            call(state)  # the next call works
            call(twin)
            same(state, twin)
            n += 1
            continue
        finally:
            CSTATE._fail_alloc_after(-1)
        return n


def test_the_hook_fails_one_allocation_once() -> None:
    assert CSTATE is not None
    windows = CSTATE.WindowSet(STANDARD_WINDOWS)
    assert CSTATE._fail_alloc_after(0) == -1
    with pytest.raises(MemoryError):
        windows.add(T0, 1.0)
    windows.add(T0, 1.0)  # once only
    fresh = CSTATE.WindowSet(STANDARD_WINDOWS)
    assert CSTATE._fail_alloc_after(10**6) == -1
    fresh.add(T0, 1.0)
    assert CSTATE._fail_alloc_after(-1) == 10**6 - 5  # five windows: five allocations


# -- WindowSet ------------------------------------------------------------------------------


def windowsets(history: list[tuple[int, float]]) -> Callable[[], tuple[Any, Any]]:
    def make() -> tuple[Any, Any]:
        assert CSTATE is not None
        pair = CSTATE.WindowSet(STANDARD_WINDOWS), CSTATE.WindowSet(STANDARD_WINDOWS)
        for windows in pair:
            for t, value in history:
                windows.add(t, value)
        return pair

    return make


def same_windows(a: Any, b: Any) -> None:
    assert a.held() == b.held()
    for t in (T0 - 5 * S, T0 + 3_600 * S, T0 + 40 * 86_400 * S):  # reading moves both alike
        (ca, sa), (cb, sb) = a.read(t), b.read(t)
        assert ca == cb and bits(sa) == bits(sb)


@pytest.mark.parametrize(
    "history",
    [
        [],  # the first event allocates every window
        [(T0 - i * 301 * S, 0.1 * i) for i in range(8)],  # full buffers, older events
        [(T0 - 7 * 86_400 * S + i * 3_600 * S, 1.0) for i in range(16)],
    ],
)
def test_a_windowset_add_fails_whole(history: list[tuple[int, float]]) -> None:
    failed = each_allocation_failing(
        windowsets(history), lambda w: w.add(T0 + 11 * S, 2.5, 2), same_windows, leaks=True
    )
    if not history:  # with history the buffers may already have room: nothing to fail
        assert failed >= 1


# -- the model's parties --------------------------------------------------------------------


def parties(history: list[tuple[int, float]]) -> Callable[[], tuple[Any, Any]]:
    def make() -> tuple[Any, Any]:
        assert CSTATE is not None
        made = []
        for _ in range(2):
            payer, payee = CSTATE.Party(), CSTATE.Party()
            for t, amount in history:
                payer.add(t, amount, 1)
                payee.add(t + S, amount)
                payee.add_fraud(t)
            made.append((payer, payee))
        return made[0], made[1]

    return make


def same_parties(a: tuple[Any, Any], b: tuple[Any, Any]) -> None:
    assert CSTATE is not None
    for t in (T0 + S, T0 + 2 * 86_400 * S):
        rows: list[list[float]] = []
        for payer, payee in (a, b):
            out: list[float] = []
            CSTATE.party_rows(out, payer, payee, 12.5, t)
            CSTATE.party_labels(out, payer, t)
            CSTATE.party_labels(out, payee, t)
            out += [*payer.held(), *payee.held(), payer.first_ns, payee.last_ns]
            rows.append(out)
        assert bits(rows[0]) == bits(rows[1])


def field_step(pair: tuple[Any, Any]) -> None:
    assert CSTATE is not None
    matrix = np.zeros((1, CSTATE.FIELD_ROW_WIDTH))
    CSTATE.field_step(matrix, 0, *pair, 3.0, 42.0, T0, 0.0, 1.0, 0.0, 1.0, 2.0)


HISTORIES = [[], [(T0 - i * 3_600 * S, float(i)) for i in range(4)]]


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize(
    "call",
    [
        field_step,  # both parties or neither
        lambda pair: pair[0].add(T0, 7.0, 1),
        lambda pair: pair[0].add_fraud(T0),  # the labels' windows, allocated on the first
    ],
)
def test_a_party_update_fails_whole(
    history: list[tuple[int, float]], call: Callable[[Any], object]
) -> None:
    failed = each_allocation_failing(parties(history), call, same_parties, leaks=True)
    assert failed >= (1 if not history else 0)


def test_field_step_fails_whole_when_only_the_payee_must_grow() -> None:
    """The payer's windows have room, the payee's hourly one is full: a payer counted alone
    would be half an event."""
    assert CSTATE is not None
    hour, day = 3_600 * S, 86_400 * S
    start = T0 - T0 % day  # hours 0 to 3 of one day: one 6-hour and one daily bucket

    def make() -> tuple[Any, Any]:
        assert CSTATE is not None
        made = []
        for _ in range(2):
            payer, payee = CSTATE.Party(), CSTATE.Party()
            for h in range(3):
                payer.add(start + h * hour, 1.0)  # 3 buckets in room for 4
            for h in range(2):
                payee.add(start + h * hour, 1.0)  # 2 buckets in room for 2
            made.append((payer, payee))
        return made[0], made[1]

    def step(pair: tuple[Any, Any]) -> None:
        assert CSTATE is not None
        matrix = np.zeros((1, CSTATE.FIELD_ROW_WIDTH))
        CSTATE.field_step(matrix, 0, *pair, 3.0, 42.0, start + 3 * hour, 0.0, 1.0, 0.0, 1.0, 2.0)

    assert each_allocation_failing(make, step, same_parties) == 1


# -- the shared-thing graph -----------------------------------------------------------------


def graphs(links: int) -> Callable[[], tuple[Any, Any]]:
    def make() -> tuple[Any, Any]:
        assert CSTATE is not None
        pair = CSTATE.Components(10), CSTATE.Components(10)
        for g in pair:
            for i in range(links):
                g.link(f"a{i}", f"d:{i % 4}")
                g.link(f"a{i}", f"a{i + 1}", other_is_account=True)
                g.add_inflow(f"a{i}")
        return pair

    return make


NODES = [f"a{i}" for i in range(12)] + [f"d:{i}" for i in range(4)] + ["new", "d:new"]


def same_graphs(a: Any, b: Any) -> None:
    assert (len(a), a.rebuilds) == (len(b), b.rebuilds)
    assert [(a.size(n), a.inflow(n)) for n in NODES] == [(b.size(n), b.inflow(n)) for n in NODES]


@pytest.mark.parametrize("links", [0, 3, 5])  # 10 links: the next one rebuilds
def test_a_graph_link_fails_whole(links: int) -> None:
    failed = each_allocation_failing(graphs(links), lambda g: g.link("new", "d:new"), same_graphs)
    if links != 3:  # at 3 links the arrays have room for one more: nothing to fail
        assert failed >= 1


# -- the rules' state -----------------------------------------------------------------------

PROBES = [
    RiskEvent(T0 + 60 * S, "payment", 10**6, "USD", "a", "b", "dev", "ip", "card"),
    RiskEvent(T0 + 3_600 * S, "transfer", 5 * 10**4, "USD", "b", "c", "dev2", None, "card"),
    RiskEvent(T0 + 86_400 * S, "payout", 10**7, "USD", "b", "bank", None, "ip", None),
]


def rules_states(history: list[RiskEvent], **limits: int) -> Callable[[], tuple[Any, Any]]:
    def make() -> tuple[Any, Any]:
        with c_state():
            pair = [OnlineFeatures(FeatureConfig(native_state=True, **limits)) for _ in range(2)]
        for features in pair:
            assert features.native is not None
            for event in history:
                features.update(event)
        return pair[0], pair[1]

    return make


def same_rows(a: OnlineFeatures, b: OnlineFeatures, event: RiskEvent) -> None:
    """Same sizes, keys and rows: the fixed probes' and the failed event's own (its keys
    are the ones a half-counted event would differ in)."""
    assert a.exact_sizes() == b.exact_sizes()
    for family in ("payer", "payee", "device", "instrument"):
        assert sorted(a.velocity_keys(family)) == sorted(b.velocity_keys(family))  # table order
    for probe in [*PROBES, event]:  # a whole row reads every family, and moves both alike
        assert bits(a.row(probe).all()) == bits(b.row(probe).all())


def events(n: int) -> list[RiskEvent]:
    kinds = ["payment", "topup_carrier", "transfer", "payout", "signup", "topup_declined"]
    return [
        RiskEvent(
            T0 - (n - i) * 600 * S,
            kinds[i % len(kinds)],
            (i + 1) * 10**5,
            "USD",
            f"u{i % 5}",
            f"u{(i + 2) % 7}",
            f"d{i % 3}",
            f"ip{i % 2}",
            f"c{i % 4}",
        )
        for i in range(n)
    ]


CALLS = [
    RiskEvent(T0, "payment", 10**6, "USD", "a", "b", "dev", "ip", "card"),
    RiskEvent(T0, "transfer", 10**6, "USD", "u1", "new", "d1", None, "card"),
    RiskEvent(T0, "topup_carrier", 10**7, "USD", "u2", "u2", None, None, "sim"),
    RiskEvent(T0, "topup_declined", 10**6, "USD", "u3", "u3", "dx", "ipx", "cx"),
    RiskEvent(T0, "signup", 0, "USD", "newbie", "u4", "d9", "ip9", None),
    RiskEvent(T0, "payout", 10**8, "USD", "u0", "bank9", None, None, None),
]


@pytest.mark.parametrize("history", [0, 30])
@pytest.mark.parametrize(
    "limits",
    [{}, {"exact_keys": 3, "exact_pairs": 4, "sketch_width": 8, "max_graph_links": 10}],
)
@pytest.mark.parametrize("event", CALLS)
def test_a_rules_update_fails_whole(history: int, limits: dict[str, int], event: RiskEvent) -> None:
    """Every map, window, list, pair table and graph an event adds to: either all of them
    count it, or (MemoryError) none does."""
    failed = each_allocation_failing(
        rules_states(events(history), **limits),
        lambda f: f.update(event),
        lambda a, b: same_rows(a, b, event),
        leaks=event is CALLS[2] and not history and not limits,  # 600 makes a point: slow
    )
    if history == 0:  # a first event makes every key's state: something to fail
        assert failed >= 1
