"""Sliding-window counters kept as rings of time buckets, and a bounded LRU map of them.

A window of ``n`` buckets of ``width_ns`` counts the events whose bucket index
``timestamp_ns // width_ns`` lies in ``(now_bucket - n, now_bucket]``: the current, partly
elapsed bucket plus the ``n - 1`` before it. That is the exact definition the tests check
against a brute-force list of events; it is what "the last hour" means at bucket resolution
(a 1-hour window of 12 five-minute buckets covers between 55 and 60 minutes).

Memory per key is fixed (the buckets), never a list of events; time only moves forward for
a counter (an event older than the newest bucket it has seen counts in the newest bucket, so
out-of-order events within a bucket or two are absorbed instead of rewriting history).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

__all__ = [
    "STANDARD_WINDOWS",
    "LruMap",
    "WindowSet",
    "WindowSpec",
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


class WindowSet:
    """Count and sum per window, for one key. ``add`` and ``read`` are O(1) amortized: each
    window keeps its running totals and subtracts a bucket when the ring overwrites it."""

    __slots__ = ("_counts", "_heads", "_sizes", "_sums", "_total_counts", "_total_sums", "_widths")

    def __init__(self, specs: tuple[WindowSpec, ...]) -> None:
        self._widths = tuple(s.width_ns for s in specs)
        self._sizes = tuple(s.buckets for s in specs)
        self._counts = [[0] * s.buckets for s in specs]
        self._sums: list[list[float]] = [[0.0] * s.buckets for s in specs]
        self._heads = [-1] * len(specs)  # the newest bucket index each ring holds
        self._total_counts = [0] * len(specs)
        self._total_sums = [0.0] * len(specs)

    def _advance(self, i: int, bucket: int) -> None:
        """Move window ``i`` forward to ``bucket``, emptying the buckets it leaves behind."""
        head = self._heads[i]
        n = self._sizes[i]
        counts, sums = self._counts[i], self._sums[i]
        if head < 0 or bucket - head >= n:
            counts[:] = [0] * n
            sums[:] = [0.0] * n
            self._total_counts[i] = 0
            self._total_sums[i] = 0.0
        else:
            total_count, total_sum = self._total_counts[i], self._total_sums[i]
            for b in range(head + 1, bucket + 1):
                slot = b % n
                total_count -= counts[slot]
                total_sum -= sums[slot]
                counts[slot] = 0
                sums[slot] = 0.0
            self._total_counts[i], self._total_sums[i] = total_count, total_sum
        self._heads[i] = bucket

    def add(self, timestamp_ns: int, value: float, count: int = 1) -> None:
        heads = self._heads
        for i, width in enumerate(self._widths):
            bucket = timestamp_ns // width
            if bucket > heads[i]:
                self._advance(i, bucket)
            slot = heads[i] % self._sizes[i]  # an older event counts in the newest bucket
            self._counts[i][slot] += count
            self._sums[i][slot] += value
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


K = TypeVar("K")
V = TypeVar("V")


class LruMap(Generic[K, V]):
    """A dict of at most ``max_keys`` entries that evicts the least recently used one.

    ``get_or_create`` counts as a use. Not thread-safe on its own: the feature store is
    called under the engine's lock.
    """

    __slots__ = ("_data", "_factory", "evictions", "max_keys")

    def __init__(self, max_keys: int, factory: Callable[[], V]) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._factory = factory
        self._data: OrderedDict[K, V] = OrderedDict()
        self.evictions = 0

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def get_or_create(self, key: K) -> V:
        data = self._data
        value = data.get(key)
        if value is None:
            value = self._factory()
            data[key] = value
            if len(data) > self.max_keys:
                data.popitem(last=False)
                self.evictions += 1
        else:
            data.move_to_end(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)
