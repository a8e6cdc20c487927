"""Web Monetization streams: payments under a budget grant accrue under one reserve and are
settled in batches; the money adds up exactly; a frozen payer stops the stream."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import TestClient

from centime.clock import FakeClock
from centime.openpayments.streams import HOLD_S, IDLE_S, settle_idle_streams
from centime.platform.chart import AccountKind, account_id
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.ids import format_id
from centime.platform.parties import Status, set_customer
from centime.platform.payments import PaymentRequest, create_payment
from tests.openpayments.signing import request
from tests.openpayments.test_attacks import _incoming, _outgoing_grant
from tests.openpayments.test_flow import BASE, _customer, _shop, _usd, http
from tests.platform.world import merchant

__all__ = ["http"]


def _count(platform: Platform, sql: str) -> int:
    with platform.read() as fetch:
        [(value,)] = fetch(sql, ())
    return int(value)


def test_a_stream_accrues_under_one_reserve_and_settles_once(
    http: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, _ = _incoming(http, key, client, client, 50_000_000)
    limits = {"debitAmount": _usd(100_000), "interval": "R/2023-11-01T00:00:00Z/PT1H"}
    token = _outgoing_grant(http, key, client, payer, device, limits)
    before = _count(platform, "SELECT COUNT(*) FROM transfers")
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(1_000)}
    for _ in range(30):
        paid = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, token)
        assert paid.status_code == 201, paid.text
    assert paid.json()["grantSpentDebitAmount"] == _usd(30_000)
    assert _count(platform, "SELECT COUNT(*) FROM transfers") - before == 1  # the reserve
    public = http.get(incoming["id"]).json()
    assert public["receivedAmount"] == _usd(30_000)
    clock.advance(IDLE_S)
    assert settle_idle_streams(platform) == 1
    assert settle_idle_streams(platform) == 0
    wallet = account_id(AccountKind.CUSTOMER_WALLET, customer_id, "USD")
    earnings = account_id(AccountKind.MERCHANT_AVAILABLE, shop_id, "USD")
    with platform.read() as fetch:
        [(pending, posted)] = fetch(
            "SELECT debits_pending, debits_posted FROM accounts WHERE id = ?", (wallet,)
        )
        [(credits,)] = fetch("SELECT credits_posted FROM accounts WHERE id = ?", (earnings,))
        [(amount, fee)] = fetch("SELECT amount, fee FROM payments", ())
    assert (pending, posted, credits, amount) == (0, 30_000, 30_000, 30_000)
    assert fee == 30_000 * 250 // 10_000  # one payment, one fee, for the whole batch
    assert _count(platform, "SELECT COUNT(*) FROM transfers") - before <= 4


def test_the_budget_and_a_frozen_payer_stop_a_stream(
    http: TestClient[Litestar], platform: Platform
) -> None:
    client, key, _ = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, _ = _incoming(http, key, client, client, 50_000_000)
    token = _outgoing_grant(http, key, client, payer, device, {"debitAmount": _usd(5_000)})
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(2_000)}
    for expected in (201, 201, 403):
        assert (
            request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, token).status_code
            == expected
        )
    other = _outgoing_grant(http, key, client, payer, device, {"debitAmount": _usd(5_000)})
    platform.execute(set_customer(platform, customer_id, status=Status.FROZEN))
    frozen = request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, other)
    assert frozen.status_code == 403
    assert http.get(incoming["id"]).json()["receivedAmount"] == _usd(4_000)


def test_the_demo_site_names_its_creators_wallet_address(
    http: TestClient[Litestar], platform: Platform
) -> None:
    _shop(platform)
    http.app.state["web"].demo = True  # the demo site is served by `centime demo` only
    page = http.get("/demo/site").text
    found = re.search(r'<link rel="monetization" href="([^"]+)">', page)
    assert found, page[:400]
    wallet = http.get(found.group(1), headers={"Accept": "application/json"})
    assert wallet.status_code == 200 and wallet.json()["assetCode"] == "USD"


def _streamed(http: TestClient[Litestar], platform: Platform) -> tuple[int, int, str, str]:
    """A stream of 3 payments of 1,000; (customer id, merchant id, incoming URL, token)."""
    client, key, shop_id = _shop(platform)
    device, customer_id = _customer(http, platform)
    payer = f"{BASE}/op/wallets/{format_id('cus', customer_id)}/USD"
    incoming, _ = _incoming(http, key, client, client, 50_000_000)
    token = _outgoing_grant(http, key, client, payer, device, {"debitAmount": _usd(5_000_000)})
    body = {"walletAddress": payer, "incomingPayment": incoming["id"], "debitAmount": _usd(1_000)}
    for _ in range(3):
        assert (
            request(http, key, "POST", f"{BASE}/op/outgoing-payments", body, token).status_code
            == 201
        )
    return customer_id, shop_id, incoming["id"], token


def test_a_lapsed_reserve_is_paid_directly_or_the_payments_fail(
    http: TestClient[Litestar], platform: Platform, clock: FakeClock
) -> None:
    customer_id, shop_id, incoming, _ = _streamed(http, platform)
    clock.advance(HOLD_S + 1)  # the server was down: the hold lapsed unsettled
    platform.execute(Operation(lambda ctx: None, 0))  # a group: the ledger expires it
    assert settle_idle_streams(platform) == 1
    earnings = account_id(AccountKind.MERCHANT_AVAILABLE, shop_id, "USD")
    with platform.read() as fetch:
        [(credits,)] = fetch("SELECT credits_posted FROM accounts WHERE id = ?", (earnings,))
    assert credits == 3_000  # paid directly from the money the lapse gave back
    http.cookies.clear()
    poor_id, _, poor_incoming, _ = _streamed(http, platform)
    clock.advance(HOLD_S + 1)
    platform.execute(Operation(lambda ctx: None, 0))
    wallet = account_id(AccountKind.CUSTOMER_WALLET, poor_id, "USD")
    with platform.read() as fetch:
        [(available,)] = fetch(
            "SELECT credits_posted - debits_posted FROM accounts WHERE id = ?", (wallet,)
        )
    spend(platform, poor_id, int(available))  # the money is gone meanwhile
    assert settle_idle_streams(platform) == 1
    assert http.get(poor_incoming).json()["receivedAmount"] == _usd(0)
    with platform.read() as fetch:
        rows = fetch(
            "SELECT failed, sent FROM op_outgoing_payments WHERE ledger_kind = 'stream'"
            " AND party_id = ?",
            (poor_id,),
        )
    assert [(bool(failed), sent) for failed, sent in rows] == [(True, 0)] * 3
    assert incoming and customer_id


def spend(platform: Platform, customer_id: int, amount: int) -> None:
    """The customer pays all of ``amount`` to another merchant (in the API's way)."""
    shop = merchant(platform)
    paid = platform.execute(
        create_payment(platform, PaymentRequest(customer_id, shop.id, "USD", amount))
    )
    assert not isinstance(paid, Refusal), paid
