"""What a client or a person must not be able to do, and the edges of the resources: each
test attacks one rule and checks that nothing changed."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from centime.clock import FakeClock
from centime.openpayments.fetch import JwksFetcher
from centime.openpayments.keys import register_key, revoke_key
from centime.openpayments.signatures import ReplayGuard
from centime.openpayments.streams import IDLE_S, settle_idle_streams
from centime.platform.chart import AccountKind, account_id
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.risk.types import Action
from tests.openpayments.signing import ClientKey, request
from tests.openpayments.test_flow import BASE, _customer, _grant, _shop, _usd, http
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_pages import _csrf, _sign_up
from tests.web.test_payout_pages import _step_up

__all__ = ["http"]


def _incoming(
    http: TestClient[Litestar], key: ClientKey, client: str, wallet: str, amount: int = 1_000_000
) -> tuple[dict[str, Any], str]:
    actions = ["create", "read", "list", "complete"]
    granted = _grant(http, key, client, [{"type": "incoming-payment", "actions": actions}])
    token = granted["access_token"]["value"]
    made = request(
        http,
        key,
        "POST",
        f"{BASE}/op/incoming-payments",
        {"walletAddress": wallet, "incomingAmount": _usd(amount)},
        token,
    )
    assert made.status_code == 201, made.text
    return made.json(), token


def _outgoing_grant(
    http: TestClient[Litestar],
    key: ClientKey,
    client: str,
    payer: str,
    device: Any,
    limits: dict[str, Any] | None = None,
    full: bool = False,
) -> Any:
    access: dict[str, Any] = {
        "type": "outgoing-payment",
        "actions": ["create", "read", "list"],
        "identifier": payer,
    }
    if limits:
        access["limits"] = limits
    finish = {"method": "redirect", "uri": "https://shop.example/back", "nonce": "n"}
    pending = _grant(
        http, key, client, [access], interact={"start": ["redirect"], "finish": finish}
    )
    consent = urlsplit(pending["interact"]["redirect"]).path
    token = _csrf(http, consent)
    _step_up(http, device, token)
    done = http.post(consent, data={"decision": "accept", "csrf": token}, follow_redirects=False)
    ref = parse_qs(urlsplit(done.headers["location"]).query)["interact_ref"][0]
    cont = pending["continue"]
    issued = request(
        http, key, "POST", cont["uri"], {"interact_ref": ref}, cont["access_token"]["value"]
    )
    assert issued.status_code == 200, issued.text
    return issued.json()["access_token"] if full else issued.json()["access_token"]["value"]


def test_a_client_sees_only_what_it_made(http: TestClient[Litestar], platform: Platform) -> None:
    client, key, _ = _shop(platform)
    other, other_key, _ = _shop(platform)
    incoming, _ = _incoming(http, key, client, client)
    _, other_token = _incoming(http, other_key, other, client)
    assert request(http, other_key, "GET", incoming["id"], None, other_token).status_code == 404
    done = request(http, other_key, "POST", incoming["id"] + "/complete", None, other_token)
    assert done.status_code in (403, 404)
    listed = request(
        http,
        other_key,
        "GET",
        f"{BASE}/op/incoming-payments?wallet-address={client}",
        None,
        other_token,
    )
    assert listed.status_code == 200, listed.text
    assert incoming["id"] not in [item["id"] for item in listed.json()["result"]]
    everything = request(
        http,
        other_key,
        "POST",
        f"{BASE}/op/auth",
        {
            "client": other,
            "access_token": {
                "access": [
                    {
                        "type": "incoming-payment",
                        "actions": ["read-all", "list-all"],
                        "identifier": client,
                    }
                ]
            },
        },
    )
    assert everything.status_code == 400
    # another client's token is not this client's: the signature is bound to the grant's key
    own_token = _incoming(http, key, client, client)[1]
    stolen = request(http, other_key, "GET", incoming["id"], None, own_token)
    assert stolen.status_code == 401


def test_only_the_wallets_owner_consents_and_only_after_a_passkey(
    http: TestClient[Litestar], platform: Platform
) -> None:
    client, key, _ = _shop(platform)
    _, victim_id = _customer(http, platform)
    victim = f"{BASE}/op/wallets/{format_id('cus', victim_id)}/USD"
    http.cookies.clear()
    device = _sign_up(http, "customer")  # the attacker, signed in as another customer
    pending = _grant(
        http,
        key,
        client,
        [{"type": "outgoing-payment", "actions": ["create"], "identifier": victim}],
        interact={"start": ["redirect"]},
    )
    consent = urlsplit(pending["interact"]["redirect"]).path
    assert http.get(consent).status_code == 404
    token = _csrf(http, "/wallet")
    _step_up(http, device, token)
    answer = http.post(consent, data={"decision": "accept", "csrf": token}, follow_redirects=False)
    assert answer.status_code == 404
    cont = pending["continue"]
    polled = request(http, key, "POST", cont["uri"], None, cont["access_token"]["value"])
    assert polled.status_code == 200 and "access_token" not in polled.json()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)  # not a replay
    again = request(
        http, key, "POST", cont["uri"], None, cont["access_token"]["value"], created=later
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "too_fast"
    http.cookies.clear()
    assert http.get(consent, follow_redirects=False).status_code == 303  # signed out


def test_a_refused_grant_and_a_cancelled_one(
    http: TestClient[Litestar], platform: Platform
) -> None:
    client, key, _ = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    pending = _grant(
        http,
        key,
        client,
        [{"type": "outgoing-payment", "actions": ["create"], "identifier": payer}],
        interact={"start": ["redirect"]},
    )
    consent = urlsplit(pending["interact"]["redirect"]).path
    token = _csrf(http, consent)
    refused = http.post(consent, data={"decision": "deny", "csrf": token})
    assert refused.status_code == 200
    cont = pending["continue"]
    denied = request(http, key, "POST", cont["uri"], None, cont["access_token"]["value"])
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "request_denied"
    pay_token = _outgoing_grant(http, key, client, payer, device)
    grant = _grant(http, key, client, [{"type": "quote", "actions": ["create"]}])
    gone = request(
        http,
        key,
        "DELETE",
        grant["continue"]["uri"],
        None,
        grant["continue"]["access_token"]["value"],
    )
    assert gone.status_code == 204
    quote = request(
        http,
        key,
        "POST",
        f"{BASE}/op/quotes",
        {"walletAddress": payer, "receiver": f"{BASE}/op/incoming-payments/x", "method": "ilp"},
        grant["access_token"]["value"],
    )
    assert quote.status_code == 401  # the cancelled grant's token no longer works
    assert pay_token


def test_money_moves_once_and_only_within_the_rules(
    http: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, _ = _incoming(http, key, client, client, 3_000_000)
    limits = {"debitAmount": _usd(1_000_000), "interval": "R/2023-11-01T00:00:00Z/PT1H"}
    granted = _outgoing_grant(http, key, client, payer, device, limits, full=True)
    pay_token = granted["value"]
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(700_000)}
    headers, content = key.sign("POST", f"{BASE}/op/outgoing-payments", body, pay_token)
    first = http.post(f"{BASE}/op/outgoing-payments", headers=headers, content=content)
    assert first.status_code == 201, first.text
    assert (
        http.post(f"{BASE}/op/outgoing-payments", headers=headers, content=content).status_code
        == 401
    )  # a replay, in this process
    state = http.app.state["open_payments"]
    state.replay = ReplayGuard()  # as if it reached another process
    again = http.post(f"{BASE}/op/outgoing-payments", headers=headers, content=content)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    wallet = account_id(AccountKind.CUSTOMER_WALLET, customer_id, "USD")
    with platform.read() as fetch:
        [reserved] = fetch(
            "SELECT debits_pending, debits_posted FROM accounts WHERE id = ?", (wallet,)
        )
    assert reserved == (1_000_000, 0)  # a stream: the grant's budget reserved, once
    body["debitAmount"] = _usd(400_000)
    over = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, pay_token)
    assert over.status_code == 403 and over.json()["error"]["code"] == "insufficient_grant"
    clock.advance(3600)  # the next repetition of the interval: the limit starts again
    later = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, pay_token)
    assert later.status_code == 401  # ... but the token has expired (10 minutes): rotate it
    rotated = request(http, key, "POST", granted["manage"], None, pay_token)
    assert rotated.status_code == 200, rotated.text
    new_token = rotated.json()["access_token"]["value"]
    now = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, new_token)
    assert now.status_code == 201, now.text
    assert now.json()["grantSpentDebitAmount"] == _usd(400_000)  # this repetition only
    earnings = account_id(AccountKind.MERCHANT_AVAILABLE, shop_id, "USD")
    with platform.read() as fetch:
        [(credits,)] = fetch("SELECT credits_posted FROM accounts WHERE id = ?", (earnings,))
    assert credits == 700_000  # the first stream, settled when its reserve ran short
    clock.advance(IDLE_S)
    assert settle_idle_streams(platform) == 1
    with platform.read() as fetch:
        [(credits,)] = fetch("SELECT credits_posted FROM accounts WHERE id = ?", (earnings,))
        [balance] = fetch(
            "SELECT debits_pending, debits_posted FROM accounts WHERE id = ?", (wallet,)
        )
    assert (credits, balance) == (1_100_000, (0, 1_100_000))


def test_the_risk_screen_and_the_boundaries(http: TestClient[Litestar], platform: Platform) -> None:
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, _ = _incoming(http, key, client, client)
    pay_token = _outgoing_grant(http, key, client, payer, device)
    platform.screen = ScriptedScreen(lambda event: decision(Action.REVIEW, "new_payee"))
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(5)}
    held = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, pay_token)
    assert held.status_code == 403 and held.json()["error"]["code"] == "request_denied"
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM op_outgoing_payments", ())[0][0] == 0
        assert fetch("SELECT COUNT(*) FROM payments", ())[0][0] == 0
        [(action,)] = fetch("SELECT action FROM risk_decisions WHERE event_type = 'payment'", ())
    assert action == "block"
    platform.screen = ScriptedScreen(lambda event: decision(Action.ALLOW))
    quoting = _grant(http, key, client, [{"type": "quote", "actions": ["create"]}])
    q_token = quoting["access_token"]["value"]
    foreign = request(
        http,
        key,
        "POST",
        f"{BASE}/op/quotes",
        {
            "walletAddress": payer,
            "method": "ilp",
            "receiver": "https://ilp.example/incoming-payments/0b6a7b8c-1d2e-4f00-8a00-000000000000",
        },
        q_token,
    )
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "invalid_receiver"
    for amount in (
        {"value": "5", "assetCode": "USD", "assetScale": 2},
        {"value": "5.0", "assetCode": "USD", "assetScale": 6},
        {"value": 5, "assetCode": "USD", "assetScale": 6},
        {"value": str(2**64), "assetCode": "USD", "assetScale": 6},
        {"value": "5", "assetCode": "EUR", "assetScale": 6},
    ):
        bad = request(
            http,
            key,
            "POST",
            f"{BASE}/op/quotes",
            {
                "walletAddress": payer,
                "receiver": incoming["id"],
                "method": "ilp",
                "debitAmount": amount,
            },
            q_token,
        )
        assert bad.status_code == 400, amount
    assert shop_id


def test_expiry_and_revoked_keys(
    http: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, token = _incoming(http, key, client, client)
    quoting = _grant(http, key, client, [{"type": "quote", "actions": ["create"]}])
    quote = request(
        http,
        key,
        "POST",
        f"{BASE}/op/quotes",
        {"walletAddress": payer, "receiver": incoming["id"], "method": "ilp"},
        quoting["access_token"]["value"],
    ).json()
    pay_token = _outgoing_grant(http, key, client, payer, device)
    clock.advance(301)
    stale = request(
        http,
        key,
        "POST",
        f"{BASE}/op/outgoing-payments",
        {"walletAddress": payer, "quoteId": quote["id"]},
        pay_token,
    )
    assert stale.status_code == 400 and "expired" in stale.json()["error"]["description"]
    platform.execute(revoke_key(platform, "merchant", shop_id, key.kid))
    assert request(http, key, "GET", incoming["id"], None, token).status_code == 401
    assert http.get(f"{client}/jwks.json").json() == {"keys": []}
    fresh = ClientKey("shop-key-2")
    platform.execute(register_key(platform, "merchant", shop_id, fresh.kid, fresh.x))
    assert request(http, fresh, "GET", incoming["id"], None, token).status_code == 401  # bound


def test_keys_are_registered_in_the_web_wallet_after_a_passkey(
    http: TestClient[Litestar], platform: Platform
) -> None:
    device, customer_id = _customer(http, platform)
    key = ClientKey("my-app")
    token = _csrf(http, "/wallet")
    headers = {"X-CSRF-Token": token}
    asked = http.post("/op/keys", json={"kid": key.kid, "x": key.x}, headers=headers)
    assert asked.status_code == 401 and asked.json()["error"]["code"] == "step_up_required"
    assert http.post("/op/keys", json={"kid": key.kid, "x": key.x}).status_code == 403  # CSRF
    _step_up(http, device, token)
    made = http.post("/op/keys", json={"kid": key.kid, "x": key.x}, headers=headers)
    assert made.status_code == 201, made.text
    bad = http.post("/op/keys", json={"kid": "k2", "x": "not-a-key"}, headers=headers)
    assert bad.status_code == 400
    wallet = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/EUR"
    assert [k["kid"] for k in http.get(f"{wallet}/jwks.json").json()["keys"]] == ["my-app"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key.x)


def test_the_keys_page_of_the_wallet(http: TestClient[Litestar], platform: Platform) -> None:
    assert http.get("/op/keys", follow_redirects=False).status_code == 303  # signed out
    device, customer_id = _customer(http, platform)
    assert http.get("/op/keys").status_code == 200
    token = _csrf(http, "/op/keys")
    key = ClientKey("from-the-page")
    form = {"kid": key.kid, "x": key.x, "csrf": token}
    asked = http.post("/op/keys", data=form, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/stepup?next=/op/keys"
    _step_up(http, device, token)
    added = http.post("/op/keys", data=form, follow_redirects=False)
    assert added.status_code == 303 and "ok=added" in added.headers["location"]
    assert key.kid in http.get("/op/keys").text
    wallet = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    assert [k["kid"] for k in http.get(f"{wallet}/jwks.json").json()["keys"]] == [key.kid]
    again = http.post("/op/keys", data=form)
    assert again.status_code == 400 and "taken" in again.text
    gone = http.post(f"/op/keys/{key.kid}/revoke", data={"csrf": token}, follow_redirects=False)
    assert gone.status_code == 303
    assert http.get(f"{wallet}/jwks.json").json() == {"keys": []}
    assert http.post(f"/op/keys/{key.kid}/revoke", data={}).status_code == 403  # CSRF


def test_a_foreign_client_and_a_payment_between_two_customers(
    http: TestClient[Litestar], platform: Platform
) -> None:
    foreign = ClientKey("foreign-1")

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    def jwks(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/alice/jwks.json"
        return httpx.Response(
            200,
            json={"keys": [{"kid": foreign.kid, "kty": "OKP", "crv": "Ed25519", "x": foreign.x}]},
        )

    state = http.app.state["open_payments"]
    state.fetcher = JwksFetcher(resolve, httpx.MockTransport(jwks))
    client = "https://wallet.example/alice"
    device, payer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', payer_id)}/USD"
    http.cookies.clear()
    _, payee_id = _customer(http, platform)
    payee = f"{BASE}/op/wallets/{format_id('cus', payee_id)}/USD"
    incoming, _ = _incoming(http, foreign, client, payee, 250_000)
    http.cookies.clear()
    token = _csrf(http, "/app")
    signed_in = http.post("/web/signin/options", headers={"X-CSRF-Token": token}, json={})
    assert signed_in.status_code == 200, signed_in.text
    finished = http.post(
        "/web/signin/finish",
        headers={"X-CSRF-Token": token},
        json={"credential": json.loads(device.get(signed_in.text))},
    )
    assert finished.status_code == 200, finished.text
    pay_token = _outgoing_grant(http, foreign, client, payer, device)
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(250_000)}
    paid = request(http, foreign, "POST", f"{BASE}/op/outgoing-payments", body, pay_token)
    assert paid.status_code == 201, paid.text
    payee_wallet = account_id(AccountKind.CUSTOMER_WALLET, payee_id, "USD")
    with platform.read() as fetch:
        [(credits,)] = fetch("SELECT credits_posted FROM accounts WHERE id = ?", (payee_wallet,))
        assert fetch("SELECT COUNT(*) FROM p2p_transfers", ())[0][0] == 1
    assert credits == 5_000_000 + 250_000
    assert http.get(incoming["id"]).json()["receivedAmount"] == _usd(250_000)
    assert state.fetcher._cache  # fetched once, then cached


def test_a_grant_without_a_finish_uri_is_polled_until_consent(
    http: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    client, key, _ = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    pending = _grant(
        http,
        key,
        client,
        [{"type": "outgoing-payment", "actions": ["create"], "identifier": payer}],
        interact={"start": ["redirect"]},
    )
    cont = pending["continue"]
    waiting = request(http, key, "POST", cont["uri"], None, cont["access_token"]["value"])
    assert waiting.status_code == 200 and waiting.json()["continue"]["wait"] == 5
    consent = urlsplit(pending["interact"]["redirect"]).path
    token = _csrf(http, consent)
    _step_up(http, device, token)
    done = http.post(consent, data={"decision": "accept", "csrf": token})
    assert done.status_code == 200 and "go back to the app" in done.text
    clock.advance(5)
    issued = request(http, key, "POST", cont["uri"], None, cont["access_token"]["value"])
    assert issued.status_code == 200, issued.text
    assert issued.json()["access_token"]["access"][0]["identifier"] == payer
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)
    twice = request(
        http, key, "POST", cont["uri"], None, cont["access_token"]["value"], created=later
    )
    assert twice.status_code == 401  # a grant's token is issued once
