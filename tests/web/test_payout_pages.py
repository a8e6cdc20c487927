"""The dashboard's payouts and webhook endpoints in process: step-up before a bank account
or an instant payout, CSRF on every form, the quote shown before confirming, one merchant
never reaching another's quote or endpoint."""

from __future__ import annotations

import dataclasses
import json
import re

from litestar import Litestar
from litestar.testing import TestClient

from centime.auth.sessions import STEP_UP_FRESH_S
from centime.clock import FakeClock
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.events import webhooks
from centime.platform.ids import format_id, parse_id
from centime.platform.parties import merchant_balances
from centime.platform.payouts import list_payouts
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS
from tests.auth.test_passkeys import SoftAuthenticator
from tests.platform.payout_world import earn, install_rail
from tests.web.test_pages import _csrf, _sign_up, client

__all__ = ["client"]


def _step_up(http: TestClient[Litestar], device: SoftAuthenticator, token: str) -> None:
    headers = {"X-CSRF-Token": token}
    options = http.post("/web/stepup/options", headers=headers, json={})
    answer = json.loads(device.get(options.text))
    finished = http.post("/web/stepup/finish", headers=headers, json={"credential": answer})
    assert finished.status_code == 200, finished.text


def _merchant_id(http: TestClient[Litestar]) -> int:
    found = re.search(r"Merchant id <code>(mer_\w+)</code>", http.get("/dashboard").text)
    assert found
    merchant_id = parse_id("mer", found.group(1))
    assert merchant_id is not None
    return merchant_id


def test_a_bank_account_and_an_instant_payout_need_a_fresh_passkey(
    client: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    install_rail(platform, clock)
    payouts = dataclasses.replace(platform.config.payouts, payout_method_lock_s=60)
    platform.config = dataclasses.replace(platform.config, payouts=payouts)  # within a session
    device = _sign_up(client, "merchant")
    merchant_id = _merchant_id(client)
    token = _csrf(client, "/dashboard")
    form = {"holder_name": "Ada Lovelace", "account_number": ACCOUNT_SUCCEEDS, "csrf": token}
    assert (
        client.post("/dashboard/payout-methods", data={**form, "csrf": "0" * 64}).status_code == 403
    )
    asked = client.post("/dashboard/payout-methods", data=form)
    assert asked.status_code == 401 and "Confirm with your passkey" in asked.text
    assert 'data-testid="method-last4"' not in client.get("/dashboard").text
    _step_up(client, device, token)
    added = client.post("/dashboard/payout-methods", data=form, follow_redirects=False)
    assert added.status_code == 303 and "ok=method_added" in added.headers["location"]
    page = client.get("/dashboard").text
    assert page.count('data-testid="method-last4">…5432<') == 1  # the last four only
    # Payouts are locked after the change; then the earnings can be paid out now.
    earn(platform, merchant_id, 50_000_000)
    locked = client.post("/dashboard/payouts/quote", data={"amount": "10", "csrf": token})
    assert locked.status_code == 422
    # The lock in words, never in seconds: how long is left, and why.
    assert "Payouts are paused for 1 min more" in locked.text and "seconds" not in locked.text
    clock.advance(15)
    assert "Payouts are paused for 45 s more" in client.get("/dashboard").text
    clock.advance(platform.config.payouts.payout_method_lock_s + STEP_UP_FRESH_S + 1 - 15)
    quoted = client.post("/dashboard/payouts/quote", data={"amount": "10", "csrf": token})
    assert quoted.status_code == 200, quoted.text
    fee = re.search(r'data-testid="quote-fee">([\d.]+) USD', quoted.text)
    net = re.search(r'data-testid="quote-net">([\d.]+) USD', quoted.text)
    quote = re.search(r'name="quote" value="(quo_\w+)"', quoted.text)
    assert fee and net and quote and "expires" in quoted.text
    assert int(fee.group(1).replace(".", "")) + int(net.group(1).replace(".", "")) == 1000
    assert list_payouts(platform, merchant_id).items == []  # nothing paid by a quote
    stale = client.post("/dashboard/payouts/confirm", data={"quote": quote.group(1), "csrf": token})
    assert stale.status_code == 401 and "Confirm with your passkey" in stale.text  # stale
    _step_up(client, device, token)
    paid = client.post(
        "/dashboard/payouts/confirm",
        data={"quote": quote.group(1), "csrf": token},
        follow_redirects=False,
    )
    assert paid.status_code == 303 and "ok=payout_" in paid.headers["location"]
    [payout] = list_payouts(platform, merchant_id).items
    assert payout.amount == 10_000_000 and payout.kind.value == "instant"
    again = client.post(
        "/dashboard/payouts/confirm",
        data={"quote": quote.group(1), "csrf": token},
        follow_redirects=False,
    )
    assert again.status_code == 303 and len(list_payouts(platform, merchant_id).items) == 1
    assert payout.status.value in client.get("/dashboard").text

    # Another merchant reaches neither the quote nor the accounts.
    client.cookies.clear()
    other = _sign_up(client, "merchant")
    token = _csrf(client, "/dashboard")
    _step_up(client, other, token)
    foreign = client.post(
        "/dashboard/payouts/confirm", data={"quote": quote.group(1), "csrf": token}
    )
    assert foreign.status_code == 404 and 'data-testid="method-last4"' not in foreign.text


def test_webhook_endpoints_show_their_secret_once_and_stay_their_owners(
    client: TestClient[Litestar], platform: Platform
) -> None:
    _sign_up(client, "merchant")
    token = _csrf(client, "/dashboard")
    form = {"url": "https://example.com/hook", "event_type": "payment.created", "csrf": token}
    assert client.post("/dashboard/webhooks", data={**form, "csrf": ""}).status_code == 403
    bad = client.post("/dashboard/webhooks", data={**form, "url": "http://example.com/x"})
    assert bad.status_code == 422 and "public https:// address" in bad.text
    internal = client.post("/dashboard/webhooks", data={**form, "url": "https://10.0.0.1/x"})
    assert internal.status_code == 422 and "not an internal one" in internal.text
    made = client.post("/dashboard/webhooks", data=form)
    secret = re.search(r'id="new-secret">([^<]+)<', made.text)
    endpoint = re.search(r"/dashboard/webhooks/(we_\w+)", made.text)
    assert made.status_code == 200 and secret and endpoint
    assert secret.group(1) not in client.get("/dashboard").text  # shown once
    sent = platform.execute(
        webhooks.send_test_event(platform, None, parse_id("we", endpoint.group(1)) or 0)
    )
    assert not isinstance(sent, Refusal)
    shown = client.get(f"/dashboard/webhooks/{endpoint.group(1)}").text
    # The Event column names the event (type and evt_ id), not the delivery.
    cell = re.search(r'data-testid="delivery-event">(.*?)</td>', shown, re.S)
    assert cell and "webhook.test" in cell.group(1)
    assert format_id("evt", sent.event_id) in cell.group(1)
    assert format_id("wd", sent.id) not in cell.group(1)
    off = client.post(
        f"/dashboard/webhooks/{endpoint.group(1)}/disable",
        data={"csrf": token},
        follow_redirects=False,
    )
    assert off.status_code == 303 and "disabled" in client.get("/dashboard").text
    rotated = client.post(f"/dashboard/webhooks/{endpoint.group(1)}/rotate", data={"csrf": token})
    fresh = re.search(r'id="new-secret">([^<]+)<', rotated.text)
    assert fresh and fresh.group(1) != secret.group(1)
    log = client.get(f"/dashboard/webhooks/{endpoint.group(1)}")
    assert log.status_code == 200 and "Re-deliver" in log.text
    client.cookies.clear()
    _sign_up(client, "merchant")
    token = _csrf(client, "/dashboard")
    assert client.get(f"/dashboard/webhooks/{endpoint.group(1)}").status_code == 404
    taken = client.post(f"/dashboard/webhooks/{endpoint.group(1)}/enable", data={"csrf": token})
    assert taken.status_code == 404
    client.cookies.clear()
    _sign_up(client, "customer")  # a customer has no dashboard: to the sign-in page
    token = _csrf(client, "/wallet")
    for path in ("/dashboard/webhooks", "/dashboard/payouts/quote", "/dashboard/payout-methods"):
        away = client.post(path, data={"csrf": token, "amount": "1"}, follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"] == "/app?signin=1"


def test_the_payout_form_offers_what_is_available_and_a_schedule_saves_back_as_shown(
    client: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    """A newcomer's first quote is one that can go through (the available earnings, not a
    dollar they may not have); a minimum of 1,000 shows as 1000.00 and saves again."""
    install_rail(platform, clock)
    _sign_up(client, "merchant")
    merchant_id = _merchant_id(client)
    earn(platform, merchant_id, 67_763)
    [earned] = merchant_balances(platform, merchant_id)  # the payment less the fee
    page = client.get("/dashboard").text
    offered = re.search(
        r'id="payout-amount" name="amount" required inputmode="decimal" value="([^"]*)"', page
    )
    assert offered and offered.group(1) == ASSETS["USD"].format(earned.available).rstrip("0")
    token = _csrf(client, "/dashboard")
    schedule = {"frequency": "weekly", "weekday": "0", "month_day": "1", "csrf": token}
    saved = client.post("/dashboard/payout-schedule", data={**schedule, "minimum": "1000"})
    assert saved.status_code in (200, 303), saved.text
    shown = re.search(
        r'id="minimum" name="minimum" inputmode="decimal" value="([^"]*)"',
        client.get("/dashboard").text,
    )
    assert shown and shown.group(1) == "1000.00"
    again = client.post("/dashboard/payout-schedule", data={**schedule, "minimum": shown.group(1)})
    assert again.status_code in (200, 303) and 'role="alert"' not in again.text, again.text
