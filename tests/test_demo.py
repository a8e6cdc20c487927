"""The demo (`make demo`): its world is built through the services on either store, checks
clean, and what it prints gives a person the keys and ids to call the API with."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from rich.console import Console

from centime import usecases
from centime.auth import KeyVerifier, Scope
from centime.demo import (
    DEMO_CUSTOMERS,
    DEMO_MERCHANTS,
    build_demo_world,
    print_demo,
    write_demo_rules,
)
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.ids import format_id
from centime.platform.parties import customer_balances
from centime.platform.payments import get_payment
from centime.platform.review import read_case
from centime.risk.engine import build_engine


def _screened(platform: Platform, tmp_path: Path) -> Path:
    """The demo's screen: the risk engine with the demo's rules (as `centime demo` runs)."""
    rules = write_demo_rules(tmp_path / "demo.risk-rules.toml")
    platform.screen = build_engine(rules, clock=platform.clock)
    return rules


def test_the_demo_world_is_real_and_printed(platform: Platform, tmp_path: Path) -> None:
    rules = _screened(platform, tmp_path)
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
    print_demo(platform, demo, "http://127.0.0.1:8000", Console(file=out, width=80), rules)
    text = out.getvalue()
    # The held payment: where to review it, who may, and what approving does.
    case_url = f"http://localhost:8000/console/cases/{format_id('case', demo.held.case_id)}"
    assert case_url in text and str(rules) in text
    assert "Ari (risk analyst)" in text and "Approve: the payment goes ahead" in text
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


def test_the_demo_holds_a_payment_an_analyst_approves(platform: Platform, tmp_path: Path) -> None:
    """The screened demo holds Ada's larger payment (the money set aside); approving the
    case completes it: Ada's balance pays it and the podcast earns it."""
    from centime.platform.parties import merchant_balances

    _screened(platform, tmp_path)
    demo = build_demo_world(platform)
    ada = demo.world.customers[0].customer
    podcast = demo.world.merchants[2].merchant
    case = read_case(platform, demo.held.case_id)
    assert case is not None and case.status == "open"
    assert "demo_large_payment" in demo.held.reasons
    (before,) = customer_balances(platform, ada.id)
    (earned_before,) = merchant_balances(platform, podcast.id)
    approved = usecases.approve_case(platform, demo.held.case_id, "opr_test")
    assert not isinstance(approved, Refusal) and approved.status == "approved"
    (after,) = customer_balances(platform, ada.id)
    (earned_after,) = merchant_balances(platform, podcast.id)
    assert before.available - after.available in (0, demo.held.amount)  # set aside, or now
    assert earned_after.available > earned_before.available
    assert list(platform.ledger.store.check()) == []


def test_the_demo_runs_with_the_risk_engine_on_and_a_customer_can_try_it(
    platform: Platform, tmp_path: Path
) -> None:
    """The shipped engine (rules and model) screens the demo's seeding, then each demo
    customer tops up by card and pays, as a person trying the demo would: all allowed."""
    from centime import usecases
    from centime.platform.funding import TopUp
    from centime.platform.review import InReview
    from centime.providers import Method
    from centime.seed import CARD_OK, await_success

    _screened(platform, tmp_path)
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
