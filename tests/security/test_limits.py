"""The pure parts of the hardening, in process: where ``next`` may send a browser, the
failed-authentication limit, the server secrets, the trusted proxies."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from centime.auth import Scope
from centime.auth.passkeys import RelyingParty
from centime.auth.sessions import LoginThrottle
from centime.cli import trusted_proxies
from centime.clock import FakeClock
from centime.http.ratelimit import FailureLimit
from centime.keyfile import derive_key, key_from_env
from centime.platform.context import Platform
from centime.server import create_app
from centime.web import WebState
from centime.web.common import safe_next
from tests.api.conftest import Api, make_api
from tests.auth.test_passkeys import ORIGIN

SITE = "https://pay.example/stepup"
# Characters a browser treats specially in a URL, and some it should never see there.
NASTY = st.sampled_from([*"/\\:@%?#.&=+ \t\r\n\x00\x7f", "%5C", "%2F", "%09", "\u3002"])


@given(st.lists(st.one_of(NASTY, st.text(max_size=3)), max_size=12).map("".join))
def test_next_is_a_same_site_path_or_nothing(target: str) -> None:
    kept = safe_next(target)
    if not kept:  # refused
        return
    for form in (kept, urljoin(SITE, kept)):
        assert urlsplit(urljoin(SITE, form)).netloc == "pay.example", kept
    assert kept.startswith("/") and not kept.startswith("//") and "\\" not in kept


def test_the_failure_limit_counts_failures_per_source_in_bounded_memory() -> None:
    now = [0.0]
    limit = FailureLimit(burst=3, rate_per_s=0.5, sources_max=100, now_s=lambda: now[0])
    assert limit.wait_s("10.0.0.1") == 0.0
    for _ in range(3):
        limit.failed("10.0.0.1")
    assert limit.wait_s("10.0.0.1") == pytest.approx(2.0)  # one failure back in 2 s
    assert limit.wait_s("10.0.0.2") == 0.0  # another address is untouched
    now[0] = 2.0
    assert limit.wait_s("10.0.0.1") == 0.0
    for n in range(1000):
        limit.failed(f"192.0.2.{n}")
    assert len(limit) == 100


@pytest.fixture
def web(platform: Platform, clock: FakeClock) -> Iterator[TestClient[Litestar]]:
    state = WebState(
        platform,
        RelyingParty.for_origin(ORIGIN),
        LoginThrottle(lambda: clock.now_ns() / 1e9),
        failures=FailureLimit(now_s=lambda: clock.now_ns() / 1e9),
    )
    with TestClient(create_app(platform, web=state), base_url="https://testserver.local") as http:
        yield http


def test_guessing_session_cookies_is_answered_429(web: TestClient[Litestar]) -> None:
    statuses = []
    for n in range(40):
        web.cookies.set("centime_session", f"{n:043d}")
        statuses.append(web.get("/account", follow_redirects=False).status_code)
    assert statuses == [303] * 20 + [429] * 20, statuses


def test_keys_come_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T_KEY", raising=False)
    monkeypatch.delenv("T_KEY_FILE", raising=False)
    assert key_from_env("T_KEY", "T_KEY_FILE", None) is None
    made = key_from_env("T_KEY", "T_KEY_FILE", tmp_path / "k")
    assert made is not None and len(made) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert key_from_env("T_KEY", "T_KEY_FILE", tmp_path / "k") == made  # kept, not remade
    monkeypatch.setenv("T_KEY", "bm90IDMyIGJ5dGVz")
    with pytest.raises(RuntimeError):
        key_from_env("T_KEY", "T_KEY_FILE", None)
    assert derive_key(made, "a") != derive_key(made, "b") != made


def test_trusted_proxies_are_addresses_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CENTIME_TRUSTED_PROXIES", raising=False)
    assert trusted_proxies() == ()
    monkeypatch.setenv("CENTIME_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1")
    assert trusted_proxies() == ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    monkeypatch.setenv("CENTIME_TRUSTED_PROXIES", "*")
    with pytest.raises(typer.BadParameter):
        trusted_proxies()


@pytest.fixture
def guarded(platform: Platform, clock: FakeClock) -> Iterator[Api]:
    limit = FailureLimit(burst=5, now_s=lambda: clock.now_ns() / 1e9)
    yield from make_api(platform, auth_failures=limit)


def test_a_guessing_address_waits_and_a_key_in_use_keeps_working(
    guarded: Api, clock: FakeClock
) -> None:
    busy = guarded.headers()  # the operator's key, used a moment ago: verified and cached
    assert guarded.http.get("/v1/customers", headers=busy).status_code == 200
    idle = guarded.headers(guarded.key(Scope.READ))  # valid, never used yet
    bad = [
        guarded.http.get("/v1/customers", headers=guarded.headers(f"ck_bad_{n}")) for n in range(8)
    ]
    assert [r.status_code for r in bad] == [401] * 5 + [429] * 3
    assert bad[-1].headers["retry-after"] == "5"
    assert guarded.http.get("/v1/customers", headers=busy).status_code == 200
    assert guarded.http.get("/v1/customers", headers=idle).status_code == 429
    clock.advance(5)  # one failure forgiven every 5 s
    assert guarded.http.get("/v1/customers", headers=idle).status_code == 200
