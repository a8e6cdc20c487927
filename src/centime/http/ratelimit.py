"""Rate limits per API key: a token bucket each, in this process; and a limit on failed
authentications per client address (:class:`FailureLimit`).

A bucket holds at most ``burst`` tokens and gains ``rate_per_s`` a second; a request takes
one, or is refused with the time until the next token (429, Retry-After). The buckets of
the ``buckets_max`` most recently seen keys are kept; a key forgotten to make room starts
again with a full bucket, which at worst grants one burst more to a key idle long enough to
be forgotten. Several processes each allow the rate (Redis is the scale path's answer).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from centime.limits import (
    API_RATE_BUCKETS_MAX,
    API_RATE_BURST,
    API_RATE_PER_KEY_PER_S,
    AUTH_FAILURE_SOURCES_MAX,
    AUTH_FAILURES_BURST,
    AUTH_FAILURES_PER_S,
)

__all__ = ["FailureLimit", "TokenBuckets", "refill"]


def refill(tokens: float, last_s: float, now_s: float, rate_per_s: float, burst: float) -> float:
    """The tokens a bucket holds at ``now_s`` (pure). A clock that went back adds none."""
    return min(burst, tokens + max(0.0, now_s - last_s) * rate_per_s)


class TokenBuckets:
    def __init__(
        self,
        rate_per_s: float = API_RATE_PER_KEY_PER_S,
        burst: int = API_RATE_BURST,
        buckets_max: int = API_RATE_BUCKETS_MAX,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or buckets_max < 1:
            raise ValueError("a rate limit needs a positive rate, burst and bucket count")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._buckets_max = buckets_max
        self._now_s = now_s
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """Take a token for ``key``: 0.0 if it had one, else the seconds until it will."""
        now = self._now_s()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = refill(tokens, last, now, self.rate_per_s, self.burst)
            wait_s = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait_s = (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens, now)  # most recently used last
            if len(self._buckets) > self._buckets_max:
                self._buckets.popitem(last=False)
            return wait_s

    def __len__(self) -> int:
        return len(self._buckets)


class FailureLimit:
    """Failed authentications per source (a client address): a bucket of ``burst``
    failures per source, refilled at ``rate_per_s``. A source whose bucket is empty is
    refused (429, Retry-After) *before* its credentials are checked, so guessing API keys or
    session cookies from one address costs it time, while a correct credential from an
    address that does not fail is never slowed. Only failures take from the bucket; the
    ``sources_max`` most recently failing sources are remembered (bounded memory: a source
    forgotten starts again with a full bucket)."""

    def __init__(
        self,
        burst: int = AUTH_FAILURES_BURST,
        rate_per_s: float = AUTH_FAILURES_PER_S,
        sources_max: int = AUTH_FAILURE_SOURCES_MAX,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or sources_max < 1:
            raise ValueError("a failure limit needs a positive rate, burst and source count")
        self.burst = float(burst)
        self.rate_per_s = float(rate_per_s)
        self._sources_max = sources_max
        self._now_s = now_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, source: str) -> float:
        """0.0 when ``source`` may try to authenticate now, else the seconds until it may."""
        now = self._now_s()
        with self._lock:
            found = self._buckets.get(source[:64])
            if found is None:
                return 0.0
            tokens = refill(found[0], found[1], now, self.rate_per_s, self.burst)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate_per_s

    def failed(self, source: str) -> None:
        """Count one failed authentication from ``source``."""
        key = source[:64]
        now = self._now_s()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = refill(tokens, last, now, self.rate_per_s, self.burst)
            self._buckets[key] = (max(0.0, tokens - 1.0), now)
            while len(self._buckets) > self._sources_max:
                self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
