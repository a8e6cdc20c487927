"""The rate store contract, for the in-process store and Redis (the real server: skipped,
saying why, when it cannot be reached); two Redis stores share their buckets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.auth.sessions import LoginThrottle
from centime.http.ratelimit import (
    FailureLimit,
    LocalRateStore,
    Mode,
    RateStore,
    RedisRateStore,
    TokenBuckets,
    settle,
)

MODES: tuple[Mode, ...] = ("take", "peek", "spend")
SLOW = 0.001  # tokens a second: nothing refills within a test


@pytest.fixture(params=["local", "redis"])
def new_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], RateStore]]:
    """Makes stores that share their buckets (Redis) or the one store (in process)."""
    if request.param == "local":
        local = LocalRateStore(1000)
        yield lambda: local
        return
    url, prefix = request.getfixturevalue("redis_prefix")
    yield lambda: RedisRateStore.from_url(url, prefix)


def test_a_bucket_grants_its_burst_then_refuses_with_the_wait(
    new_store: Callable[[], RateStore],
) -> None:
    store = new_store()
    assert [store.check("k", SLOW, 3, "take") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait_s = store.check("k", SLOW, 3, "take")
    assert wait_s == pytest.approx(1 / SLOW, rel=0.01)
    assert store.check("other", SLOW, 3, "take") == 0.0  # a key has its own bucket


def test_peek_takes_nothing_and_spend_empties(new_store: Callable[[], RateStore]) -> None:
    store = new_store()
    assert store.check("p", SLOW, 2, "peek") == 0.0
    assert store.check("p", SLOW, 2, "peek") == 0.0
    for _ in range(5):  # failures count past empty, down to zero, never below
        store.check("p", SLOW, 2, "spend")
    assert store.check("p", SLOW, 2, "peek") == pytest.approx(1 / SLOW, rel=0.01)


def test_two_stores_share_one_limit(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    first, second = RedisRateStore.from_url(url, prefix), RedisRateStore.from_url(url, prefix)
    api_first = TokenBuckets(SLOW, 3, store=first)
    api_second = TokenBuckets(SLOW, 3, store=second)
    granted = [api_first.take(7), api_second.take(7), api_first.take(7), api_second.take(7)]
    assert granted[:3] == [0.0, 0.0, 0.0] and granted[3] > 0
    failures_first, failures_second = (
        FailureLimit(2, SLOW, store=first),
        FailureLimit(2, SLOW, store=second),
    )
    failures_first.failed("10.0.0.9")
    failures_second.failed("10.0.0.9")
    assert failures_first.wait_s("10.0.0.9") > 0 and failures_second.wait_s("10.0.0.9") > 0
    assert failures_second.wait_s("10.0.0.8") == 0.0
    throttle_first = LoginThrottle(lambda: 0.0, per_ip=2, store=first)
    throttle_second = LoginThrottle(lambda: 0.0, per_ip=2, store=second)
    assert throttle_first.attempt("10.1.1.1") and throttle_second.attempt("10.1.1.1")
    assert not throttle_first.attempt("10.1.1.1")
    assert len(first) == 3  # API key, failing source, sign-in address: one bucket each


def test_concurrent_takes_never_exceed_the_burst(redis_prefix: tuple[str, str]) -> None:
    """Each check is one atomic script: threads of two stores racing grant exactly the burst."""
    url, prefix = redis_prefix
    stores = [RedisRateStore.from_url(url, prefix) for _ in range(2)]
    granted: list[float] = []
    lock = threading.Lock()

    def hammer(store: RateStore) -> None:
        for _ in range(25):
            wait_s = store.check("race", SLOW, 40, "take")
            with lock:
                granted.append(wait_s)

    threads = [threading.Thread(target=hammer, args=(stores[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for wait_s in granted if wait_s == 0.0) == 40


def test_an_unreachable_redis_still_limits_in_this_process() -> None:
    """An outage must not lift the limits (an attacker would wait for one to guess keys)."""
    store = RedisRateStore.from_url("redis://127.0.0.1:1/0")
    assert store.check("k", SLOW, 1, "take") == 0.0
    assert store.check("k", SLOW, 1, "take") > 0.0


@given(
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0.001, max_value=1000),
    st.sampled_from(MODES),
)
def test_settle_takes_as_its_mode_says(tokens: float, rate: float, mode: Mode) -> None:
    left, wait_s = settle(tokens, rate, mode)
    assert (wait_s == 0.0) == (tokens >= 1.0)
    taken = {"peek": tokens, "take": tokens - 1 if tokens >= 1 else tokens}
    assert left == taken.get(mode, max(0.0, tokens - 1))
