"""The model's features ("field features"), computed two ways that agree exactly.

The features the fraud-detection field uses on card and wallet payments, for any labelled
file or live traffic: per payer and per payee the count, mean and maximum amount over 1, 7
and 30 days; the amount against the payer's own history (ratio to its mean, z-score); hour
and weekday; time since the party's last event and since it was first seen; how often this
payer paid this payee; whether the device, IP or instrument is new to the payer; and the
LABEL FEEDBACK features: per payer and per payee, the fraud labels that had ARRIVED by the
decision (a chargeback, an analyst's decision, a dispute: days after the event) over 1, 7 and
30 days, their rate against the party's events over the same window, and the days since the
last one arrived.

Absent signals are unknown (NaN: LightGBM sends them down a learned branch), never "risky":
a card payment has no device; a brand-new payer has no mean amount.

Windows are rings of buckets, the same definition as :mod:`centime.risk.windows`: a window of
``n`` buckets of width ``w`` counts the events whose bucket ``t // w`` lies in
``(now // w - n, now // w]``. The 1-day window has 24 buckets of 1 h, the 7-day one 28 of 6 h,
the 30-day one 30 of 1 day. A label counts in its party's windows at its ARRIVAL time, and
only once it has arrived (arrival <= the decision's timestamp).

Two implementations:

- :func:`compute_matrix`: vectorised numpy over a whole time-sorted file (training and the
  backtest: 1.8 million rows in seconds). Each family is sorted by (key, time) once; counts
  and sums are prefix sums between two ``searchsorted`` bounds; maxima a range-max query.
- :class:`FieldState`: online, one event at a time, for the engine (``compute`` then
  ``update``; ``add_label`` when a label arrives). The test suite checks that both give the
  same rows on the same events and labels.

:class:`FieldState` is the reference of the online path; :class:`NativeFieldState` keeps each
party in C arrays (``centime.risk._cstate.Party``, built by setup.py when it can), the same
operations in the same order: its rows are FieldState's bit for bit (tests/risk/
test_cstate.py). :func:`new_field_state` gives the native one when it is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast

import numpy as np
import numpy.typing as npt

from centime.money import ASSETS
from centime.risk.native import state_module
from centime.risk.sketch import BoundedMap, PairCounts
from centime.risk.types import EVENT_TYPES, RiskEvent
from centime.risk.windows import NS_PER_S, WindowSet, WindowSpec, window_spec

__all__ = [
    "FIELD_INDEX",
    "FIELD_NAMES",
    "FIELD_WINDOWS",
    "Columns",
    "FieldState",
    "FieldStateLike",
    "NativeFieldState",
    "columns_of",
    "compute_matrix",
    "new_field_state",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

NS_PER_H: Final = 3_600 * NS_PER_S
NS_PER_DAY: Final = 24 * NS_PER_H
TYPE_IDS: Final = {name: float(i) for i, name in enumerate(EVENT_TYPES)}

FIELD_WINDOWS: Final = (
    window_spec("1d", 86_400, 24),
    window_spec("7d", 7 * 86_400, 28),
    window_spec("30d", 30 * 86_400, 30),
)
WINDOW_NAMES: Final = tuple(s.name for s in FIELD_WINDOWS)
THINGS: Final = ("device", "ip", "instrument")


def _names() -> tuple[str, ...]:
    names = ["f_type", "f_amount", "f_hour", "f_weekday"]
    for family in ("payer", "payee"):
        for w in WINDOW_NAMES:
            names += [f"{family}_n_{w}", f"{family}_mean_{w}", f"{family}_max_{w}"]
    names += ["payee_new_payers_1d", "payee_new_payers_7d"]  # fan-in: first-time payers
    names += [
        "amount_to_payer_mean_30d",
        "amount_payer_z_30d",
        "amount_to_payee_mean_30d",
        "payer_since_last_h",
        "payee_since_last_h",
        "payer_age_d",
        "payee_age_d",
        "pair_n_before",
    ]
    names += [f"payer_{thing}_new" for thing in THINGS]
    names += ["device_payers"]  # distinct payers seen on this device before (shared phones)
    for family in ("payer", "payee"):
        for w in WINDOW_NAMES:
            names += [f"{family}_fraud_n_{w}", f"{family}_fraud_rate_{w}"]
        names.append(f"{family}_fraud_since_d")
    return tuple(names)


FIELD_NAMES: Final = _names()
FIELD_INDEX: Final = {name: i for i, name in enumerate(FIELD_NAMES)}


def scale_of(asset: str) -> int:
    """The asset's scale; an asset the platform does not know counts at scale 0."""
    known = ASSETS.get(asset)
    return known.scale if known else 0


# -- shared arithmetic (both implementations use these, so they agree to the last bit) --------


def _derived(amount: float, n30: float, sum30: float, sq30: float) -> tuple[float, float]:
    """Ratio of the amount to the payer's 30-day mean, and its z-score (NaN when unknown)."""
    if n30 <= 0:
        return math.nan, math.nan
    mean = sum30 / n30
    ratio = amount / mean if mean > 0 else math.nan
    var = sq30 / n30 - mean * mean
    # The spread is floored at a tenth of the mean: a payer who always pays the same has no
    # spread, and the running sums' rounding dust must not make every change look huge.
    spread = max(math.sqrt(max(var, 0.0)), 0.1 * mean)
    z = (amount - mean) / spread if n30 >= 2 and mean > 0 else math.nan
    return ratio, z


@dataclass(frozen=True, slots=True)
class Columns:
    """A labelled file as arrays, in time order (stable: file order breaks ties)."""

    timestamps_ns: I64
    types: list[str]
    amounts: F64  # major units (amount / 10**scale)
    payers: list[str]
    payees: list[str]  # "" when none
    devices: list[str]  # "" when unknown
    ips: list[str]
    instruments: list[str]


def _codes(values: Sequence[str]) -> tuple[I64, I64]:
    """Integer codes for strings, and a mask of the non-empty ones (as 0/1)."""
    table: dict[str, int] = {"": -1}
    codes = np.fromiter(
        (table.setdefault(v, len(table) - 1) for v in values), dtype=np.int64, count=len(values)
    )
    return codes, (codes >= 0).astype(np.int64)


def _bucket_start(t: I64, spec: WindowSpec) -> I64:
    """The first timestamp a window of ``spec`` counts when read at ``t``."""
    w = spec.width_ns
    return (t // w - (spec.buckets - 1)) * w


def _range_max(values: F64, lo: I64, hi: I64) -> F64:
    """max(values[lo:hi]) for each query (NaN for an empty range): a sparse table built one
    level at a time, so memory stays O(n)."""
    out = np.full(len(lo), np.nan)
    length = hi - lo
    valid = length > 0
    if not valid.any():
        return out
    level = np.zeros(len(lo), dtype=np.int64)
    level[valid] = np.floor(np.log2(length[valid])).astype(np.int64)
    table = values
    for k in range(int(level[valid].max()) + 1):
        sel = valid & (level == k)
        if sel.any():
            out[sel] = np.maximum(table[lo[sel]], table[hi[sel] - (1 << k)])
        step = 1 << k
        if len(table) > step:
            table = np.maximum(table[:-step], table[step:])
    return out


class _Family:
    """Events of one family (payer or payee) grouped by key: sorted by (key, sequence)."""

    def __init__(self, keys: I64, amounts: F64) -> None:
        n = len(keys)
        self.present = keys >= 0
        self.order = np.lexsort((np.arange(n), keys))
        self.sorted_keys = keys[self.order]
        self.seq = self.order  # the sequence number of each sorted event
        self.position = np.empty(n, dtype=np.int64)
        self.position[self.order] = np.arange(n)
        values = amounts[self.order]
        self.values = values
        self.cum = np.concatenate(([0.0], np.cumsum(values)))
        self.cum_sq = np.concatenate(([0.0], np.cumsum(values * values)))
        self.keys = keys

    def lower(self, seq_lo: I64) -> I64:
        """For each event, the sorted index of its key's first event with sequence >= seq_lo."""
        m = len(self.keys) + 1
        combined = self.sorted_keys * m + self.seq
        return np.searchsorted(combined, self.keys * m + seq_lo, side="left").astype(np.int64)


def _window_stats(fam: _Family, t: I64, amounts: F64) -> list[F64]:
    """Per window: n, mean, max of the key's earlier events in the window; then the 30-day
    sum and sum of squares (for the derived features)."""
    hi = fam.position  # events before this one in its key's group
    out: list[F64] = []
    sums = sq = np.zeros(0)
    n = np.zeros(0)
    for spec in FIELD_WINDOWS:
        seq_lo = np.searchsorted(t, _bucket_start(t, spec), side="left").astype(np.int64)
        lo = fam.lower(seq_lo)
        n = (hi - lo).astype(np.float64)
        sums = fam.cum[hi] - fam.cum[lo]
        sq = fam.cum_sq[hi] - fam.cum_sq[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
        mx = _range_max(fam.values, lo, hi)
        absent = ~fam.present
        n[absent] = 0.0
        mean[absent] = np.nan
        mx[absent] = np.nan
        out += [n, mean, mx]
    del amounts
    return [*out, sums, sq]


def _newcomers(fam: _Family, t: I64, first: F64) -> list[F64]:
    """Per payee, over 1 and 7 days: its earlier events whose payer paid it for the first
    time (how a mule collecting from many, or cards tested at one shop, look)."""
    cum = np.concatenate(([0.0], np.cumsum(first[fam.order])))
    out = []
    for spec in FIELD_WINDOWS[:2]:
        seq_lo = np.searchsorted(t, _bucket_start(t, spec), side="left").astype(np.int64)
        count = cum[fam.position] - cum[fam.lower(seq_lo)]
        count[~fam.present] = 0.0
        out.append(count)
    return out


def _since(fam: _Family, t: I64) -> tuple[F64, F64]:
    """Hours since the key's previous event, days since its first (NaN: none before)."""
    pos = fam.position
    sorted_t = t[fam.order]
    prev = np.full(len(t), np.nan)
    first = np.full(len(t), np.nan)
    has_prev = pos > 0
    same = np.zeros(len(t), dtype=bool)
    same[has_prev] = fam.sorted_keys[pos[has_prev] - 1] == fam.keys[has_prev]
    prev[same] = (t[same] - sorted_t[pos[same] - 1]) / NS_PER_H
    starts = np.searchsorted(fam.sorted_keys, fam.keys, side="left")
    first[same] = (t[same] - sorted_t[starts[same]]) / NS_PER_DAY
    return prev, first


def _cumcount(codes: I64) -> I64:
    """How many earlier rows have the same code."""
    n = len(codes)
    order = np.lexsort((np.arange(n), codes))
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - starts
    return out


def _label_stats(
    keys: I64, t: I64, fraud_keys: I64, arrivals: I64, n_by_window: list[F64]
) -> list[F64]:
    """Per window: fraud labels arrived for the key (arrival <= t, in the window) and their
    rate against the key's events in the window; then days since the last one arrived."""
    out: list[F64] = []
    times = np.unique(np.concatenate((t, arrivals)))
    m = len(times) + 1
    order = np.lexsort((arrivals, fraud_keys))
    sk, sa = fraud_keys[order], arrivals[order]
    combined = sk * m + np.searchsorted(times, sa, side="left")
    hi = np.searchsorted(combined, keys * m + np.searchsorted(times, t, side="right"), side="left")
    absent = keys < 0
    for spec, n in zip(FIELD_WINDOWS, n_by_window, strict=True):
        start = np.searchsorted(times, _bucket_start(t, spec), side="left")
        lo = np.searchsorted(combined, keys * m + start, side="left")
        count = (hi - lo).astype(np.float64)
        count[absent] = 0.0
        rate = count / np.maximum(n, 1.0)
        out += [count, rate]
    since = np.full(len(t), np.nan)
    last = hi - 1
    ok = (last >= 0) & ~absent
    ok[ok] = sk[last[ok]] == keys[ok]
    since[ok] = (t[ok] - sa[last[ok]]) / NS_PER_DAY
    return [*out, since]


def _thing_new(payers: I64, things: Sequence[str]) -> F64:
    codes, present = _codes(things)
    pair = payers * (int(codes.max(initial=0)) + 2) + codes + 1
    _, inverse = np.unique(pair, return_inverse=True)
    new: F64 = (_cumcount(inverse.astype(np.int64)) == 0).astype(np.float64)
    new[present == 0] = np.nan
    return new


def _distinct_payers(payers: I64, things: Sequence[str], new: F64) -> F64:
    """Per thing (device): how many distinct payers used it before this event (the first
    use of each (payer, thing) pair counted); NaN without one."""
    codes, present = _codes(things)
    first = np.nan_to_num(new, nan=0.0)
    order = np.lexsort((np.arange(len(codes)), codes))
    cum = np.cumsum(first[order]) - first[order]  # before this row, all things together
    starts = np.searchsorted(codes[order], codes[order], side="left")
    before = np.empty(len(codes))
    before[order] = cum - (np.concatenate(([0.0], np.cumsum(first[order])))[starts])
    before[present == 0] = np.nan
    del payers
    return before


def compute_matrix(
    cols: Columns, label_arrivals_ns: I64, label_parties: tuple[I64, I64] | None = None
) -> F64:
    """The field features of every row of ``cols`` (time-sorted), given fraud labels that
    arrive at ``label_arrivals_ns`` (one per fraud row of the file, -1 for none): a row sees
    a label only once it has arrived. ``label_parties`` is unused (the labels belong to the
    rows' own payer and payee)."""
    del label_parties
    t = cols.timestamps_ns
    n = len(t)
    amounts = cols.amounts
    payer_all, _ = _codes(cols.payers)
    payee_all, _ = _codes(cols.payees)
    # Sign-ups move no money: they neither count in nor read the parties' histories (a
    # newcomer's first top-up looks like anyone's first seen event, not like a fresh fake).
    signup = np.fromiter((k == "signup" for k in cols.types), dtype=bool, count=n)
    payer_keys = np.where(signup, -1, payer_all)
    payee_keys = np.where(signup, -1, payee_all)
    feats: list[F64] = [
        np.array([TYPE_IDS.get(k, -1.0) for k in cols.types], dtype=np.float64),
        amounts,
        ((t // NS_PER_H) % 24).astype(np.float64),
        ((t // NS_PER_DAY + 3) % 7).astype(np.float64),  # Monday 0 (the epoch was a Thursday)
    ]
    pair = payer_keys * (int(payee_keys.max(initial=0)) + 2) + payee_keys + 1
    _, inverse = np.unique(pair, return_inverse=True)
    pair_n = _cumcount(inverse.astype(np.int64)).astype(np.float64)
    stats = {}
    for name, keys in (("payer", payer_keys), ("payee", payee_keys)):
        fam = _Family(keys, amounts)
        window = _window_stats(fam, t, amounts)
        feats += window[:-2]
        stats[name] = (fam, window)
    feats += _newcomers(stats["payee"][0], t, (pair_n == 0).astype(np.float64))
    payer_window, payee_window = stats["payer"][1], stats["payee"][1]
    n30, sum30, sq30 = payer_window[6], payer_window[-2], payer_window[-1]
    ratio, z = _derived_arrays(amounts, n30, sum30, sq30)
    payee_ratio, _ = _derived_arrays(amounts, payee_window[6], payee_window[-2], payee_window[-1])
    payee_ratio[payee_keys < 0] = np.nan
    feats += [ratio, z, payee_ratio]
    payer_prev, payer_first = _since(stats["payer"][0], t)
    payee_prev, payee_first = _since(stats["payee"][0], t)
    for values, keys in (
        (payer_prev, payer_keys),
        (payer_first, payer_keys),
        (payee_prev, payee_keys),
        (payee_first, payee_keys),
    ):
        values[keys < 0] = np.nan
    feats += [payer_prev, payee_prev, payer_first, payee_first]
    pair_n[payee_keys < 0] = np.nan
    feats.append(pair_n)
    for things in (cols.devices, cols.ips, cols.instruments):
        new = _thing_new(payer_keys, things)
        new[signup] = np.nan
        feats.append(new)
    feats.append(_distinct_payers(payer_keys, cols.devices, feats[-3]))
    fraud = label_arrivals_ns >= 0
    arrivals = label_arrivals_ns[fraud]
    for keys, every, window in (
        (payer_keys, payer_all, payer_window),
        (payee_keys, payee_all, payee_window),
    ):
        counts = [window[0], window[3], window[6]]
        feats += _label_stats(keys, t, every[fraud], arrivals, counts)
    return np.column_stack(feats)


def _derived_arrays(amounts: F64, n30: F64, sum30: F64, sq30: F64) -> tuple[F64, F64]:
    """:func:`_derived` over arrays (the same IEEE operations in the same order)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        known = n30 > 0
        mean = np.where(known, sum30 / np.where(known, n30, 1.0), np.nan)
        ratio = np.where(known & (mean > 0), amounts / np.where(mean > 0, mean, 1.0), np.nan)
        var = sq30 / np.where(known, n30, 1.0) - mean * mean
        spread = np.maximum(np.sqrt(np.maximum(var, 0.0)), 0.1 * mean)
        ok = known & (n30 >= 2) & (mean > 0)
        z = np.where(ok, (amounts - mean) / np.where(ok, spread, 1.0), np.nan)
    return ratio, z


# -- online: one event at a time ------------------------------------------------------------


_WIDTHS: Final = tuple(s.width_ns for s in FIELD_WINDOWS)
_SIZES: Final = tuple(s.buckets for s in FIELD_WINDOWS)


_STRIDE: Final = 5  # bucket index, count, sum, max, extra (30d: squares; 1d, 7d: newcomers)


class _Party:
    """One payer's (or payee's) history: per window the buckets that hold events (count,
    sum, max; the sum of squares in the 30-day one; first-time payers, as payee, in the 1-
    and 7-day ones) with running totals, all moved by one loop; and the windows of its
    fraud labels.

    The arithmetic is :class:`~centime.risk.windows.WindowSet`'s, operation for operation
    (a total adds each value and subtracts a bucket as the window leaves it), so the rows
    are the ones the per-quantity rings gave; a window's max is the largest of its buckets'.
    Only buckets that hold something are stored: a party seen once costs one entry per
    window, not a ring of 82 buckets.
    """

    __slots__ = (
        "entries",
        "extra",
        "first_ns",
        "frauds",
        "heads",
        "last_fraud_ns",
        "last_ns",
        "n",
        "totals",
    )

    def __init__(self) -> None:
        self.first_ns = -1
        self.last_ns = -1
        self.heads = [-1, -1, -1]
        # Floats: compiled, native arithmetic; exact (bucket indices of hours, small counts).
        self.entries: list[list[float]] = [[], [], []]
        self.n = [0, 0, 0]
        self.totals = [0.0, 0.0, 0.0]
        self.extra = [0.0, 0.0, 0.0]  # newcomers in 1d and 7d; the 30-day sum of squares
        self.frauds: WindowSet | None = None
        self.last_fraud_ns = -1

    def _advance(self, i: int, bucket: int) -> None:
        head, entries = self.heads[i], self.entries[i]
        if head < 0 or bucket - head >= _SIZES[i]:
            entries.clear()
            self.n[i], self.totals[i], self.extra[i] = 0, 0.0, 0.0
        else:
            oldest = bucket - _SIZES[i]  # buckets at or before it leave the window
            n, total, extra = self.n[i], self.totals[i], self.extra[i]
            k = 0
            while k < len(entries) and entries[k] <= oldest:
                n -= int(entries[k + 1])
                total -= entries[k + 2]
                extra -= entries[k + 4]
                k += _STRIDE
            if k:
                del entries[:k]
            self.n[i], self.totals[i], self.extra[i] = n, total, extra
        self.heads[i] = bucket

    def add(self, t_ns: int, amount: float, first_payer: int = 0) -> None:
        """Count an event (``first_payer``: 1 if its payer never paid this payee before)."""
        if self.first_ns < 0:
            self.first_ns = t_ns
        self.last_ns = t_ns
        heads = self.heads
        for i in range(3):
            bucket = t_ns // _WIDTHS[i]
            if bucket > heads[i]:
                self._advance(i, bucket)
            extra = amount * amount if i == 2 else float(first_payer)
            entries = self.entries[i]  # an older event counts in the newest bucket
            if entries and entries[-_STRIDE] == heads[i]:
                entries[-4] += 1.0
                entries[-3] += amount
                entries[-2] = max(entries[-2], amount)
                entries[-1] += extra
            else:
                entries += (float(heads[i]), 1.0, amount, amount, extra)
            self.n[i] += 1
            self.totals[i] += amount
            self.extra[i] += extra

    def read(self, now: int) -> None:
        """Move every window to ``now`` (then ``n``, ``totals``... are as of ``now``)."""
        heads = self.heads
        for i in range(3):
            bucket = now // _WIDTHS[i]
            if bucket > heads[i]:
                self._advance(i, bucket)

    def largest(self, i: int) -> float:
        entries = self.entries[i]
        if not entries:
            return math.nan
        best = entries[3]
        for k in range(3 + _STRIDE, len(entries), _STRIDE):  # no slice: nothing allocated
            best = max(best, entries[k])
        return best

    def add_fraud(self, arrival_ns: int) -> None:
        if self.frauds is None:
            self.frauds = WindowSet(FIELD_WINDOWS)
        self.frauds.add(arrival_ns, 1.0)
        self.last_fraud_ns = max(self.last_fraud_ns, arrival_ns)


_EMPTY_WINDOWS = (0.0, math.nan, math.nan, 0.0, math.nan, math.nan, 0.0, math.nan, math.nan)


def _party_windows(party: _Party | None, now: int) -> list[float]:
    """Per window [n, mean, max] flattened (read ``party`` at ``now`` first)."""
    if party is None:
        return list(_EMPTY_WINDOWS)
    out: list[float] = []
    for i in range(3):
        c = party.n[i]
        if c:
            out += (float(c), party.totals[i] / c, party.largest(i))
        else:
            out += (0.0, math.nan, math.nan)
    return out


def _party_labels(party: _Party | None, now: int) -> list[float]:
    if party is None:
        return [0.0, 0.0] * 3 + [math.nan]
    out: list[float] = []
    frauds = party.frauds.read(now)[0] if party.frauds is not None else [0, 0, 0]
    for f, n in zip(frauds, party.n, strict=True):
        out += [float(f), f / max(float(n), 1.0)]
    # float(difference) / unit: the same double compiled (mypyc divides two ints as doubles)
    # or not (Python's int / int rounds once: another last bit past 2**53 ns, 104 days).
    since = float(now - party.last_fraud_ns) / NS_PER_DAY if party.last_fraud_ns >= 0 else math.nan
    return [*out, since]


class FieldState:
    """The field features online: ``compute(event)`` from what was known before it, then
    ``update(event)``; ``add_label`` when a fraud label arrives (at its arrival time, which
    must not be earlier than the labels before it for the same party)."""

    def __init__(self) -> None:
        # Exact up to RISK_KEYS_EXACT_MAX / RISK_PAIRS_EXACT_MAX, then sketches (limits.py).
        self.payers: BoundedMap[_Party] = BoundedMap(_Party)
        self.payees: BoundedMap[_Party] = BoundedMap(_Party)
        self.pairs = PairCounts()
        self.seen = PairCounts()  # (payer, kind, thing) uses
        self.device_payers = PairCounts()  # distinct payers per device

    def compute(self, event: RiskEvent) -> list[float]:
        now = event.timestamp_ns
        amount = event.amount / 10 ** scale_of(event.asset)
        signup = event.type == "signup"  # moves no money: reads no history (as update)
        payer = None if signup else self.payers.get(event.payer)
        payee = self.payees.get(event.payee) if event.payee and not signup else None
        if payer is not None:
            payer.read(now)
        if payee is not None:
            payee.read(now)
        out = [
            TYPE_IDS.get(event.type, -1.0),
            amount,
            float((now // NS_PER_H) % 24),
            float((now // NS_PER_DAY + 3) % 7),
        ]
        out += _party_windows(payer, now)
        out += _party_windows(payee, now)
        if payee is not None:
            out += (payee.extra[0], payee.extra[1])
        else:
            out += (0.0, 0.0)
        out += _derived_online(amount, payer)
        out.append(_derived_online(amount, payee)[0])
        out += (
            _hours_since(payer, now),
            _hours_since(payee, now),
            _age_days(payer, now),
            _age_days(payee, now),
        )
        out.append(
            float(self.pairs.get((event.payer, event.payee)))
            if event.payee and not signup
            else math.nan
        )
        for kind, thing in enumerate((event.device, event.ip, event.instrument)):
            out.append(
                math.nan
                if not thing or signup
                else (0.0 if self.seen.get((event.payer, kind, thing)) else 1.0)
            )
        out.append(float(self.device_payers.get(event.device)) if event.device else math.nan)
        out += _party_labels(payer, now)
        out += _party_labels(payee, now)
        return out

    def update(self, event: RiskEvent) -> None:
        if event.type == "signup":
            return
        now = event.timestamp_ns
        amount = event.amount / 10 ** scale_of(event.asset)
        self.payers.get_or_create(event.payer).add(now, amount)
        if event.payee:
            payee = self.payees.get_or_create(event.payee)
            before = self.pairs.add((event.payer, event.payee))
            payee.add(now, amount, 1 if before == 0 else 0)
        for kind, thing in enumerate((event.device, event.ip, event.instrument)):
            if thing and self.seen.add((event.payer, kind, thing)) == 0 and kind == 0:
                self.device_payers.add(thing)

    def step_into(self, matrix: F64, i: int, event: RiskEvent) -> None:
        """``compute`` into ``matrix[i]``, then ``update`` (what the engine calls)."""
        matrix[i] = self.compute(event)
        self.update(event)

    def add_label(self, payer: str, payee: str, arrival_ns: int) -> None:
        """A fraud label on an event of ``payer`` to ``payee`` arrived at ``arrival_ns``."""
        self.payers.get_or_create(payer).add_fraud(arrival_ns)
        if payee:
            self.payees.get_or_create(payee).add_fraud(arrival_ns)


class PartyState(Protocol):
    """What :class:`NativeFieldState` calls on a party (``centime.risk._cstate.Party``)."""

    def add(self, t_ns: int, amount: float, first_payer: int = 0) -> None: ...
    def add_fraud(self, arrival_ns: int) -> None: ...


# field_step(matrix, i, payer, payee, type_id, amount, now, pair_n, device_new, ip_new,
#            instrument_new, device_payers): the row into matrix[i], then the parties count it.
FieldStep = Callable[
    [
        F64,
        int,
        PartyState | None,
        PartyState | None,
        float,
        float,
        int,
        float,
        float,
        float,
        float,
        float,
    ],
    None,
]


class StateModule(Protocol):
    """What :class:`NativeFieldState` takes of ``centime.risk._cstate``."""

    FIELD_SHAPE: tuple[tuple[int, int], ...]  # (width, buckets) of FIELD_WINDOWS
    Party: Callable[[], PartyState]

    def party_rows(
        self,
        out: list[float],
        payer: PartyState | None,
        payee: PartyState | None,
        amount: float,
        now: int,
    ) -> None: ...
    def party_labels(self, out: list[float], party: PartyState | None, now: int) -> None: ...

    FIELD_ROW_WIDTH: int  # values per row of field_step's matrix
    field_step: FieldStep


class FieldStateLike(Protocol):
    """:class:`FieldState` or :class:`NativeFieldState`."""

    def compute(self, event: RiskEvent) -> list[float]: ...
    def update(self, event: RiskEvent) -> None: ...
    def step_into(self, matrix: F64, i: int, event: RiskEvent) -> None: ...
    def add_label(self, payer: str, payee: str, arrival_ns: int) -> None: ...


def _check_step(matrix: F64, i: int, now: int) -> None:
    """What ``field_step`` refuses, refused before the Python-side counts (pairs, seen,
    device payers) move: a failed step then leaves nothing counted."""
    if not -(2**63) <= now < 2**63:
        raise OverflowError(f"timestamp {now} is outside int64")
    if (
        not isinstance(matrix, np.ndarray)
        or matrix.dtype != np.float64
        or matrix.ndim != 2
        or matrix.shape[1] != len(FIELD_NAMES)
        or not matrix.flags.c_contiguous
        or not matrix.flags.writeable
    ):
        raise ValueError("field_step needs a writable C-contiguous float64 matrix of rows")
    if not 0 <= i < matrix.shape[0]:
        raise IndexError(f"row {i} is outside the matrix")


class NativeFieldState:
    """:class:`FieldState` with each party in C arrays (``centime.risk._cstate``: its
    ``Party`` is :class:`_Party`, ``party_rows`` the row from the payer's windows to the
    payee's age, ``party_labels`` :func:`_party_labels`); the rest is FieldState's code."""

    def __init__(self, module: StateModule) -> None:
        self._party_rows: Callable[
            [list[float], PartyState | None, PartyState | None, float, int], None
        ] = module.party_rows
        self._party_labels: Callable[[list[float], PartyState | None, int], None] = (
            module.party_labels
        )
        self._field_step: FieldStep = module.field_step
        self.payers: BoundedMap[PartyState] = BoundedMap(module.Party)
        self.payees: BoundedMap[PartyState] = BoundedMap(module.Party)
        self.pairs = PairCounts()
        self.seen = PairCounts()  # (payer, kind, thing) uses
        self.device_payers = PairCounts()  # distinct payers per device

    def compute(self, event: RiskEvent) -> list[float]:
        now = event.timestamp_ns
        amount = event.amount / 10 ** scale_of(event.asset)
        signup = event.type == "signup"  # moves no money: reads no history (as update)
        payer = None if signup else self.payers.get(event.payer)
        payee = self.payees.get(event.payee) if event.payee and not signup else None
        out = [
            TYPE_IDS.get(event.type, -1.0),
            amount,
            float((now // NS_PER_H) % 24),
            float((now // NS_PER_DAY + 3) % 7),
        ]
        self._party_rows(out, payer, payee, amount, now)  # reads both parties at now first
        out.append(
            float(self.pairs.get((event.payer, event.payee)))
            if event.payee and not signup
            else math.nan
        )
        for kind, thing in enumerate((event.device, event.ip, event.instrument)):
            out.append(
                math.nan
                if not thing or signup
                else (0.0 if self.seen.get((event.payer, kind, thing)) else 1.0)
            )
        out.append(float(self.device_payers.get(event.device)) if event.device else math.nan)
        self._party_labels(out, payer, now)
        self._party_labels(out, payee, now)
        return out

    def update(self, event: RiskEvent) -> None:
        if event.type == "signup":
            return
        now = event.timestamp_ns
        amount = event.amount / 10 ** scale_of(event.asset)
        self.payers.get_or_create(event.payer).add(now, amount)
        if event.payee:
            payee = self.payees.get_or_create(event.payee)
            before = self.pairs.add((event.payer, event.payee))
            payee.add(now, amount, 1 if before == 0 else 0)
        for kind, thing in enumerate((event.device, event.ip, event.instrument)):
            if thing and self.seen.add((event.payer, kind, thing)) == 0 and kind == 0:
                self.device_payers.add(thing)

    def step_into(self, matrix: F64, i: int, event: RiskEvent) -> None:
        """``compute`` into ``matrix[i]``, then ``update``, fused: each party and pair looked
        up once (created first: a new party reads as an absent one), the counts before this
        event read from the ``add`` that counts it, the row written by ``field_step`` in C."""
        _check_step(matrix, i, event.timestamp_ns)  # before anything counts: all or nothing
        amount = event.amount / 10 ** scale_of(event.asset)  # as compute: the same double
        type_id = TYPE_IDS.get(event.type, -1.0)
        device = event.device
        if event.type == "signup":  # moves no money: reads no history, counts nothing
            payers = float(self.device_payers.get(device)) if device else math.nan
            nan = math.nan
            self._field_step(
                matrix,
                i,
                None,
                None,
                type_id,
                amount,
                event.timestamp_ns,
                nan,
                nan,
                nan,
                nan,
                payers,
            )
            return
        payer_key = event.payer
        payer = self.payers.get_or_create(payer_key)
        payee: PartyState | None = None
        pair = math.nan
        if event.payee:
            payee = self.payees.get_or_create(event.payee)
            pair = float(self.pairs.add((payer_key, event.payee)))
        uses = self._uses(payer_key, device, event.ip, event.instrument)
        device_payers = math.nan
        if device:
            device_payers = float(self.device_payers.get(device))
            if uses[0] == 1.0:
                self.device_payers.add(device)
        self._field_step(
            matrix,
            i,
            payer,
            payee,
            type_id,
            amount,
            event.timestamp_ns,
            pair,
            uses[0],
            uses[1],
            uses[2],
            device_payers,
        )

    def _uses(
        self, payer: str, device: str | None, ip: str | None, instrument: str | None
    ) -> tuple[float, float, float]:
        """Per thing: 1.0 if ``payer`` never used it before, 0.0 if it did, NaN if none;
        then the uses count. While every count is exact (no sketch, and room for three new
        keys), each ``add`` returns the count before, as ``get`` would; with the sketch the
        three keys may share counters: all read first, then added (as compute, update)."""
        seen = self.seen
        keys = ((payer, 0, device), (payer, 1, ip), (payer, 2, instrument))
        things = (device, ip, instrument)
        out = [math.nan, math.nan, math.nan]
        if seen.sketch is None and len(seen.exact) + 3 <= seen.exact_max:
            for k in range(3):
                if things[k]:
                    out[k] = 0.0 if seen.add(keys[k]) else 1.0
            return out[0], out[1], out[2]
        for k in range(3):
            if things[k]:
                out[k] = 0.0 if seen.get(keys[k]) else 1.0
        for k in range(3):
            if things[k]:
                seen.add(keys[k])
        return out[0], out[1], out[2]

    def add_label(self, payer: str, payee: str, arrival_ns: int) -> None:
        """A fraud label on an event of ``payer`` to ``payee`` arrived at ``arrival_ns``."""
        self.payers.get_or_create(payer).add_fraud(arrival_ns)
        if payee:
            self.payees.get_or_create(payee).add_fraud(arrival_ns)


def new_field_state(native: bool = True) -> FieldStateLike:
    """:class:`NativeFieldState` when ``native`` and the C state is built, else
    :class:`FieldState` (the same rows)."""
    found = state_module() if native else None
    if found is None:
        return FieldState()
    module = cast(StateModule, found)
    shape = module.FIELD_SHAPE
    if shape != tuple(zip(_WIDTHS, _SIZES, strict=True)):
        raise RuntimeError("field: the C state's windows are not FIELD_WINDOWS")
    if len(FIELD_NAMES) != module.FIELD_ROW_WIDTH:
        raise RuntimeError("field: the C state's rows are not FIELD_NAMES")
    return NativeFieldState(module)


def _derived_online(amount: float, party: _Party | None) -> tuple[float, float]:
    """Ratio and z-score against ``party``'s 30-day history (read at now first)."""
    if party is None:
        return math.nan, math.nan
    n30 = float(party.n[2])
    sum30 = party.totals[2] if n30 else 0.0  # an empty window reads zero, not dust
    return _derived(amount, n30, sum30, party.extra[2] if n30 else 0.0)


def _hours_since(party: _Party | None, now: int) -> float:
    return (
        float(now - party.last_ns) / NS_PER_H
        if party is not None and party.last_ns >= 0
        else math.nan
    )


def _age_days(party: _Party | None, now: int) -> float:
    return (
        float(now - party.first_ns) / NS_PER_DAY
        if party is not None and party.first_ns >= 0
        else math.nan
    )


def columns_of(events: Sequence[RiskEvent]) -> Columns:
    """``events`` (already in time order) as arrays."""
    scales: dict[str, int] = {}
    amounts = np.fromiter(
        (e.amount / 10 ** scales.setdefault(e.asset, scale_of(e.asset)) for e in events),
        dtype=np.float64,
        count=len(events),
    )
    return Columns(
        np.fromiter((e.timestamp_ns for e in events), dtype=np.int64, count=len(events)),
        [e.type for e in events],
        amounts,
        [e.payer for e in events],
        [e.payee for e in events],
        [e.device or "" for e in events],
        [e.ip or "" for e in events],
        [e.instrument or "" for e in events],
    )
