"""Latency percentiles in bounded memory: a log-bucketed histogram (HdrHistogram's idea).

A 10-million-request run must not keep 10 million floats. Buckets grow by ``BUCKET_GROWTH``
(1%), so a percentile is exact to within 1% of its value, and the whole range from a
microsecond to a minute takes under 2,000 buckets.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Final

__all__ = ["LatencyHistogram"]

BUCKET_GROWTH: Final = 1.01
_LOG_GROWTH: Final = math.log(BUCKET_GROWTH)
LATENCY_MIN_S: Final = 1e-6


class LatencyHistogram:
    """Counts of latencies by bucket; record on one thread, merge the clients' at the end."""

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0

    def record(self, seconds: float) -> None:
        self._buckets[_bucket(seconds)] += 1
        self.count += 1

    def merge(self, other: LatencyHistogram) -> None:
        self._buckets.update(other._buckets)
        self.count += other.count

    def quantile_ms(self, q: float) -> float:
        """The latency below which a fraction ``q`` of the requests fell, in ms (0 if empty):
        the nearest-rank percentile, reported as the middle of its bucket."""
        if not 0 < q <= 1:
            raise ValueError("q must be in (0, 1]")
        if self.count == 0:
            return 0.0
        rank = math.ceil(q * self.count)
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return _bucket_middle_s(bucket) * 1000.0
        raise RuntimeError("unreachable: the ranks add up to count")  # pragma: no cover


def _bucket(seconds: float) -> int:
    return int(math.log(max(seconds, LATENCY_MIN_S) / LATENCY_MIN_S) / _LOG_GROWTH)


def _bucket_middle_s(bucket: int) -> float:
    return float(LATENCY_MIN_S * BUCKET_GROWTH ** (bucket + 0.5))
