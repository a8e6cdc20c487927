"""Sliding-window counters kept as time buckets with running totals.

A window of ``n`` buckets of ``width_ns`` counts the events whose bucket index
``timestamp_ns // width_ns`` lies in ``(now_bucket - n, now_bucket]``: the current, partly
elapsed bucket plus the ``n - 1`` before it. That is the exact definition the tests check
against a brute-force list of events; it is what "the last hour" means at bucket resolution
(a 1-hour window of 12 five-minute buckets covers between 55 and 60 minutes).

Memory per key is at most the buckets that hold something, never a list of events; time
only moves forward for a counter (an event older than the newest bucket it has seen counts
in the newest bucket, so out-of-order events within a bucket or two are absorbed instead of
rewriting history).

:class:`WindowSet` is the reference; ``centime.risk._cstate.WindowSet`` (C arrays, built by
setup.py when it can) does the same operations in the same order, bit for bit. Code that
takes either types it as :class:`Windows` and creates it with a :data:`WindowsFactory`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = [
    "STANDARD_WINDOWS",
    "WindowSet",
    "WindowSpec",
    "Windows",
    "WindowsFactory",
    "window_spec",
]

NS_PER_S: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class WindowSpec:
    name: str  # "1m", "1h", ...
    width_ns: int  # one bucket
    buckets: int  # how many buckets the window spans

    @property
    def span_ns(self) -> int:
        return self.width_ns * self.buckets


def window_spec(name: str, span_s: int, buckets: int) -> WindowSpec:
    if span_s % buckets:
        raise ValueError(f"window {name}: {span_s} s do not split into {buckets} buckets")
    return WindowSpec(name, span_s // buckets * NS_PER_S, buckets)


# The five windows of the per-entity counts and sums (issue 5).
STANDARD_WINDOWS: Final = (
    window_spec("1m", 60, 6),  # 10 s buckets
    window_spec("1h", 3_600, 12),  # 5 min buckets
    window_spec("24h", 86_400, 24),  # 1 h buckets
    window_spec("7d", 7 * 86_400, 28),  # 6 h buckets
    window_spec("30d", 30 * 86_400, 30),  # 1 day buckets
)


class Windows(Protocol):
    """What the features use of a set of windows (:class:`WindowSet` or the C one)."""

    def add(self, timestamp_ns: int, value: float, count: int = 1) -> None: ...
    def read(self, now_ns: int) -> tuple[list[int], list[float]]: ...
    def read_into(self, out: list[float], now_ns: int) -> None: ...


WindowsFactory = Callable[[tuple[WindowSpec, ...]], Windows]


_SHAPES: dict[tuple[WindowSpec, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}


class WindowSet:
    """Count and sum per window, for one key. ``add`` and ``read`` are O(1) amortized: each
    window keeps its running totals and subtracts a bucket as the window leaves it behind.

    Only the buckets that hold something are stored (most keys are seen a few times: a
    ring of every bucket would be mostly zeros): per window a flat list of (bucket index,
    count, sum), oldest first. Subtracting an empty bucket changes nothing, so the totals
    are the ones a full ring would give, operation for operation.
    """

    __slots__ = ("_entries", "_heads", "_sizes", "_total_counts", "_total_sums", "_widths")

    def __init__(self, specs: tuple[WindowSpec, ...]) -> None:
        shape = _SHAPES.get(specs)
        if shape is None:  # one pair of tuples per set of windows, shared by every key
            shape = _SHAPES[specs] = (
                tuple(s.width_ns for s in specs),
                tuple(s.buckets for s in specs),
            )
        self._widths, self._sizes = shape
        # Per window: bucket, count, sum, ... (ints stay ints: compiled, a float-typed list
        # would turn a bucket index into a float, inexact past 2**53).
        self._entries: list[list[int | float]] = [[] for _ in specs]
        self._heads = [-1] * len(specs)  # the newest bucket index each window holds
        self._total_counts = [0] * len(specs)
        self._total_sums = [0.0] * len(specs)

    def _advance(self, i: int, bucket: int) -> None:
        """Move window ``i`` forward to ``bucket``, dropping the buckets it leaves behind."""
        head = self._heads[i]
        entries = self._entries[i]
        if head < 0 or bucket - head >= self._sizes[i]:
            entries.clear()
            self._total_counts[i] = 0
            self._total_sums[i] = 0.0
        else:
            oldest = bucket - self._sizes[i]  # buckets at or before it leave the window
            total_count, total_sum = self._total_counts[i], self._total_sums[i]
            k = 0
            while k < len(entries) and entries[k] <= oldest:
                total_count -= int(entries[k + 1])
                total_sum -= entries[k + 2]
                k += 3
            if k:
                del entries[:k]
            self._total_counts[i], self._total_sums[i] = total_count, total_sum
        self._heads[i] = bucket

    def add(self, timestamp_ns: int, value: float, count: int = 1) -> None:
        heads = self._heads
        for i, width in enumerate(self._widths):
            bucket = timestamp_ns // width
            if bucket > heads[i]:
                self._advance(i, bucket)
            entries = self._entries[i]  # an older event counts in the newest bucket
            if entries and entries[-3] == heads[i]:
                entries[-2] += count
                entries[-1] += value
            else:
                entries += (heads[i], count, value)
            self._total_counts[i] += count
            self._total_sums[i] += value

    def read(self, now_ns: int) -> tuple[list[int], list[float]]:
        """Counts and sums of every window as of ``now_ns``."""
        heads = self._heads
        for i, width in enumerate(self._widths):
            bucket = now_ns // width
            if bucket > heads[i]:
                self._advance(i, bucket)
        counts = self._total_counts
        # Subtracting floats leaves dust: a window that holds nothing reads exactly zero.
        sums = [s if c else 0.0 for s, c in zip(self._total_sums, counts, strict=True)]
        return list(counts), sums

    def read_into(self, out: list[float], now_ns: int) -> None:
        """Append count, sum of every window as of ``now_ns`` to ``out`` (as ``read``)."""
        heads = self._heads
        for i, width in enumerate(self._widths):
            bucket = now_ns // width
            if bucket > heads[i]:
                self._advance(i, bucket)
        for count, total in zip(self._total_counts, self._total_sums, strict=True):
            out += (float(count), total if count else 0.0)
