"""Top-ups over HTTP through the sandbox provider, with the events processed directly on
the fake clock: pending -> succeeded, declines, carrier money (restricted until settled:
it pays merchants but is not sent to people), an unreachable provider and retries that
never charge twice, the same key for another request, and the operator-only routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from centime import wire
from centime.app import install_funding_providers
from centime.auth import Scope
from centime.clock import FakeClock
from centime.platform.funding import process_provider_events
from centime.providers import Outage, SandboxProvider
from centime.providers.sandbox import (
    CARD_DECLINED,
    CARD_SUCCEEDS,
    PHONE_SUCCEEDS,
)
from centime.worker import Worker
from tests.platform.world import snapshot

from .conftest import Api
from .money import cents, customer_balance, funded_customer, problem, shop


@pytest.fixture
def sandbox(api: Api, clock: FakeClock) -> SandboxProvider:
    provider = SandboxProvider(clock)
    api.platform.providers.funding["sandbox"] = provider
    return provider


def settle_events(api: Api, sandbox: SandboxProvider, clock: FakeClock, seconds: int) -> None:
    clock.advance(seconds)
    process_provider_events(api.platform, sandbox)


def post(api: Api, body: dict[str, Any], key: str, token: str | None = None) -> Any:
    return api.http.post(
        "/v1/topups", json=body, headers=api.headers(token, **{"Idempotency-Key": key})
    )


def test_a_card_top_up_goes_pending_then_succeeded(
    api: Api, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = funded_customer(api, 0)
    topup = api.operator.create_topup(ada.id, cents(2_000), "card", CARD_SUCCEEDS)
    assert topup.id.startswith("top_") and topup.status == "pending"
    assert (topup.provider, topup.method, topup.restricted) == ("sandbox", "card", False)
    assert not topup.awaiting_retry and topup.failure_code is None
    assert customer_balance(api, ada) == 0  # nothing until the provider says so
    settle_events(api, sandbox, clock, sandbox.config.card_confirm_s)
    done = api.operator.get_topup(topup.id)
    assert done.status == "succeeded" and done.charged_back == cents(0)
    assert customer_balance(api, ada) == 2_000 * 10_000
    assert [t.id for t in api.operator.list_topups(customer_id=ada.id).data] == [topup.id]
    settle_events(api, sandbox, clock, 1)  # nothing more comes; nothing changes
    assert customer_balance(api, ada) == 2_000 * 10_000


def test_a_decline_is_a_declined_top_up(api: Api, sandbox: SandboxProvider) -> None:
    ada = funded_customer(api, 0)
    body = {
        "customer_id": ada.id,
        "amount": msgspec_money(cents(500)),
        "method": "card",
        "instrument": CARD_DECLINED,
    }
    first = post(api, body, "t-1")
    assert first.status_code == 201
    declined = first.json()
    assert (declined["status"], declined["failure_code"]) == ("declined", "card_declined")
    again = post(api, body, "t-1")
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == declined
    assert customer_balance(api, ada) == 0


def msgspec_money(money: wire.Money) -> dict[str, Any]:
    return {"value": money.value, "asset": money.asset, "scale": money.scale}


def test_carrier_money_pays_merchants_but_is_sent_only_once_settled(
    api: Api, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada, bob = funded_customer(api, 0), funded_customer(api, 0)
    seller = shop(api)
    topup = api.operator.create_topup(ada.id, cents(1_000), "carrier", PHONE_SUCCEEDS)
    assert topup.restricted
    settle_events(api, sandbox, clock, sandbox.config.carrier_confirm_s)
    succeeded = api.operator.get_topup(topup.id)
    assert succeeded.status == "succeeded" and succeeded.settles_at is not None
    assert customer_balance(api, ada, restricted=True) == 1_000 * 10_000
    assert customer_balance(api, ada) == 0
    assert problem(api.operator.create_transfer, ada.id, bob.id, cents(100)) == (
        402,
        "restricted_funds",
    )
    mandate = api.operator.create_mandate(ada.id, seller.id, cents(1_000))
    paid = seller.client.create_payment(ada.id, cents(300), mandate_id=mandate.id)
    assert paid.restricted == cents(300)
    settle_events(api, sandbox, clock, sandbox.config.carrier_settlement_days * 86_400)
    settled = api.operator.get_topup(topup.id)
    assert settled.settled_at is not None and settled.released == cents(700)
    assert customer_balance(api, ada) == 700 * 10_000
    assert api.operator.create_transfer(ada.id, bob.id, cents(100)).amount == cents(100)


def test_an_unreachable_provider_leaves_it_pending_and_a_retry_charges_once(
    api: Api, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = funded_customer(api, 0)
    sandbox.fail_next(2)
    body = {
        "customer_id": ada.id,
        "amount": msgspec_money(cents(100)),
        "method": "card",
        "instrument": CARD_SUCCEEDS,
    }
    first = post(api, body, "down").json()
    assert first["status"] == "pending" and first["awaiting_retry"] is True
    again = post(api, body, "down").json()  # the same request: charged again, still down
    assert again["id"] == first["id"] and again["awaiting_retry"] is True
    retried = api.operator.retry_topup(first["id"])  # the provider is back
    assert retried.status == "pending" and not retried.awaiting_retry
    assert post(api, body, "down").json()["awaiting_retry"] is False  # answered as it is
    settle_events(api, sandbox, clock, sandbox.config.card_confirm_s)
    assert api.operator.get_topup(first["id"]).status == "succeeded"
    assert customer_balance(api, ada) == 100 * 10_000  # once
    assert problem(api.operator.retry_topup, first["id"]) == (409, "topup_not_pending")
    assert len(api.operator.list_topups(customer_id=ada.id).data) == 1


def test_an_answer_lost_after_acceptance_is_credited_once_by_its_event(
    api: Api, sandbox: SandboxProvider, clock: FakeClock
) -> None:
    ada = funded_customer(api, 0)
    sandbox.fail_next(1, Outage.TIMEOUT_AFTER_ACCEPT)
    topup = api.operator.create_topup(
        ada.id, cents(100), "card", CARD_SUCCEEDS, idempotency_key="lost"
    )
    assert topup.awaiting_retry
    again = api.operator.create_topup(
        ada.id, cents(100), "card", CARD_SUCCEEDS, idempotency_key="lost"
    )
    assert again.id == topup.id and not again.awaiting_retry  # the same charge, accepted
    settle_events(api, sandbox, clock, sandbox.config.card_confirm_s)
    assert customer_balance(api, ada) == 100 * 10_000


def test_refusals_record_nothing(api: Api, sandbox: SandboxProvider) -> None:
    ada = funded_customer(api, 0)
    newcomer = funded_customer(api, 0, kyc_tier=0)  # at most $100 a day
    frozen = funded_customer(api, 0)
    api.operator.update_customer(frozen.id, status="frozen")
    first = post(
        api,
        {
            "customer_id": ada.id,
            "amount": msgspec_money(cents(100)),
            "method": "card",
            "instrument": CARD_SUCCEEDS,
        },
        "k",
    )
    assert first.status_code == 201
    before = snapshot(api.platform), topup_rows(api)
    create = api.operator.create_topup
    assert problem(create, newcomer.id, cents(10_001), "card", CARD_SUCCEEDS) == (
        422,
        "tier_limit_exceeded",
    )
    assert problem(create, frozen.id, cents(1), "card", CARD_SUCCEEDS) == (409, "customer_frozen")
    assert problem(create, "cus_0000000000001", cents(1), "card", CARD_SUCCEEDS) == (
        404,
        "customer_not_found",
    )
    assert problem(create, ada.id, cents(1), "carrier", "not a phone") == (400, "invalid_request")
    assert problem(create, ada.id, cents(1), "cash", "x") == (400, "invalid_request")
    assert problem(create, ada.id, cents(0), "card", CARD_SUCCEEDS) == (400, "invalid_amount")
    assert problem(create, ada.id, wire.Money("1", "XYZ", 6), "card", CARD_SUCCEEDS) == (
        400,
        "unknown_asset",
    )
    reused = post(
        api,
        {
            "customer_id": ada.id,
            "amount": msgspec_money(cents(200)),
            "method": "card",
            "instrument": CARD_SUCCEEDS,
        },
        "k",
    )
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    good = {
        "customer_id": ada.id,
        "amount": msgspec_money(cents(1)),
        "method": "card",
        "instrument": CARD_SUCCEEDS,
    }
    missing = api.http.post("/v1/topups", json=good, headers=api.headers())
    assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_required")
    assert problem(api.operator.retry_topup, "top_0000000000001") == (404, "topup_not_found")
    assert problem(api.operator.get_topup, "top_nope") == (404, "topup_not_found")
    assert (snapshot(api.platform), topup_rows(api)) == before


def topup_rows(api: Api) -> list[tuple[Any, ...]]:
    with api.platform.read() as fetch:
        return sorted(fetch("SELECT * FROM topups", ()))


def test_only_the_operators_keys_top_up(api: Api, sandbox: SandboxProvider) -> None:
    ada = funded_customer(api, 0)
    seller = shop(api)
    admin = api.client(api.merchant_key(seller.merchant, Scope.ADMIN))
    assert problem(admin.create_topup, ada.id, cents(1), "card", CARD_SUCCEEDS) == (
        403,
        "forbidden",
    )
    assert problem(admin.list_topups) == (403, "forbidden")
    reader = api.client(api.key(Scope.READ))
    assert problem(reader.create_topup, ada.id, cents(1), "card", CARD_SUCCEEDS) == (
        403,
        "forbidden",
    )
    assert reader.list_topups().data == []


@pytest.fixture
def bare_api(api: Api) -> Iterator[Api]:
    """The app with no funding provider set up."""
    api.platform.providers.funding.clear()
    api.platform.providers.payout_rails.clear()
    yield api


def test_no_provider_is_503(bare_api: Api) -> None:
    ada = funded_customer(bare_api, 0)
    assert problem(bare_api.operator.create_topup, ada.id, cents(1), "card", CARD_SUCCEEDS) == (
        503,
        "provider_unavailable",
    )
    assert topup_rows(bare_api) == []


def test_serve_installs_the_sandbox_and_the_tasks_that_serve_it(api: Api, clock: FakeClock) -> None:
    api.platform.providers.funding.clear()
    api.platform.providers.payout_rails.clear()
    tasks = install_funding_providers(api.platform)
    sandbox = api.platform.providers.funding["sandbox"]
    assert isinstance(sandbox, SandboxProvider)
    assert sandbox.config.carrier_settlement_days == api.platform.config.carrier_settlement_days
    assert (
        install_funding_providers(api.platform)
        and api.platform.providers.funding["sandbox"] is sandbox
    )
    ada = funded_customer(api, 100)
    seller = shop(api)
    topup = api.operator.create_topup(ada.id, cents(10), "card", CARD_SUCCEEDS)
    hold = api.operator.create_hold(ada.id, cents(5), merchant_id=seller.id, timeout_s=60)
    clock.advance(61)
    api.platform.ledger.run(lambda ctx: None, 0)  # a group: the ledger expires the reserve
    Worker(api.platform, tasks).tick()
    assert api.operator.get_topup(topup.id).status == "succeeded"
    assert customer_balance(api, ada) == 110 * 10_000
    with api.platform.read() as fetch:
        rows = fetch("SELECT status FROM holds", ())
    assert [row[0] for row in rows] == ["expired"]
    assert api.operator.get_hold(hold.id).status == "expired"
