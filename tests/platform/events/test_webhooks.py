"""Webhook endpoints and the events the operations emit: URLs refused or allowed, secrets
sealed per endpoint, the subscription check never missing an endpoint, every operation's
event written in its own unit (and only while someone listens, for merchant events)."""

from __future__ import annotations

import json
import os
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime import wire
from centime.clock import FakeClock
from centime.limits import AMOUNT_MAX, ID_MAX
from centime.money import ASSETS
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.events import webhooks
from centime.platform.events.outbox import SUBSCRIBABLE_TYPES
from centime.platform.events.webhooks import NewSecret, SecretBox, check_url, subscribed
from centime.platform.payments import (
    CaptureRequest,
    Hold,
    HoldRequest,
    Mandate,
    P2PTransfer,
    Refund,
    RefundRequest,
    TransferRequest,
    authorize_hold,
    capture_hold,
    create_mandate,
    expire_holds,
    refund_payment,
    release_hold,
    revoke_mandate,
    send,
)
from centime.platform.payments.service import (
    Payment,
    PaymentRequest,
    _created_events,
    create_payment,
    payment_event,
)

from ...api.receiver import LOOPBACK_POLICY
from ..world import customer, fund, merchant

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks",
        "https://example.com:8443/h?x=1",
        "https://8.8.8.8/h",
        "https://[2606:4700::1111]/h",
        "https://xn--bcher-kva.de/h",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert check_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/h",
        "http://localhost/h",
        "http://[::1]:8080/h",
        "https://127.0.0.1/h",
        "http://example.com/h",
    ],
)
def test_loopback_and_http_only_under_the_development_setting(url: str) -> None:
    assert check_url(url) is not None
    assert check_url(url, LOOPBACK_POLICY) is None


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/h",
        "http://example.com/h",
        "http://10.0.0.1/h",
        "https://10.0.0.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://[::ffff:a9fe:a9fe]/h",
        "https://[fd00::1]/h",
        "https://[fe80::1]/h",
        "https://100.64.0.1/h",
        "https://0.0.0.0/h",
        "https://224.0.0.1/h",
        "https://[2002:7f00:1::]/h",
        "https://[64:ff9b::a00:1]/h",
        "https://localhost/h",
        "https://api.localhost/h",
        "https://db.internal/h",
        "https://printer.local/h",
        "https://redis/h",
        "https://127.1/h",
        "https://0x7f.1/h",
        "https://2130706433/h",
        "https://user:secret@example.com/h",
        "https://@example.com/h",
        "https://example.com/#x",
        "https:///nohost",
        "https://example.com/a b",
        "https://example.com:99999/h",
        "https://example.com/" + "a" * 2048,
        "javascript:alert(1)",
        42,
    ],
)
def test_refused_urls(url: object) -> None:
    refused = check_url(url)
    assert refused is not None and refused.code.value == "invalid_webhook_url"


def test_a_sealed_secret_opens_only_for_its_endpoint_and_key() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.seal(7, "whsec_abc")
    assert "abc" not in sealed and box.open(7, sealed) == "whsec_abc"
    with pytest.raises(ValueError):
        box.open(8, sealed)
    with pytest.raises(ValueError):
        SecretBox(os.urandom(32)).open(7, sealed)
    assert "key" in repr(box) and sealed not in repr(box)


def test_the_wire_offers_exactly_the_subscribable_types() -> None:
    assert set(typing.get_args(wire.EventType)) == SUBSCRIBABLE_TYPES


def test_a_merchant_cannot_subscribe_to_customers_events(platform: Platform) -> None:
    """Top-ups and transfers between people are customers' events: a merchant's endpoint
    would never receive them, so subscribing is refused and creates nothing."""
    shop = merchant(platform)
    for customer_type in ("topup.succeeded", "transfer.created"):
        made = platform.execute(
            webhooks.create_endpoint(platform, shop.id, "https://example.com/h", [customer_type])
        )
        assert isinstance(made, Refusal) and made.code is Code.INVALID_REQUEST, made
    assert webhooks.list_endpoints(platform, shop.id, None, 10).items == []


def _endpoint(platform: Platform, merchant_id: int, *types: str) -> NewSecret:
    made = platform.execute(
        webhooks.create_endpoint(platform, merchant_id, "https://example.com/h", types)
    )
    assert isinstance(made, NewSecret), made
    return made


def _events(platform: Platform) -> list[tuple[str, int]]:
    with platform.read() as fetch:
        rows = fetch("SELECT type, owner_id FROM outbox_events ORDER BY created_ns, id", ())
    return [(str(t), int(o)) for t, o in rows]


def test_the_subscription_check_sees_every_change_before_the_unit(platform: Platform) -> None:
    shop = merchant(platform)
    check = Operation(lambda ctx: subscribed(ctx, shop.id, "payment.created"), 0)
    assert not platform.execute(check)
    made = _endpoint(platform, shop.id, "payment.created")
    assert platform.execute(check)  # a new version: the cached "no" is not used
    platform.execute(webhooks.update_endpoint(platform, shop.id, made.endpoint.id, enabled=False))
    assert not platform.execute(check)
    platform.execute(
        webhooks.update_endpoint(
            platform, shop.id, made.endpoint.id, enabled=True, event_types=["hold.created"]
        )
    )
    assert not platform.execute(check)
    assert platform.execute(Operation(lambda ctx: subscribed(ctx, shop.id, "hold.created"), 0))


@SQLITE_ONLY
def test_every_operation_emits_its_event_in_its_unit(platform: Platform, clock: FakeClock) -> None:
    ada, bob, shop, quiet = (
        customer(platform),
        customer(platform),
        merchant(platform),
        merchant(platform),
    )
    fund(platform, ada.id, "USD", 100_000_000)
    _endpoint(platform, shop.id, *sorted(SUBSCRIBABLE_TYPES))
    mandate = platform.execute(create_mandate(platform, ada.id, shop.id, "USD", 10_000_000))
    assert isinstance(mandate, Mandate)
    paid = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", 1_000_000))
    )
    assert isinstance(paid, Payment)
    assert isinstance(
        platform.execute(refund_payment(platform, RefundRequest(paid.id, 1_000))), Refund
    )
    held = [
        platform.execute(
            authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 1_000, timeout_s=60))
        )
        for _ in range(3)
    ]
    assert all(isinstance(h, Hold) for h in held)
    ids = [h.id for h in held if isinstance(h, Hold)]
    platform.execute(capture_hold(platform, CaptureRequest(ids[0], 500)))
    platform.execute(release_hold(platform, ids[1]))
    clock.advance(61)
    platform.ledger.run(lambda ctx: None, 0)  # the ledger expires the last reserve
    assert expire_holds(platform) == 1
    assert expire_holds(platform) == 0  # told once
    assert isinstance(platform.execute(revoke_mandate(platform, mandate.id)), Mandate)
    assert isinstance(
        platform.execute(send(platform, TransferRequest(ada.id, bob.id, "USD", 1_000))), P2PTransfer
    )
    # A merchant nobody listens for: its payment writes no event.
    assert isinstance(
        platform.execute(create_payment(platform, PaymentRequest(ada.id, quiet.id, "USD", 10))),
        Payment,
    )
    # (Events of one unit share its created_ns; their order among themselves is the ids'.)
    assert sorted(_events(platform)) == sorted(
        [
            ("mandate.created", shop.id),
            ("payment.created", shop.id),
            ("payment.refunded", shop.id),
            *[("hold.created", shop.id)] * 3,
            ("payment.created", shop.id),
            ("hold.captured", shop.id),
            ("hold.released", shop.id),
            ("hold.expired", shop.id),
            ("mandate.revoked", shop.id),
            ("transfer.created", ada.id),
            ("transfer.created", bob.id),
        ]
    )


def test_a_unit_that_raises_leaves_no_event_and_events_follow_commit_order(
    platform: Platform,
) -> None:
    from centime.platform.events.outbox import emit

    def failing(ctx: typing.Any) -> None:
        emit(ctx, "payment.created", 1, {"id": "pay_x"})
        raise RuntimeError("after the event")

    with pytest.raises(RuntimeError):
        platform.execute(Operation(failing, 0))
    assert _events(platform) == []
    # The fake clock stands still: every unit sees the same now_ns, yet each later commit's
    # events sort after the earlier ones' (the outbox cursor relies on it).
    for owner in range(1, 6):
        platform.execute(Operation(lambda ctx, o=owner: emit(ctx, "payment.created", o, {}), 0))
    assert [o for _, o in _events(platform)] == [1, 2, 3, 4, 5]
    with pytest.raises(TypeError):
        platform.execute(Operation(lambda ctx: emit(ctx, "payment.created", 1, {"x": 0.5}), 0))


@settings(max_examples=60)
@given(
    amount=st.integers(1, AMOUNT_MAX),
    fee=st.integers(0, AMOUNT_MAX),
    ids=st.lists(st.integers(1, ID_MAX), min_size=4, max_size=4),
    reference=st.none() | st.text(max_size=20),
    hold=st.booleans(),
    mandate=st.booleans(),
    asset=st.sampled_from(sorted(ASSETS)),
)
def test_the_batch_paths_encoded_events_are_the_payments_events(
    amount: int,
    fee: int,
    ids: list[int],
    reference: str | None,
    hold: bool,
    mandate: bool,
    asset: str,
) -> None:
    pay_id, customer_id, merchant_id, other = ids
    paid = Payment(
        pay_id,
        customer_id,
        merchant_id,
        asset,
        amount,
        fee,
        0,
        0,
        0,
        0,
        None,
        reference,
        other if hold else None,
        other if mandate else None,
        1,
        None,
        None,
        None,
    )
    [text] = _created_events([paid])
    assert json.loads(text) == payment_event(paid)
