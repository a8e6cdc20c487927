"""Transfers between customers: wallet to wallet, never restricted money, tier limits."""

from __future__ import annotations

from typing import Any

from centime.clock import FakeClock
from centime.money import ASSETS
from centime.platform.chart import AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import Status, set_customer
from centime.platform.payments import TransferRequest
from centime.platform.payments.p2p import P2PTransfer, get_p2p_transfer, list_p2p_transfers, send

from ..world import account, balance, customer, fund, snapshot

WALLET = AccountKind.CUSTOMER_WALLET
RESTRICTED = AccountKind.CUSTOMER_RESTRICTED
USD = ASSETS["USD"]


def sent(platform: Platform, *args: Any, **kw: Any) -> P2PTransfer:
    result = platform.execute(send(platform, TransferRequest(*args, **kw)))
    assert isinstance(result, P2PTransfer), result
    return result


def refused(platform: Platform, code: Code, *args: Any, **kw: Any) -> None:
    before = snapshot(platform)
    result = platform.execute(send(platform, TransferRequest(*args, **kw)))
    assert isinstance(result, Refusal) and result.code is code, result
    assert snapshot(platform) == before


def test_money_moves_from_wallet_to_wallet(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    assert account(platform, WALLET, bob.id, "USD") is None
    transfer = sent(platform, ada.id, bob.id, "USD", 400, note="lunch")
    assert (transfer.amount, transfer.note) == (400, "lunch")
    assert balance(platform, WALLET, ada.id, "USD") == 600
    assert balance(platform, WALLET, bob.id, "USD") == 400  # created on first use
    assert get_p2p_transfer(platform, transfer.id) == transfer
    assert get_p2p_transfer(platform, transfer.id, customer_id=bob.id) == transfer
    assert get_p2p_transfer(platform, transfer.id, customer_id=customer(platform).id) is None


def test_restricted_money_is_never_sent(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 500, restricted=True)
    fund(platform, ada.id, "USD", 100)
    refused(platform, Code.RESTRICTED_FUNDS, ada.id, bob.id, "USD", 101)
    refused(platform, Code.INSUFFICIENT_FUNDS, ada.id, bob.id, "USD", 601)
    sent(platform, ada.id, bob.id, "USD", 100)
    assert balance(platform, RESTRICTED, ada.id, "USD") == 500


def test_the_senders_tier_bounds_the_day(platform: Platform, clock: FakeClock) -> None:
    ada, bob = customer(platform, tier=1), customer(platform)
    daily = USD.parse("250")
    fund(platform, ada.id, "USD", 3 * daily)
    fund(platform, ada.id, "EUR", daily)
    sent(platform, ada.id, bob.id, "USD", daily - 1)
    refused(platform, Code.TIER_LIMIT_EXCEEDED, ada.id, bob.id, "USD", 2)
    sent(platform, ada.id, bob.id, "USD", 1)
    sent(platform, ada.id, bob.id, "EUR", daily)  # each asset has its own bound
    clock.advance(86_400)
    sent(platform, ada.id, bob.id, "USD", daily)  # a new UTC day


def test_tier_zero_sends_nothing(platform: Platform) -> None:
    ada, bob = customer(platform, tier=0), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, Code.TIER_FORBIDS, ada.id, bob.id, "USD", 1)


def test_parties_must_be_able_to_send_and_receive(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, Code.SAME_CUSTOMER, ada.id, ada.id, "USD", 1)
    refused(platform, Code.CUSTOMER_NOT_FOUND, ada.id, 31337, "USD", 1)
    refused(platform, Code.CUSTOMER_NOT_FOUND, 31337, bob.id, "USD", 1)
    platform.execute(set_customer(platform, bob.id, Status.FROZEN))
    refused(platform, Code.RECIPIENT_UNAVAILABLE, ada.id, bob.id, "USD", 1)
    closed = customer(platform)
    platform.execute(set_customer(platform, closed.id, Status.CLOSED))
    refused(platform, Code.RECIPIENT_UNAVAILABLE, ada.id, closed.id, "USD", 1)
    platform.execute(set_customer(platform, ada.id, Status.FROZEN))
    refused(platform, Code.CUSTOMER_FROZEN, ada.id, customer(platform).id, "USD", 1)


def test_bad_input_is_refused(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    refused(platform, Code.UNKNOWN_ASSET, ada.id, bob.id, "XYZ", 1)
    refused(platform, Code.INVALID_AMOUNT, ada.id, bob.id, "USD", 0)
    refused(platform, Code.INVALID_AMOUNT, ada.id, bob.id, "USD", 2.0)
    refused(platform, Code.INVALID_REQUEST, ada.id, bob.id, "USD", 1, note="n" * 501)


def test_a_transfer_id_makes_the_request_idempotent(platform: Platform) -> None:
    ada, bob = customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    first = sent(platform, ada.id, bob.id, "USD", 10, transfer_id=3)
    assert sent(platform, ada.id, bob.id, "USD", 10, transfer_id=3) == first
    assert balance(platform, WALLET, bob.id, "USD") == 10
    refused(platform, Code.INVALID_REQUEST, ada.id, bob.id, "USD", 11, transfer_id=3)


def test_transfers_are_listed_for_sender_and_recipient(platform: Platform) -> None:
    ada, bob, cid = customer(platform), customer(platform), customer(platform)
    fund(platform, ada.id, "USD", 1_000)
    fund(platform, bob.id, "USD", 1_000)
    made = [sent(platform, ada.id, bob.id, "USD", 1 + i) for i in range(3)]
    made.append(sent(platform, bob.id, ada.id, "USD", 7))
    sent(platform, bob.id, cid.id, "USD", 9)
    pages, cursor = [], None
    while True:
        page = list_p2p_transfers(platform, customer_id=ada.id, cursor=cursor, limit=3)
        pages.append(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    listed = [t for items in pages for t in items]
    assert listed == sorted(made, key=lambda t: (t.created_ns, t.id), reverse=True)
    assert [len(items) for items in pages] == [3, 1]


def test_the_recipients_tier_caps_what_it_may_hold(platform: Platform) -> None:
    """Receiving must not get around the balance cap a top-up would meet (tier 0: 250),
    restricted money counted too."""
    ada, zoe = customer(platform, tier=2), customer(platform, tier=0)
    fund(platform, ada.id, "USD", USD.parse("1000"))
    fund(platform, zoe.id, "USD", USD.parse("150"))
    fund(platform, zoe.id, "USD", USD.parse("50"), restricted=True)
    refused(platform, Code.TIER_LIMIT_EXCEEDED, ada.id, zoe.id, "USD", USD.parse("50") + 1)
    sent(platform, ada.id, zoe.id, "USD", USD.parse("50"))
    assert balance(platform, WALLET, zoe.id, "USD") == USD.parse("200")
