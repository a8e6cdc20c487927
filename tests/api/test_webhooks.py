"""Webhook endpoints through the HTTP API and the typed client: a merchant registers one,
receives a test event and a payment's event at a real receiver (verified with the
standardwebhooks package), reads the delivery log, re-delivers, rotates, disables; bad
input and other merchants' endpoints are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from centime import wire
from centime.api.webhook_delivery import WebhookDelivery
from centime.auth import Scope
from centime.client import ProblemError
from centime.clock import SystemClock
from centime.platform.events import install_target_policy, webhooks
from centime.platform.ids import parse_id

from ..platform.world import fund
from .conftest import Api
from .receiver import LOOPBACK_POLICY, Receiver, receiver

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def hook(api: Api) -> Iterator[Receiver]:
    install_target_policy(api.platform, LOOPBACK_POLICY)
    with receiver() as made:
        yield made


@SQLITE_ONLY
def test_a_merchant_manages_an_endpoint_and_receives_verified_webhooks(
    api: Api, hook: Receiver
) -> None:
    shop = api.merchant()
    merchant = api.client(api.merchant_key(shop, Scope.ADMIN))
    made = merchant.create_webhook_endpoint(
        hook.url, ["payment.created", "webhook.test"][:1], description="orders"
    )
    assert made.secret is not None and made.secret.startswith("whsec_") and made.enabled
    assert merchant.get_webhook_endpoint(made.id).url == hook.url
    assert [e.id for e in merchant.list_webhook_endpoints().data] == [made.id]
    # A test event, then a payment's event, through the worker's job.
    sent = merchant.send_webhook_test(made.id)
    ops = api.operator
    ada = ops.create_customer("Ada")
    ada_id = parse_id("cus", ada.id)
    assert ada_id is not None
    fund(api.platform, ada_id, "USD", 10_000)
    ops.create_payment(ada.id, wire.money(1_000, "USD"), merchant_id=shop.id)
    with WebhookDelivery(sign_clock=SystemClock()) as delivery:
        assert delivery(api.platform).succeeded == 2
        payloads = [r.verify(made.secret) for r in hook.received]
        assert sorted(p["type"] for p in payloads) == ["payment.created", "webhook.test"]
        deliveries = merchant.list_webhook_deliveries(made.id).data
        assert {d.status for d in deliveries} == {"succeeded"} and len(deliveries) == 2
        assert sent.id in {d.id for d in deliveries}
        log = merchant.list_webhook_attempts(made.id).data
        assert [a.status_code for a in log] == [200, 200]
        # Re-delivery: the same webhook-id again.
        again = merchant.redeliver_webhook(sent.id)
        assert again.status == "pending"
        assert delivery(api.platform).succeeded == 1
        ids = [r.headers["webhook-id"] for r in hook.received]
        assert ids[-1] == again.event_id and ids.count(again.event_id) == 2
        hook.received[-1].verify(made.secret)
    rotated = merchant.rotate_webhook_secret(made.id, overlap_s=60)
    assert rotated.secret and rotated.secret != made.secret
    assert rotated.secret_rotating_until is not None
    off = merchant.update_webhook_endpoint(made.id, enabled=False)
    assert (off.enabled, off.disabled_reason) == (False, "merchant")
    with pytest.raises(ProblemError) as disabled:
        merchant.send_webhook_test(made.id)
    assert (disabled.value.status, disabled.value.code) == (409, "webhook_endpoint_disabled")
    on = merchant.update_webhook_endpoint(made.id, enabled=True, event_types=["hold.created"])
    assert on.enabled and on.event_types == ["hold.created"]
    assert merchant.delete_webhook_endpoint(made.id).id == made.id
    with pytest.raises(ProblemError) as gone:
        merchant.get_webhook_endpoint(made.id)
    assert gone.value.code == "webhook_endpoint_not_found"


@SQLITE_ONLY
def test_bad_endpoints_are_refused_and_change_nothing(api: Api) -> None:
    shop = api.merchant()
    merchant = api.client(api.merchant_key(shop, Scope.ADMIN))
    for url, code in [
        ("http://example.com/hook", "invalid_webhook_url"),  # http: a development setting
        ("https://127.0.0.1/hook", "invalid_webhook_url"),  # not a public address
        ("https://169.254.169.254/latest", "invalid_webhook_url"),
        ("https://metadata.google.internal/x", "invalid_webhook_url"),
        ("https://user:pw@example.com/hook", "invalid_webhook_url"),
        ("ftp://example.com/hook", "invalid_request"),  # the wire's pattern
        ("https://example.com/" + "a" * 2048, "invalid_request"),
        ("https://example.com/#frag", "invalid_webhook_url"),
    ]:
        with pytest.raises(ProblemError) as refused:
            merchant.create_webhook_endpoint(url, ["payment.created"])
        assert refused.value.code == code, url
    with pytest.raises(ProblemError) as unknown:
        merchant.create_webhook_endpoint("https://example.com/h", ["payment.nothing"])
    assert unknown.value.status == 400
    with pytest.raises(ProblemError) as test_type:  # the test event is not subscribable
        merchant.create_webhook_endpoint("https://example.com/h", ["webhook.test"])
    assert test_type.value.status == 400
    assert merchant.list_webhook_endpoints().data == []


@SQLITE_ONLY
def test_another_merchants_endpoint_is_404_and_the_limit_holds(api: Api) -> None:
    shop, other = api.merchant("Shop"), api.merchant("Other")
    mine = api.client(api.merchant_key(shop, Scope.ADMIN))
    theirs = api.client(api.merchant_key(other, Scope.ADMIN))
    made = mine.create_webhook_endpoint("https://example.com/h", ["payment.created"])
    for call in (
        lambda: theirs.get_webhook_endpoint(made.id),
        lambda: theirs.rotate_webhook_secret(made.id),
        lambda: theirs.delete_webhook_endpoint(made.id),
        lambda: theirs.list_webhook_deliveries(made.id),
    ):
        with pytest.raises(ProblemError) as hidden:
            call()
        assert hidden.value.status == 404
    reader = api.client(api.merchant_key(shop, Scope.READ))
    with pytest.raises(ProblemError) as forbidden:
        reader.list_webhook_endpoints()
    assert forbidden.value.status == 403
    for _ in range(webhooks.WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX - 1):
        mine.create_webhook_endpoint("https://example.com/h", ["payment.created"])
    with pytest.raises(ProblemError) as full:
        mine.create_webhook_endpoint("https://example.com/h", ["payment.created"])
    assert full.value.code == "webhook_endpoint_limit_reached"
    # The operator reaches every merchant's endpoints and names the merchant to create one.
    assert api.operator.get_webhook_endpoint(made.id).id == made.id
    made_for = api.operator.create_webhook_endpoint(
        "https://example.com/o", ["hold.created"], merchant_id=other.id
    )
    assert made_for.merchant_id == other.id


@SQLITE_ONLY
def test_an_idempotent_retry_does_not_show_the_secret_again(api: Api) -> None:
    shop = api.merchant()
    merchant = api.client(api.merchant_key(shop, Scope.ADMIN))
    first = merchant.create_webhook_endpoint(
        "https://example.com/h", ["payment.created"], idempotency_key="once"
    )
    again = merchant.create_webhook_endpoint(
        "https://example.com/h", ["payment.created"], idempotency_key="once"
    )
    assert first.secret and again.secret is None and again.id == first.id
    with api.platform.read() as fetch:  # stored encrypted, never in clear
        [(stored,)] = fetch("SELECT secret FROM webhook_endpoints", ())
    assert first.secret not in stored and first.secret[6:] not in stored
