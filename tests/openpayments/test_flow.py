"""The whole Open Payments flow in process, signed the way the official client signs:
wallet address and keys -> incoming-payment grant -> incoming payment -> quote grant ->
quote -> interactive outgoing-payment grant, consented in the web wallet with a passkey ->
continue -> outgoing payment (the money moves on the ledger) -> the public incoming payment
shows it received; a payment over the grant's limit is refused; token rotation and
revocation; attacks on signatures (no signature, another key, a replay, an old one)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from centime.auth.passkeys import RelyingParty
from centime.auth.sessions import LoginThrottle
from centime.clock import FakeClock
from centime.openpayments import OpenPaymentsState, Urls
from centime.openpayments.keys import register_key
from centime.platform.chart import AccountKind, account_id
from centime.platform.context import Platform
from centime.platform.ids import format_id, parse_id
from centime.risk.types import Action
from centime.server import create_app
from centime.web import WebState
from tests.auth.test_passkeys import ORIGIN, SoftAuthenticator
from tests.openpayments.signing import ClientKey, request
from tests.platform.world import fund, merchant
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_pages import _csrf, _sign_up
from tests.web.test_payout_pages import _step_up

BASE = "https://testserver.local"


@pytest.fixture
def http(platform: Platform, clock: FakeClock) -> Iterator[TestClient[Litestar]]:
    platform.screen = ScriptedScreen(lambda event: decision(Action.ALLOW))
    web = WebState(
        platform, RelyingParty.for_origin(ORIGIN), LoginThrottle(lambda: clock.now_ns() / 1e9)
    )
    state = OpenPaymentsState(platform, Urls(BASE))
    with TestClient(create_app(platform, web=web, open_payments=state), base_url=BASE) as client:
        yield client


def _shop(platform: Platform) -> tuple[str, ClientKey, int]:
    """A merchant whose wallet address is the client, with a registered key."""
    shop = merchant(platform)
    key = ClientKey("shop-key-1")
    made = platform.execute(register_key(platform, "merchant", shop.id, key.kid, key.x))
    assert not hasattr(made, "code"), made
    return f"{BASE}/op/wallets/{format_id('mer', shop.id)}/USD", key, shop.id


def _usd(value: int) -> dict[str, Any]:
    return {"value": str(value), "assetCode": "USD", "assetScale": 6}


def _grant(
    http: TestClient[Litestar], key: ClientKey, client: str, access: list[Any], **extra: Any
) -> Any:
    body = {"access_token": {"access": access}, "client": client, **extra}
    answer = request(http, key, "POST", f"{BASE}/op/auth", body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _customer(
    http: Any, platform: Platform, *, secure: bool = True, origin: str = ORIGIN
) -> tuple[Any, int]:
    """A customer signed up in the web wallet with a software passkey, funded."""
    if secure:
        device = _sign_up(http, "customer")
    else:  # plain http on loopback: the session cookie is not marked Secure
        device = SoftAuthenticator(origin=origin)
        headers = {"X-CSRF-Token": _csrf(http)}
        options = http.post(
            "/web/signup/options", json={"name": "Ada", "kind": "customer"}, headers=headers
        )
        done = http.post(
            "/web/signup/finish",
            headers=headers,
            json={"credential": json.loads(device.create(options.text))},
        )
        assert done.status_code == 200, done.text
    found = re.search(r"(cus_\w+)", http.get("/wallet").text)
    customer_id = parse_id("cus", found.group(1)) if found else None
    assert customer_id is not None
    fund(platform, customer_id, "USD", 5_000_000)
    return device, customer_id


def test_wallet_address_and_keys(http: TestClient[Litestar], platform: Platform) -> None:
    client, key, shop_id = _shop(platform)
    found = http.get(client, headers={"Accept": "application/json"})
    assert found.status_code == 200
    assert found.json() == {
        "id": client,
        "publicName": "Shop",
        "assetCode": "USD",
        "assetScale": 6,
        "authServer": f"{BASE}/op/auth",
        "resourceServer": f"{BASE}/op",
    }
    [jwk] = http.get(f"{client}/jwks.json").json()["keys"]
    assert jwk == {
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.x,
    }
    assert http.get(f"{BASE}/op/wallets/mer_0000000000000/USD").status_code == 404
    assert http.get(f"{BASE}/op/wallets/{format_id('mer', shop_id)}/XXX").status_code == 404


def test_the_whole_flow(http: TestClient[Litestar], platform: Platform) -> None:
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    # incoming payment on the shop's wallet
    granted = _grant(
        http,
        key,
        client,
        [
            {
                "type": "incoming-payment",
                "actions": ["create", "read", "complete"],
                "identifier": client,
            }
        ],
    )
    token = granted["access_token"]["value"]
    made = request(
        http,
        key,
        "POST",
        f"{BASE}/op/incoming-payments",
        {"walletAddress": client, "incomingAmount": _usd(2_000_000), "metadata": {"order": "42"}},
        token,
    )
    assert made.status_code == 201, made.text
    incoming = made.json()
    assert incoming["receivedAmount"] == _usd(0) and incoming["methods"] == []
    # a quote from the customer's wallet
    quoting = _grant(http, key, client, [{"type": "quote", "actions": ["create", "read"]}])
    quote = request(
        http,
        key,
        "POST",
        f"{BASE}/op/quotes",
        {"walletAddress": payer, "receiver": incoming["id"], "method": "ilp"},
        quoting["access_token"]["value"],
    ).json()
    assert quote["debitAmount"] == quote["receiveAmount"] == _usd(2_000_000)
    # the interactive grant, with a limit
    finish = {"method": "redirect", "uri": "https://shop.example/back", "nonce": "n-123"}
    pending = _grant(
        http,
        key,
        client,
        [
            {
                "type": "outgoing-payment",
                "actions": ["create", "read"],
                "identifier": payer,
                "limits": {"debitAmount": _usd(2_500_000)},
            }
        ],
        interact={"start": ["redirect"], "finish": finish},
    )
    assert "access_token" not in pending
    consent = urlsplit(pending["interact"]["redirect"]).path
    assert http.get(consent).status_code == 200
    token_csrf = _csrf(http, consent)
    asked = http.post(
        consent, data={"decision": "accept", "csrf": token_csrf}, follow_redirects=False
    )
    assert asked.status_code == 303 and asked.headers["location"].startswith("/stepup")
    _step_up(http, device, token_csrf)
    done = http.post(
        consent, data={"decision": "accept", "csrf": token_csrf}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    back = parse_qs(urlsplit(done.headers["location"]).query)
    ref = back["interact_ref"][0]
    base = f"n-123\n{pending['interact']['finish']}\n{ref}\n{BASE}/op/auth"
    assert back["hash"][0] == base64.b64encode(hashlib.sha256(base.encode()).digest()).decode()
    cont = pending["continue"]
    wrong = request(
        http, key, "POST", cont["uri"], {"interact_ref": "nope"}, cont["access_token"]["value"]
    )
    assert wrong.status_code == 401
    issued = request(
        http, key, "POST", cont["uri"], {"interact_ref": ref}, cont["access_token"]["value"]
    )
    assert issued.status_code == 200, issued.text
    pay_token = issued.json()["access_token"]["value"]
    paid = request(
        http,
        key,
        "POST",
        f"{BASE}/op/outgoing-payments",
        {"walletAddress": payer, "quoteId": quote["id"]},
        pay_token,
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["sentAmount"] == _usd(2_000_000)
    assert paid.json()["grantSpentDebitAmount"] == _usd(2_000_000)
    public = http.get(incoming["id"]).json()
    assert public == {"receivedAmount": _usd(2_000_000), "authServer": f"{BASE}/op/auth"}
    with platform.read() as fetch:
        [(credits,)] = fetch(
            "SELECT credits_posted FROM accounts WHERE id = ?",
            (account_id(AccountKind.MERCHANT_AVAILABLE, shop_id, "USD"),),
        )
    assert credits == 2_000_000
    # over the grant's limit: refused, nothing moves
    second = request(
        http,
        key,
        "POST",
        f"{BASE}/op/incoming-payments",
        {"walletAddress": client, "incomingAmount": _usd(1_000_000)},
        token,
    ).json()
    over = request(
        http,
        key,
        "POST",
        f"{BASE}/op/outgoing-payments",
        {"walletAddress": payer, "incomingPayment": second["id"], "debitAmount": _usd(600_000)},
        pay_token,
    )
    assert over.status_code == 403 and over.json()["error"]["code"] == "insufficient_grant"
    within = request(
        http,
        key,
        "POST",
        f"{BASE}/op/outgoing-payments",
        {"walletAddress": payer, "incomingPayment": second["id"], "debitAmount": _usd(500_000)},
        pay_token,
    )
    assert within.status_code == 201, within.text
    # rotation: the old token stops, the new one works; revocation ends it
    manage = issued.json()["access_token"]["manage"]
    rotated = request(http, key, "POST", manage, None, pay_token)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["access_token"]
    paid_id = paid.json()["id"]
    assert request(http, key, "GET", paid_id, None, pay_token).status_code == 401
    assert request(http, key, "GET", paid_id, None, new["value"]).status_code == 200
    assert request(http, key, "DELETE", new["manage"], None, new["value"]).status_code == 204
    assert request(http, key, "GET", paid_id, None, new["value"]).status_code == 401


def test_signatures_are_required_and_bound(http: TestClient[Litestar], platform: Platform) -> None:
    client, key, _ = _shop(platform)
    body = {
        "access_token": {"access": [{"type": "quote", "actions": ["create"]}]},
        "client": client,
    }
    unsigned = http.post(f"{BASE}/op/auth", json=body)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "invalid_client"
    stranger = ClientKey(key.kid)  # the same kid, another key
    assert request(http, stranger, "POST", f"{BASE}/op/auth", body).status_code == 401
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    assert request(http, key, "POST", f"{BASE}/op/auth", body, created=old).status_code == 401
    headers, content = key.sign("POST", f"{BASE}/op/auth", body)
    assert http.post(f"{BASE}/op/auth", headers=headers, content=content).status_code == 200
    replayed = http.post(f"{BASE}/op/auth", headers=headers, content=content)
    assert replayed.status_code == 401  # the same signature again
    headers, _ = key.sign("POST", f"{BASE}/op/auth", body)
    tampered = msgspec_body(
        {**body, "access_token": {"access": [{"type": "incoming-payment", "actions": ["create"]}]}}
    )
    assert http.post(f"{BASE}/op/auth", headers=headers, content=tampered).status_code == 401


def msgspec_body(body: object) -> bytes:
    import msgspec

    return msgspec.json.encode(body)
