"""A platform on each store, with a fake clock, fresh for every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.platform.context import Platform
from centime.store import LedgerStore

START_NS = 1_800_000_000_000_000_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_NS)


@pytest.fixture
def platform(store_factory: Callable[[], LedgerStore], clock: FakeClock) -> Iterator[Platform]:
    ledger = Ledger(store_factory(), clock, expiry_interval_s=3600)
    try:
        yield Platform(ledger, clock)
    finally:
        ledger.close()
