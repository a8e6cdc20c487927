"""Webhook delivery on both stores, to a real HTTP receiver on loopback; every webhook
received is verified with the ``standardwebhooks`` package (an independent implementation
of the specification)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
import standardwebhooks
from standardwebhooks.webhooks import WebhookVerificationError

from centime.api.webhook_delivery import WebhookDelivery, sign
from centime.clock import FakeClock, SystemClock
from centime.limits import WEBHOOK_FAILING_DISABLE_S, WEBHOOK_RETRY_DELAYS_S
from centime.platform.context import Platform
from centime.platform.events import NewSecret, SecretBox, install_target_policy, webhooks
from centime.platform.ids import format_id
from centime.platform.payments import Payment, PaymentRequest, create_payment

from ..platform.world import customer, fund, merchant
from .receiver import LOOPBACK_POLICY, Receiver, receiver

# The store-specific parts run on both stores; the rest on SQLite only (the suite's time).
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as made:
        yield made


@pytest.fixture
def delivery(platform: Platform) -> Iterator[WebhookDelivery]:
    webhooks.install_secret_box(platform, SecretBox(os.urandom(32)))
    install_target_policy(platform, LOOPBACK_POLICY)
    # Signatures carry the wall clock's time, which receivers check (the platform's clock
    # is a fake one in 2027 here).
    with WebhookDelivery(sign_clock=SystemClock()) as made:
        yield made


def endpoint(platform: Platform, merchant_id: int, url: str, *types: str) -> NewSecret:
    made = platform.execute(
        webhooks.create_endpoint(platform, merchant_id, url, types or ("payment.created",))
    )
    assert isinstance(made, NewSecret), made
    return made


def pay(platform: Platform, customer_id: int, merchant_id: int, amount: int = 1_000) -> Payment:
    paid = platform.execute(
        create_payment(platform, PaymentRequest(customer_id, merchant_id, "USD", amount))
    )
    assert isinstance(paid, Payment), paid
    return paid


def test_a_payment_is_delivered_signed_and_verifies(
    platform: Platform, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    assert made.secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(made.secret[6:])) <= 64
    paid = pay(platform, ada.id, shop.id)
    result = delivery(platform)
    assert (result.fanned_out, result.sent, result.succeeded) == (1, 1, 1)
    [got] = hook.received
    payload = got.verify(made.secret)
    assert payload["type"] == "payment.created"
    data = payload["data"]
    assert isinstance(data, dict)
    assert data["id"] == format_id("pay", paid.id)
    assert data["amount"] == {"value": "1000", "asset": "USD", "scale": 6}
    assert got.headers["webhook-id"].startswith("evt_")
    # Sent once: the next tick has nothing to do.
    assert delivery(platform).sent == 0
    [attempt] = webhooks.list_attempts(platform, made.endpoint.id).items
    assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 200, None)


def test_a_failing_receiver_gets_retries_on_the_schedule_with_the_same_id(
    platform: Platform, clock: FakeClock, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    pay(platform, ada.id, shop.id)
    hook.answer(500, 503)
    assert delivery(platform).succeeded == 0
    assert delivery(platform).sent == 0  # not due before its delay
    clock.advance(WEBHOOK_RETRY_DELAYS_S[1])
    assert delivery(platform).succeeded == 0
    clock.advance(WEBHOOK_RETRY_DELAYS_S[2])
    assert delivery(platform).succeeded == 1
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    for received in hook.received:
        received.verify(made.secret)
    log = webhooks.list_attempts(platform, made.endpoint.id).items
    assert [(a.attempt, a.status_code) for a in reversed(log)] == [(1, 500), (2, 503), (3, 200)]
    [sent] = webhooks.list_deliveries(platform, made.endpoint.id).items
    assert (sent.status, sent.attempts) == ("succeeded", 3)


@SQLITE_ONLY
def test_a_delivery_fails_after_the_last_attempt(
    platform: Platform, clock: FakeClock, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    pay(platform, ada.id, shop.id)
    hook.answer(*[500] * len(WEBHOOK_RETRY_DELAYS_S))
    for delay in WEBHOOK_RETRY_DELAYS_S:
        clock.advance(delay)
        assert delivery(platform).sent == 1
    clock.advance(10 * 3600)
    assert delivery(platform).sent == 0
    [failed] = webhooks.list_deliveries(platform, made.endpoint.id).items
    assert (failed.status, failed.attempts) == ("failed", len(WEBHOOK_RETRY_DELAYS_S))
    # Re-delivery through the service starts it over, with the same webhook-id.
    again = platform.execute(webhooks.redeliver(platform, shop.id, failed.id))
    assert isinstance(again, webhooks.Delivery) and again.status == "pending"
    assert delivery(platform).succeeded == 1
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    hook.received[-1].verify(made.secret)


@SQLITE_ONLY
def test_410_gone_disables_the_endpoint_at_once_and_events_stop(
    platform: Platform, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    pay(platform, ada.id, shop.id)
    hook.answer(410)
    assert delivery(platform).disabled == 1
    found = webhooks.get_endpoint(platform, made.endpoint.id)
    assert found is not None and not found.enabled and found.disabled_reason == "gone"
    with platform.read() as fetch:
        before = fetch("SELECT COUNT(*) FROM outbox_events", ())[0][0]
    pay(platform, ada.id, shop.id)  # nobody listens now: no event is written
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM outbox_events", ())[0][0] == before
    refused = platform.execute(webhooks.send_test_event(platform, shop.id, made.endpoint.id))
    assert isinstance(refused, webhooks.Refusal)


@SQLITE_ONLY
def test_rotation_sends_both_signatures_during_the_overlap_then_only_the_new(
    platform: Platform, clock: FakeClock, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    rotated = platform.execute(webhooks.rotate_secret(platform, shop.id, made.endpoint.id, 3600))
    assert isinstance(rotated, NewSecret) and rotated.secret != made.secret
    pay(platform, ada.id, shop.id)
    delivery(platform)
    during = hook.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    during.verify(made.secret)
    during.verify(rotated.secret)
    clock.advance(3600)
    pay(platform, ada.id, shop.id)
    delivery(platform)
    after = hook.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verify(rotated.secret)
    with pytest.raises(WebhookVerificationError):
        after.verify(made.secret)


@SQLITE_ONLY
def test_a_test_event_goes_to_its_endpoint_only(
    platform: Platform, hook: Receiver, delivery: WebhookDelivery
) -> None:
    shop = merchant(platform)
    one = endpoint(platform, shop.id, hook.url)
    endpoint(platform, shop.id, hook.url + "/other")
    sent = platform.execute(webhooks.send_test_event(platform, shop.id, one.endpoint.id))
    assert isinstance(sent, webhooks.Delivery)
    assert delivery(platform).succeeded == 1
    [got] = hook.received
    assert got.path == "/hook" and got.verify(one.secret)["type"] == "webhook.test"


@SQLITE_ONLY
def test_each_subscribed_endpoint_gets_its_own_delivery_and_others_none(
    platform: Platform, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop, other = customer(platform), merchant(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    first = endpoint(platform, shop.id, hook.url + "/a")
    second = endpoint(platform, shop.id, hook.url + "/b", "payment.created", "hold.created")
    endpoint(platform, shop.id, hook.url + "/c", "payment.refunded")
    endpoint(platform, other.id, hook.url + "/d")
    pay(platform, ada.id, shop.id)
    assert delivery(platform).succeeded == 2
    by_path = {r.path: r for r in hook.received}
    assert set(by_path) == {"/hook/a", "/hook/b"}
    by_path["/hook/a"].verify(first.secret)
    by_path["/hook/b"].verify(second.secret)
    assert by_path["/hook/a"].headers["webhook-id"] == by_path["/hook/b"].headers["webhook-id"]


@SQLITE_ONLY
def test_an_unreachable_endpoint_is_logged_without_a_status(
    platform: Platform, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    with receiver() as closed:
        url = closed.url
    made = endpoint(platform, shop.id, url)
    pay(platform, ada.id, shop.id)
    assert delivery(platform).sent == 1
    [attempt] = webhooks.list_attempts(platform, made.endpoint.id).items
    assert attempt.status_code is None and attempt.error


def test_sign_matches_the_reference_implementation() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"payment.created","timestamp":"2027-01-15T00:00:00Z","data":{}}'
    import datetime

    when = datetime.datetime.fromtimestamp(1_800_000_000, tz=datetime.UTC)
    expected = standardwebhooks.Webhook(secret).sign("evt_1", when, body.decode())
    assert sign(secret, "evt_1", 1_800_000_000, body) == expected


@SQLITE_ONLY
def test_an_endpoint_failing_for_five_days_is_disabled(
    platform: Platform, clock: FakeClock, hook: Receiver, delivery: WebhookDelivery
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    made = endpoint(platform, shop.id, hook.url)
    hook.answer(*[500] * 20)
    pay(platform, ada.id, shop.id)
    assert delivery(platform).disabled == 0
    clock.advance(WEBHOOK_FAILING_DISABLE_S - 1)
    pay(platform, ada.id, shop.id)
    assert delivery(platform).disabled == 0  # not five days of failures yet
    clock.advance(1)
    pay(platform, ada.id, shop.id)
    assert delivery(platform).disabled == 1
    found = webhooks.get_endpoint(platform, made.endpoint.id)
    assert found is not None and (found.enabled, found.disabled_reason) == (False, "failing")
    # Enabled again: the failure record is cleared; the waiting deliveries go out at their
    # next attempt.
    again = platform.execute(
        webhooks.update_endpoint(platform, shop.id, made.endpoint.id, enabled=True)
    )
    assert isinstance(again, webhooks.Endpoint) and again.failing_since_ns is None
    hook.statuses.clear()
    clock.advance(WEBHOOK_RETRY_DELAYS_S[2])
    assert delivery(platform).succeeded >= 1
