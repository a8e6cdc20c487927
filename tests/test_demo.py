"""The demo (`make demo`): its world is built through the services on either store, checks
clean, and what it prints gives a person the keys and ids to call the API with."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from centime.auth import KeyVerifier, Scope
from centime.demo import DEMO_CUSTOMERS, DEMO_MERCHANTS, build_demo_world, print_demo
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.ids import format_id
from centime.platform.parties import customer_balances
from centime.platform.payments import get_payment


def test_the_demo_world_is_real_and_printed(platform: Platform) -> None:
    demo = build_demo_world(platform)
    assert [m.merchant.name for m in demo.world.merchants] == list(DEMO_MERCHANTS)
    assert [c.customer.name for c in demo.world.customers] == list(DEMO_CUSTOMERS)
    zoe = demo.world.customers[-1].customer
    (balance,) = customer_balances(platform, zoe.id)
    assert balance.restricted > 0  # the carrier-billed top-up, restricted until settled
    assert demo.hold.captured > 0
    refunded = [get_payment(platform, p.id) for p in demo.payments]
    assert any(p is not None and p.refunded for p in refunded)
    assert list(platform.ledger.store.check()) == []
    out = StringIO()
    print_demo(platform, demo, "http://127.0.0.1:8000", Console(file=out, width=80))
    text = out.getvalue()
    verifier = KeyVerifier(platform)
    for key in [demo.world.operator_key, *(m.api_key for m in demo.world.merchants)]:
        assert key in text  # whole, not wrapped or cut
        assert verifier.verify(key) is not None
    assert format_id("cus", zoe.id) in text
    # The merchants' keys take payouts, and the demo says how long a new bank account
    # pauses them (the demo's minute, set by `centime demo`).
    for seeded in demo.world.merchants:
        found = verifier.verify(seeded.api_key)
        assert found is not None and Scope.PAYOUTS in found.scopes
    assert "pauses payouts for" in text and "CENTIME_PAYOUT_METHOD_LOCK_S" in text


def test_the_demo_runs_with_the_risk_engine_on_and_a_customer_can_try_it(
    platform: Platform,
) -> None:
    """The shipped engine (rules and model) screens the demo's seeding, then each demo
    customer tops up by card and pays, as a person trying the demo would: all allowed."""
    from centime import usecases
    from centime.platform.funding import TopUp
    from centime.platform.review import InReview
    from centime.providers import Method
    from centime.risk.engine import build_engine
    from centime.seed import CARD_OK, await_success

    platform.screen = build_engine(clock=platform.clock)
    demo = build_demo_world(platform)
    sandbox = platform.providers.funding["sandbox"]
    shops = [m.merchant for m in demo.world.merchants]
    for seeded in demo.world.customers:
        person = seeded.customer
        for dollars in (10, 20):
            made = usecases.topup(
                platform,
                sandbox,
                usecases.TopUpRequest(
                    person.id, "USD", dollars * 1000000, Method.CARD.value, CARD_OK
                ),
                usecases.Origin(device=f"seed-device-{person.id}"),
            )
            assert isinstance(made, TopUp), (person.name, made)
            await_success(platform, sandbox, [made.id])  # type: ignore[arg-type]
        for shop in shops:
            paid = usecases.pay(
                platform,
                usecases.PaymentRequest(person.id, shop.id, "USD", 250000),
                usecases.Origin(device=f"seed-device-{person.id}"),
            )
            assert not isinstance(paid, InReview | Refusal), (person.name, paid)
    assert list(platform.ledger.store.check()) == []
    # The printed curl lines and an API top-up and payment by the demo's keys, in process.
    from .api.conftest import make_api

    serving = make_api(platform)
    api = next(serving)
    try:
        operator = {"Authorization": f"Bearer {demo.world.operator_key}"}
        shop_key = {"Authorization": f"Bearer {demo.world.merchants[0].api_key}"}
        assert api.http.get("/v1/customers", headers=operator).status_code == 200
        assert api.http.get("/v1/merchants/me/balances", headers=shop_key).status_code == 200
        ada = format_id("cus", demo.world.customers[0].customer.id)
        topup = api.http.post(
            "/v1/topups",
            headers={**operator, "Idempotency-Key": "demo-t"},
            json={
                "customer_id": ada,
                "amount": {"value": "15000000", "scale": 6, "asset": "USD"},
                "method": "card",
                "instrument": CARD_OK,
            },
        )
        assert topup.status_code == 201, topup.text
        shop = demo.world.merchants[0].merchant
        mandate = demo.world.customers[0].mandates[shop.id]
        paid = api.http.post(
            "/v1/payments",
            headers={**shop_key, "Idempotency-Key": "demo-p"},
            json={
                "customer_id": ada,
                "amount": {"value": "50000", "scale": 6, "asset": "USD"},
                "mandate_id": format_id("man", mandate.id),
            },
        )
        assert paid.status_code == 201, paid.text
    finally:
        next(serving, None)
    assert list(platform.ledger.store.check()) == []
