"""Fixtures shared by the whole suite: a store of each kind, fresh for every test.

PostgreSQL tests use the server at CENTIME_TEST_POSTGRES_URL (default: the local one with
trust auth). Each test gets a schema of its own, dropped afterwards. Where no server answers,
those tests are skipped with the reason shown, never passed silently.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.platform.context import Platform
from centime.store import LedgerStore, open_store

from .risk.screens import AllowScreen

# Tests never assert on time (speed is the benchmarks' business): no per-example deadline,
# which on a loaded 2-core CI machine would only turn a slow example into a false failure.
settings.register_profile("centime", deadline=None)
settings.load_profile("centime")

# The key that encrypts webhook endpoints' secrets at rest (centime.platform.events.webhooks), as
# the composition root reads it; a fixed test key (32 bytes, base64).
os.environ.setdefault("CENTIME_WEBHOOK_KEY", "dGVzdC1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0tLS0=")

POSTGRES_URL = os.environ.get(
    "CENTIME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"


_POSTGRES_SKIP = _postgres_reason()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema, dropped after the test."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture
def another_postgres_url(postgres_url: str) -> Iterator[str]:
    """A second fresh schema of the same database: another deployment beside the first."""
    with _fresh_schema() as url:
        yield url


@contextlib.contextmanager
def _fresh_schema() -> Iterator[str]:
    if _POSTGRES_SKIP:
        pytest.skip(_POSTGRES_SKIP)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


REDIS_URL = os.environ.get("CENTIME_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reason() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return None
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"Redis not reachable at {REDIS_URL}: {error}"


_REDIS_SKIP = _redis_reason()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """The test Redis's URL and a fresh key prefix, whose keys are deleted after the test."""
    if _REDIS_SKIP:
        pytest.skip(_REDIS_SKIP)
    import redis

    prefix = f"centime-test:{uuid.uuid4().hex[:16]}:"
    yield REDIS_URL, prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database of each kind: the contract suites run against both."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store_factory(store_url: str) -> Iterator[Callable[[], LedgerStore]]:
    """Opens the test's database (again, to simulate restarts); closes what it opened."""
    opened: list[LedgerStore] = []

    def factory() -> LedgerStore:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        # A Ledger closes its store itself; closing again must not fail the test.
        with contextlib.suppress(Exception):
            store.close()


# Where the platform's fake clock starts (2027-01-15): far from the epoch, like real time.
PLATFORM_START_NS = 1_800_000_000_000_000_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(PLATFORM_START_NS)


@pytest.fixture
def platform(store_factory: Callable[[], LedgerStore], clock: FakeClock) -> Iterator[Platform]:
    """The platform's services on a fresh store of each kind, with a fake clock and a risk
    screen that allows everything (tests of the screening replace it)."""
    ledger = Ledger(store_factory(), clock, expiry_interval_s=3600)
    try:
        yield Platform(ledger, clock, screen=AllowScreen())
    finally:
        ledger.close()
