"""The pure parts: amounts on the wire, repeating intervals, local URLs, the safe fetch of
a foreign client's keys, the replay guard."""

from __future__ import annotations

import asyncio
import datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX
from centime.money import ASSETS
from centime.openpayments.addresses import Urls, Wallet
from centime.openpayments.amounts import amount_json, parse_amount
from centime.openpayments.errors import OpError
from centime.openpayments.fetch import JWKS_BYTES_MAX, JwksFetcher, public_address
from centime.openpayments.intervals import parse_interval
from centime.openpayments.signatures import ReplayGuard
from tests.openpayments.signing import ClientKey

URLS = Urls("https://pay.example")


@given(st.sampled_from(sorted(ASSETS)), st.integers(min_value=1, max_value=AMOUNT_MAX))
def test_amounts_round_trip_exactly(asset: str, value: int) -> None:
    assert parse_amount(amount_json(value, asset), "a") == (asset, value)


@pytest.mark.parametrize(
    "raw",
    [
        {"value": "01", "assetCode": "USD", "assetScale": 6},
        {"value": "-1", "assetCode": "USD", "assetScale": 6},
        {"value": "1e3", "assetCode": "USD", "assetScale": 6},
        {"value": 1.5, "assetCode": "USD", "assetScale": 6},
        {"value": "0", "assetCode": "USD", "assetScale": 6},
        {"value": str(2**64), "assetCode": "USD", "assetScale": 6},
        {"value": str(AMOUNT_MAX + 1), "assetCode": "USD", "assetScale": 6},
        {"value": "1", "assetCode": "USD", "assetScale": 2},
        {"value": "1", "assetCode": "USD", "assetScale": True},
        {"value": "1", "assetCode": "XBT", "assetScale": 8},
        {"value": "1", "assetCode": "USD", "assetScale": 6, "extra": 1},
    ],
)
def test_amounts_that_cannot_be_represented_are_refused(raw: object) -> None:
    with pytest.raises(OpError):
        parse_amount(raw, "a")


def _ns(text: str) -> int:
    moment = datetime.datetime.fromisoformat(text)
    return int(moment.timestamp()) * 1_000_000_000


def test_repeating_intervals() -> None:
    monthly = parse_interval("R3/2024-01-31T00:00:00Z/P1M")
    assert monthly is not None
    assert monthly.window_ns(_ns("2024-03-15T00:00:00+00:00")) == (
        _ns("2024-02-29T00:00:00+00:00"),
        _ns("2024-03-31T00:00:00+00:00"),
    )
    assert monthly.window_ns(_ns("2024-01-30T00:00:00+00:00")) is None  # before the start
    assert monthly.window_ns(_ns("2024-05-01T00:00:00+00:00")) is None  # after the third
    ended = parse_interval("R/2024-01-01T00:00:00Z/2024-01-01T06:00:00Z")
    assert ended is not None and ended.window_ns(_ns("2024-01-01T07:00:00+00:00")) == (
        _ns("2024-01-01T06:00:00+00:00"),
        _ns("2024-01-01T12:00:00+00:00"),
    )
    bad_ones: list[object] = [
        "R/P1D/2024-01-01T00:00:00Z",
        "R/2024-01-01T00:00:00/P1D",
        "R/2024-01-01T00:00:00Z/PT0S",
        "2024-01-01T00:00:00Z/P1D",
        "R1/2024-01-01T00:00:00Z",
        5,
    ]
    for bad in bad_ones:
        assert parse_interval(bad) is None, bad


@given(
    st.integers(min_value=0, max_value=10 * 365 * 86_400),
    st.sampled_from(["PT1H", "P1D", "P1M", "P1Y", "PT90S", "P1W"]),
)
def test_a_window_contains_now_and_windows_tile(offset_s: int, step: str) -> None:
    interval = parse_interval(f"R/2020-01-31T10:00:00Z/{step}")
    assert interval is not None
    now = _ns("2020-01-31T10:00:00+00:00") + offset_s * 1_000_000_000
    window = interval.window_ns(now)
    assert window is not None and window[0] <= now < window[1]
    following = interval.window_ns(window[1])
    assert following is not None and following[0] == window[1]


def test_only_exact_local_urls_are_local() -> None:
    wallet = Wallet("customer", 42, "USD")
    url = URLS.wallet(wallet)
    assert URLS.parse_wallet(url) == wallet and URLS.parse_wallet(url + "/") == wallet
    foreign_ones: list[object] = [
        "https://pay.example.evil.com" + wallet.path,
        "http://pay.example" + wallet.path,
        "https://pay.example:8443" + wallet.path,
        url + "?x=1",
        url + "/jwks.json",
        "https://pay.example/op/wallets/cus_0000000000001/XBT",
        None,
    ]
    for foreign in foreign_ones:
        assert URLS.parse_wallet(foreign) is None, foreign
    assert URLS.parse_resource(URLS.resource("quotes", "not-a-uuid"), "quotes") is None


def test_only_public_addresses() -> None:
    for private in (
        "127.0.0.1",
        "10.1.2.3",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fc00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
        "nope",
    ):
        assert not public_address(private), private
    assert public_address("93.184.216.34") and public_address("2606:4700::1111")


def _fetcher(addresses: list[str], handler: httpx.MockTransport) -> JwksFetcher:
    async def resolve(host: str, port: int) -> list[str]:
        return addresses

    return JwksFetcher(resolve, handler)


def test_a_foreign_clients_keys_are_fetched_safely() -> None:
    key = ClientKey("k1")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "keys": [{"kid": "k1", "kty": "OKP", "crv": "Ed25519", "x": key.x, "alg": "EdDSA"}]
            },
        )

    good = _fetcher(["93.184.216.34"], httpx.MockTransport(answer))
    keys = asyncio.run(good.keys("https://wallet.example/alice"))
    assert list(keys) == ["k1"]
    assert str(seen[0].url) == "https://93.184.216.34/alice/jwks.json"  # the checked address
    assert seen[0].headers["host"] == "wallet.example"
    assert seen[0].extensions["sni_hostname"] == "wallet.example"
    for url, addresses in (
        ("http://wallet.example/a", ["93.184.216.34"]),
        ("https://wallet.example/a", ["93.184.216.34", "10.0.0.1"]),
        ("https://wallet.example/a", ["127.0.0.1"]),
        ("https://user@wallet.example/a", ["93.184.216.34"]),
    ):
        with pytest.raises(OpError):
            asyncio.run(_fetcher(addresses, httpx.MockTransport(answer)).keys(url))
    huge = httpx.MockTransport(lambda r: httpx.Response(200, content=b" " * (JWKS_BYTES_MAX + 1)))
    redirect = httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"location": "http://10.0.0.1/"})
    )
    for transport in (huge, redirect):
        with pytest.raises(OpError):
            asyncio.run(_fetcher(["93.184.216.34"], transport).keys("https://wallet.example/b"))


def test_the_replay_guard_forgets_after_the_window() -> None:
    guard = ReplayGuard(window_s=10)
    assert guard.first_use("sig1=:AAAA:", now_s=100)
    assert not guard.first_use("sig1=:AAAA:", now_s=105)
    assert guard.first_use("sig1=:BBBB:", now_s=105)
    assert guard.first_use("sig1=:AAAA:", now_s=111)
