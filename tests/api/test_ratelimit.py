"""Rate limits per API key: token buckets, bounded, and 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.auth import Scope
from centime.http.ratelimit import TokenBuckets
from centime.platform.context import Platform

from .conftest import Api, make_api


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    st.floats(min_value=0.1, max_value=1000),
    st.integers(min_value=1, max_value=50),
    st.lists(st.floats(min_value=0, max_value=2), max_size=200),
)
def test_a_key_never_gets_more_than_its_burst_plus_the_rate(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = Clock()
    buckets = TokenBuckets(rate, burst, 10, now_s=clock)
    granted = 0
    for gap in gaps:
        clock.now += gap
        wait = buckets.take(1)
        if wait == 0:
            granted += 1
        else:
            assert 0 < wait <= 1 / rate + 1e-9
    assert granted <= burst + rate * clock.now + 1e-6


def test_a_refused_key_gets_a_token_after_the_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 2, 10, now_s=clock)
    assert buckets.take(7) == 0 and buckets.take(7) == 0
    wait = buckets.take(7)
    assert wait == pytest.approx(0.5)
    assert buckets.take(8) == 0  # another key has its own bucket
    clock.now += wait
    assert buckets.take(7) == 0


def test_the_buckets_are_bounded() -> None:
    buckets = TokenBuckets(1.0, 1, 3, now_s=Clock())
    for key in range(10):
        buckets.take(key)
    assert len(buckets) == 3


@pytest.fixture
def limited(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform, rate_per_s=0.001, rate_burst=3)


def test_the_api_answers_429_with_retry_after(limited: Api) -> None:
    token = limited.key(Scope.READ)
    statuses = [
        limited.http.get("/v1/customers", headers=limited.headers(token)).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = limited.http.get("/v1/customers", headers=limited.headers(token))
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    other = limited.http.get("/v1/customers", headers=limited.headers(limited.key(Scope.READ)))
    assert other.status_code == 200  # per key
