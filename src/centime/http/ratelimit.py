"""Rate limits: token buckets kept in a :class:`RateStore`, per API key
(:class:`TokenBuckets`) and per client address for failed authentications
(:class:`FailureLimit`); the web sign-in throttle (centime.auth.sessions) uses the same store.

A bucket holds at most ``burst`` tokens and gains ``rate_per_s`` a second; a request takes
one, or is refused with the time until the next token (429, Retry-After). Where the buckets
live is the store's business:

- :class:`LocalRateStore` (the embedded default): this process's memory, the ``keys_max``
  most recently used buckets kept; a key forgotten to make room starts again with a full
  bucket, which at worst grants one burst more to a key idle long enough to be forgotten.
  Several processes each allow the rate.
- :class:`RedisRateStore` (``CENTIME_REDIS_URL``, docs/scaling.md): one bucket per key in
  Redis, shared by every API process; each check is one round trip running one Lua script,
  so refill, take and write are atomic, timed by the Redis server's clock (the processes'
  clocks never disagree about a bucket). A bucket expires once it would be full again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, Protocol

from centime.limits import (
    API_RATE_BUCKETS_MAX,
    API_RATE_BURST,
    API_RATE_PER_KEY_PER_S,
    AUTH_FAILURE_SOURCES_MAX,
    AUTH_FAILURES_BURST,
    AUTH_FAILURES_PER_S,
)
from centime.redis_lua import LuaScript

if TYPE_CHECKING:
    import redis

__all__ = [
    "FailureLimit",
    "LocalRateStore",
    "Mode",
    "RateStore",
    "RedisRateStore",
    "TokenBuckets",
    "refill",
    "settle",
]

log = logging.getLogger(__name__)

Mode = Literal["take", "peek", "spend"]
SOURCE_LEN_MAX: Final = 64


def refill(tokens: float, last_s: float, now_s: float, rate_per_s: float, burst: float) -> float:
    """The tokens a bucket holds at ``now_s`` (pure). A clock that went back adds none."""
    return min(burst, tokens + max(0.0, now_s - last_s) * rate_per_s)


def settle(tokens: float, rate_per_s: float, mode: Mode) -> tuple[float, float]:
    """(tokens left, seconds to wait) after ``mode`` on a bucket holding ``tokens`` (pure):
    ``take`` takes a token if there is one, ``peek`` takes none, ``spend`` takes one
    whatever (down to empty: a failure counts even when the source is refused)."""
    wait_s = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate_per_s
    if mode == "take" and tokens >= 1.0:
        tokens -= 1.0
    elif mode == "spend":
        tokens = max(0.0, tokens - 1.0)
    return tokens, wait_s


class RateStore(Protocol):
    """Where token buckets live. ``check`` applies ``mode`` to the bucket ``key`` (made full
    when unknown) and returns the seconds until it holds a token as found: 0.0 means one
    was there."""

    def check(self, key: str, rate_per_s: float, burst: float, mode: Mode) -> float: ...

    def __len__(self) -> int: ...


class LocalRateStore:
    """Buckets in this process: the ``keys_max`` most recently used kept. Thread-safe."""

    def __init__(self, keys_max: int, now_s: Callable[[], float] = time.monotonic) -> None:
        if keys_max < 1:
            raise ValueError("a rate store keeps at least one bucket")
        self._keys_max = keys_max
        self._now_s = now_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str, rate_per_s: float, burst: float, mode: Mode) -> float:
        now = self._now_s()
        with self._lock:
            found = self._buckets.pop(key, None)
            tokens = burst if found is None else refill(*found, now, rate_per_s, burst)
            tokens, wait_s = settle(tokens, rate_per_s, mode)
            if mode != "peek" or found is not None:
                self._buckets[key] = (tokens, now)  # most recently used last
            while len(self._buckets) > self._keys_max:
                self._buckets.popitem(last=False)
            return wait_s

    def __len__(self) -> int:
        return len(self._buckets)


# KEYS[1] the bucket; ARGV rate per second, burst, mode. The same arithmetic as refill and
# settle, on the server's clock; the bucket expires when it would be full again.
_CHECK_LUA: Final = """
local rate, burst, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local found = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if found[1] then
  tokens = math.min(burst, tonumber(found[1]) + math.max(0, now - tonumber(found[2])) * rate)
end
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if mode == 'peek' then return tostring(wait) end
if mode == 'take' then
  if tokens >= 1 then tokens = tokens - 1 end
else
  tokens = math.max(0, tokens - 1)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateStore:
    """Buckets in Redis under ``prefix``, shared by every process that names the same
    server and prefix. While Redis cannot be reached, this process's own buckets answer
    (logged): an outage neither stops payments nor lifts the limits (a failed-auth limit
    that failed open would hand an attacker the outage to guess in)."""

    def __init__(self, client: redis.Redis, prefix: str = "centime:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = LuaScript(client, _CHECK_LUA)
        self._fallback = LocalRateStore(API_RATE_BUCKETS_MAX)

    @classmethod
    def from_url(cls, url: str, prefix: str = "centime:rl:") -> RedisRateStore:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=1.0), prefix)

    def check(self, key: str, rate_per_s: float, burst: float, mode: Mode) -> float:
        import redis

        try:
            found = self._script(
                keys=[self._prefix + key], args=[repr(rate_per_s), repr(burst), mode]
            )
        except redis.RedisError as failed:
            log.warning("rate limit store unreachable, this process's limits apply: %s", failed)
            return self._fallback.check(key, rate_per_s, burst, mode)
        return float(found)

    def __len__(self) -> int:
        """The buckets held (a scan of the prefix: diagnostics and tests, not a hot path)."""
        return sum(1 for _ in self._client.scan_iter(match=self._prefix + "*", count=1000))


class TokenBuckets:
    """A token bucket per API key, in ``store`` (default: this process's, bounded by
    ``buckets_max``)."""

    def __init__(
        self,
        rate_per_s: float = API_RATE_PER_KEY_PER_S,
        burst: int = API_RATE_BURST,
        buckets_max: int = API_RATE_BUCKETS_MAX,
        now_s: Callable[[], float] = time.monotonic,
        store: RateStore | None = None,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or buckets_max < 1:
            raise ValueError("a rate limit needs a positive rate, burst and bucket count")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.store = LocalRateStore(buckets_max, now_s) if store is None else store

    def take(self, key: int) -> float:
        """Take a token for ``key``: 0.0 if it had one, else the seconds until it will."""
        return self.store.check(f"key:{key}", self.rate_per_s, self.burst, "take")

    def __len__(self) -> int:
        return len(self.store)


class FailureLimit:
    """Failed authentications per source (a client address): a bucket of ``burst``
    failures per source, refilled at ``rate_per_s``. A source whose bucket is empty is
    refused (429, Retry-After) *before* its credentials are checked, so guessing API keys or
    session cookies from one address costs it time, while a correct credential from an
    address that does not fail is never slowed. Only failures take from the bucket; in the
    default store the ``sources_max`` most recently failing sources are remembered (bounded
    memory: a source forgotten starts again with a full bucket)."""

    def __init__(
        self,
        burst: int = AUTH_FAILURES_BURST,
        rate_per_s: float = AUTH_FAILURES_PER_S,
        sources_max: int = AUTH_FAILURE_SOURCES_MAX,
        now_s: Callable[[], float] = time.monotonic,
        store: RateStore | None = None,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or sources_max < 1:
            raise ValueError("a failure limit needs a positive rate, burst and source count")
        self.burst = float(burst)
        self.rate_per_s = float(rate_per_s)
        self.store = LocalRateStore(sources_max, now_s) if store is None else store

    def wait_s(self, source: str) -> float:
        """0.0 when ``source`` may try to authenticate now, else the seconds until it may."""
        return self.store.check(self._key(source), self.rate_per_s, self.burst, "peek")

    def failed(self, source: str) -> None:
        """Count one failed authentication from ``source``."""
        self.store.check(self._key(source), self.rate_per_s, self.burst, "spend")

    @staticmethod
    def _key(source: str) -> str:
        return f"auth-fail:{source[:SOURCE_LEN_MAX]}"

    def __len__(self) -> int:
        return len(self.store)
