"""The web apps in process (Litestar's test client): cookies, CSRF, redirects, step-up,
roles, and the money shown on pages. The browser test drives the same pages in Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from centime.auth.passkeys import RelyingParty
from centime.auth.sessions import LoginThrottle
from centime.clock import FakeClock
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.server import create_app
from centime.web import WebState
from centime.web.chart import HEIGHT, earnings_chart
from centime.web.i18n import LOCALES, Formats
from tests.auth.test_passkeys import ORIGIN, SoftAuthenticator

BASE = "https://testserver.local"


@pytest.fixture
def client(platform: Platform, clock: FakeClock) -> Iterator[TestClient[Litestar]]:
    web = WebState(
        platform, RelyingParty.for_origin(ORIGIN), LoginThrottle(lambda: clock.now_ns() / 1e9)
    )
    with TestClient(create_app(platform, web=web), base_url=BASE) as http:
        yield http


def _csrf(http: TestClient[Litestar], path: str = "/app") -> str:
    page = http.get(path)
    found = re.search(r'name="csrf" content="([0-9a-f]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def _sign_up(http: TestClient[Litestar], kind: str) -> SoftAuthenticator:
    device = SoftAuthenticator()
    token = _csrf(http)
    headers = {"X-CSRF-Token": token}
    options = http.post("/web/signup/options", json={"name": "Ada", "kind": kind}, headers=headers)
    assert options.status_code == 200, options.text
    done = http.post(
        "/web/signup/finish",
        json={"credential": json.loads(device.create(options.text))},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=lax" in cookie.lower()
    return device


def test_pages_refuse_forged_forms_and_send_strangers_to_sign_in(
    client: TestClient[Litestar],
) -> None:
    home = client.get("/app")
    assert home.status_code == 200 and '<html lang="en">' in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    pre = home.headers["set-cookie"]
    assert "HttpOnly" in pre and "samesite=strict" in pre.lower()
    assert client.post("/recover", data={"code": "x"}).status_code == 403
    assert client.post("/recover", data={"code": "x", "csrf": "0" * 64}).status_code == 403
    away = client.get("/wallet", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/app?signin=1"
    refused = client.post("/recover", data={"code": "nope", "csrf": _csrf(client)})
    assert refused.status_code == 401
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/v1/customers"}
    assert not any(
        p.startswith(("/app", "/wallet")) for p in client.get("/openapi.json").json()["paths"]
    )


def test_a_merchant_needs_a_fresh_passkey_for_an_api_key(client: TestClient[Litestar]) -> None:
    device = _sign_up(client, "merchant")
    token = _csrf(client, "/dashboard")
    asked = client.post("/dashboard/keys", data={"name": "k", "scope": "read", "csrf": token})
    assert asked.status_code == 401 and "Confirm with your passkey" in asked.text
    headers = {"X-CSRF-Token": token}
    options = client.post("/web/stepup/options", headers=headers, json={})
    answer = json.loads(device.get(options.text))
    assert (
        client.post("/web/stepup/finish", headers=headers, json={"credential": answer}).status_code
        == 200
    )
    again = client.post("/web/stepup/finish", headers=headers, json={"credential": answer})
    assert again.status_code == 401  # the same assertion, replayed
    made = client.post("/dashboard/keys", data={"name": "k", "scope": "read", "csrf": token})
    assert made.status_code == 200 and re.search(r"ck_key_\w+", made.text)
    assert client.get("/console", follow_redirects=False).status_code == 303  # not an operator


def test_the_wallet_shows_its_balance_and_refuses_bad_amounts(
    client: TestClient[Litestar],
) -> None:
    _sign_up(client, "customer")
    wallet = client.get("/wallet")
    assert wallet.status_code == 200 and "0.00 USD" in wallet.text
    token = _csrf(client, "/wallet")
    bad = client.post(
        "/wallet/send", data={"recipient": "cus_0000000000001", "amount": "1e3", "csrf": token}
    )
    assert bad.status_code == 400 and "number" in bad.text
    short = client.post(
        "/wallet/send", data={"recipient": "cus_0000000000001", "amount": "1", "csrf": token}
    )
    assert short.status_code == 422


@given(
    st.sampled_from(sorted(ASSETS)),
    st.integers(min_value=0, max_value=10**15),
    st.sampled_from(LOCALES),
)
def test_money_on_pages_is_exact(asset: str, amount: int, locale: str) -> None:
    """Every digit the amount has is shown (grouped per locale), none invented: parsing
    what is shown gives the amount back."""
    shown = Formats(locale).amount(amount, asset)
    assert ASSETS[asset].parse(shown.replace(",", "")) == amount and "e" not in shown
    shown_money = Formats(locale).money(amount, asset)
    won = {"en": f"₩{shown}", "ko": f"{shown}원"}[locale]  # won as people write it
    assert shown_money == (won if asset == "KRW" else f"{shown} {asset}")


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=31))
def test_chart_bars_fit_and_follow_the_values(days: list[int]) -> None:
    chart = earnings_chart(days, "USD")
    assert all(0 <= bar.height <= HEIGHT and bar.y + bar.height == HEIGHT for bar in chart.bars)
    peak = max(days)
    for bar, value in zip(chart.bars, days, strict=True):
        assert (bar.height == HEIGHT) == (value == peak and peak > 0)
        assert (bar.height == 0) == (value == 0)
