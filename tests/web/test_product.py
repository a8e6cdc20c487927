"""The product as a person meets it: refusals in words (never reason codes), the top-up's
amount kept in its own form, history with names, receipts for their parties only, the pay
button's way back to the merchant's site, the language switch, Korean pages, and what the
dashboard offers a merchant."""

from __future__ import annotations

import re
from urllib.parse import quote

from litestar import Litestar
from litestar.testing import TestClient

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.funding import TopUp, create_topup, process_provider_events
from centime.platform.ids import format_id, parse_id
from centime.platform.payments import TransferRequest, send
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.providers.sandbox import CARD_DECLINED, CARD_SUCCEEDS
from centime.risk.types import Action, Decision, RiskEvent
from tests.platform.world import customer, fund, merchant
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_pages import _csrf, _sign_up, client

__all__ = ["client"]

KO = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}


def _block_topups(event: RiskEvent) -> Decision:
    if event.type.startswith("topup"):
        return decision(Action.BLOCK, "model:payer_age_h", "model:payer_n_1h", score=97)
    return decision(Action.ALLOW)


def _alert(html: str) -> str:
    found = re.search(r'<p class="notice error" role="alert">(.*?)</p>', html, re.S)
    assert found, html[:500]
    return found.group(1)


def _customer_id(http: TestClient[Litestar]) -> int:
    found = re.search(r"(cus_\w+)", http.get("/wallet").text)
    parsed = parse_id("cus", found.group(1)) if found else None
    assert parsed is not None
    return parsed


def test_a_refused_top_up_is_told_in_words_and_keeps_its_amount_in_its_own_form(
    client: TestClient[Litestar], platform: Platform
) -> None:
    platform.screen = ScriptedScreen(_block_topups)
    platform.providers.funding["sandbox"] = SandboxProvider(platform.clock)
    _sign_up(client, "customer")
    token = _csrf(client, "/wallet")
    refused = client.post("/wallet/topup", data={"amount": "7.25", "asset": "USD", "csrf": token})
    assert refused.status_code == 422
    text = refused.text
    said = _alert(text)
    assert "model:" not in text and "payer_age_h" not in text
    assert "For your safety we stopped this" in said and "Your account is new" in said
    assert "risk_blocked" not in said
    assert 'id="topup-amount" name="amount" inputmode="decimal" required value="7.25"' in text
    assert 'id="send-amount" name="amount" inputmode="decimal" required value=""' in text
    korean = client.post(
        "/wallet/topup", data={"amount": "7.25", "asset": "USD", "csrf": token}, headers=KO
    )
    assert "안전을 위해" in _alert(korean.text) and "model:" not in korean.text
    assert '<html lang="ko">' in korean.text


def test_a_top_up_over_the_limit_says_the_limit_and_what_is_left_in_the_readers_words(
    client: TestClient[Litestar], platform: Platform
) -> None:
    platform.providers.funding["sandbox"] = SandboxProvider(platform.clock)
    _sign_up(client, "customer")  # tier 1: 1,000 limit units a day (a dollar, 100 yen)
    token = _csrf(client, "/wallet")
    over = {"amount": "1500", "asset": "USD", "csrf": token}
    english = _alert(client.post("/wallet/topup", data=over).text)
    assert "The daily top-up limit is 1,000.00 USD; 1,000.00 USD left today." in english
    korean = _alert(client.post("/wallet/topup", data=over, headers=KO).text)
    assert "하루 충전 한도는 1,000.00 USD이며" in korean and "left" not in korean, korean
    over_yen = {**over, "amount": "150000", "asset": "JPY"}
    yen = _alert(client.post("/wallet/topup", data=over_yen, headers=KO).text)
    assert "100,000 JPY" in yen and "100,000.0000" not in yen, yen  # whole yen, no minor unit


def test_history_names_people_and_dates_and_links_receipts_for_their_parties_only(
    client: TestClient[Litestar], platform: Platform
) -> None:
    _sign_up(client, "customer")  # "Ada"
    me = _customer_id(client)
    fund(platform, me, "USD", 10_000_000)
    friend = customer(platform)
    sent = platform.execute(
        send(platform, TransferRequest(me, friend.id, "USD", 2_500_000, note="lunch"))
    )
    ref = format_id("tr", sent.id)  # type: ignore[union-attr]
    wallet = client.get("/wallet").text
    assert f"to {friend.name}" in wallet and format_id("cus", friend.id) not in wallet
    assert f'href="/receipts/{ref}"' in wallet
    assert re.search(r"<time>[^<]*\d{2}[^<]*</time>", wallet)  # a date on every line
    receipt = client.get(f"/receipts/{ref}")
    assert receipt.status_code == 200
    assert friend.name in receipt.text and "2.50 USD" in receipt.text
    assert "audit log is off" in receipt.text or "signed tree" in receipt.text
    assert client.get(f"/receipts/{ref}/print").status_code == 200
    proof = client.get(f"/receipts/{ref}/proof.json")
    assert proof.status_code == 200 and proof.json()["id"] == ref
    # Another person (a new session) gets the same 404 as for an id that does not exist.
    client.cookies.clear()
    _sign_up(client, "customer")
    assert client.get(f"/receipts/{ref}").status_code == 404
    assert client.get(f"/receipts/{ref}/proof.json").status_code == 404
    assert client.get("/receipts/tr_nonsense").status_code == 404


def test_a_top_up_has_a_receipt_linked_from_the_history_for_its_owner_only(
    client: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    _sign_up(client, "customer")
    me = _customer_id(client)
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=0))
    made = [
        create_topup(platform, sandbox, me, asset, amount, Method.CARD, card)
        for asset, amount, card in (
            ("KRW", 1_000_0000, CARD_SUCCEEDS),
            ("USD", 5_000_000, CARD_DECLINED),
        )
    ]
    process_provider_events(platform, sandbox)
    won, declined = (format_id("top", t.id) for t in made if isinstance(t, TopUp))
    wallet = client.get("/wallet").text
    assert f'href="/receipts/{won}"' in wallet and f'href="/receipts/{declined}"' in wallet
    assert f'href="/receipts/{declined}#verify-title"' not in wallet  # nothing to verify
    receipt = client.get(f"/receipts/{won}")
    assert receipt.status_code == 200 and "₩1,000" in receipt.text
    assert "audit log is off" in receipt.text or "signed tree" in receipt.text
    assert client.get(f"/receipts/{won}/proof.json").json()["id"] == won
    korean = client.get(f"/receipts/{won}", headers=KO).text
    assert "1,000원" in korean and "충전 수단" in korean
    refused = client.get(f"/receipts/{declined}").text
    assert "nothing moved in the ledger" in refused and 'id="verify-proof"' not in refused
    client.cookies.clear()
    _sign_up(client, "customer")
    assert client.get(f"/receipts/{won}").status_code == 404
    assert client.get(f"/receipts/{won}/proof.json").status_code == 404


def test_the_pay_button_returns_to_the_merchant_site_never_to_the_pay_page(
    client: TestClient[Litestar], platform: Platform
) -> None:
    shop = merchant(platform)
    _sign_up(client, "customer")
    fund(platform, _customer_id(client), "USD", 5_000_000)
    site = "https://news.example/articles/42?x=1"
    query = f"merchant={format_id('mer', shop.id)}&asset=USD&amount=0.05&back={quote(site)}"
    page = client.get(f"/pay/button?{query}")
    assert f'name="back" value="{site.replace("&", "&amp;")}"' in page.text
    token = _csrf(client, f"/pay/button?{query}")
    form = {
        "merchant": format_id("mer", shop.id),
        "asset": "USD",
        "amount": "0.05",
        "mode": "once",
        "attempt": "4242",
        "back": site,
        "csrf": token,
    }
    paid = client.post("/pay/button", data=form, follow_redirects=False)
    assert paid.status_code == 303
    after = client.get(paid.headers["location"])
    assert f'<a href="{site.replace("&", "&amp;")}" id="back-to-site">' in after.text
    # A "back" pointing at the pay page itself (or anywhere not http(s)) is dropped.
    plain = query.partition("&back=")[0]
    own = client.get(f"/pay/button?{plain}&back=" + quote("https://testserver.local/pay/x"))
    assert 'name="back" value=""' in own.text
    sly = client.get(f"/pay/button?{plain}&back=javascript:alert(1)")
    assert 'name="back" value=""' in sly.text


def test_checkout_sign_in_comes_back_and_the_switch_keeps_the_language(
    client: TestClient[Litestar], platform: Platform
) -> None:
    link = client.get("/pay/link/plink_nonsense")
    assert link.status_code == 404
    home = client.get("/app?signin=1&next=/pay/link/plink_abc")
    assert 'data-passkey="signin" data-next="/pay/link/plink_abc"' in home.text
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert "data-next" not in client.get(f"/app?next={quote(bad)}").text.split("signin")[1]
    switched = client.get("/lang?to=ko&next=/app", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/app"
    assert "centime_lang=ko" in switched.headers["set-cookie"]
    korean = client.get("/app")
    assert '<html lang="ko">' in korean.text and "패스키로 로그인" in korean.text
    away = client.get("/lang?to=en&next=//evil.example/", follow_redirects=False)
    assert away.headers["location"] == "/app"
    assert '<html lang="en">' in client.get("/app", headers=KO).text  # the cookie wins


def test_the_dashboard_offers_a_merchant_what_it_can_use(client: TestClient[Litestar]) -> None:
    _sign_up(client, "merchant")
    page = client.get("/dashboard").text
    assert 'name="scope" value="review"' not in page and 'value="admin"' not in page
    assert 'name="scope" value="payouts"' in page
    assert 'value="topup.succeeded"' not in page and 'value="transfer.created"' not in page
    assert 'value="payment.created"' in page
    assert '&lt;script src="https://testserver.local/pay/button.js"' in page
    korean = client.get("/dashboard", headers=KO).text
    assert "수익" in korean and "USD" in korean


def test_a_refused_pay_button_payment_says_why_and_keeps_the_way_back(
    client: TestClient[Litestar], platform: Platform
) -> None:
    shop = merchant(platform)
    _sign_up(client, "customer")  # no money
    site = "https://news.example/a"
    token = _csrf(client, "/wallet")
    form = {
        "merchant": format_id("mer", shop.id),
        "asset": "USD",
        "amount": "0.05",
        "mode": "once",
        "back": site,
        "csrf": token,
    }
    refused = client.post("/pay/button", data=form, headers=KO)
    assert refused.status_code == 402
    assert "지갑에 돈이 부족합니다" in _alert(refused.text)
    assert shop.name in refused.text and f'<a href="{site}">' in refused.text
