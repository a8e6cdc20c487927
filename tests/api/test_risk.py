"""The risk screen over HTTP: 202 in_review, 422 risk_blocked, 403 step_up_required, the
review queue for the analyst's scope, batches screened with one call, fail closed."""

from __future__ import annotations

import msgspec
import pytest

from centime import wire
from centime.auth import Scope
from centime.client import HeldForReview
from centime.platform.chart import AccountKind
from centime.providers import SandboxProvider
from centime.providers.sandbox import CARD_SUCCEEDS
from centime.risk.types import Action, Decision, RiskEvent
from tests.platform.world import account, snapshot

from ..risk.screens import RaisingScreen, ScriptedScreen, decision
from .conftest import Api
from .money import cents, funded_customer, id_of, problem, shop

# The screen's answer by amount (in micro-dollars), ALLOW for anything else.
ACTIONS = {
    7 * 10_000: Action.REVIEW,
    13 * 10_000: Action.BLOCK,
    17 * 10_000: Action.STEP_UP,
}


def by_amount(event: RiskEvent) -> Decision:
    action = ACTIONS.get(event.amount, Action.ALLOW)
    return decision(action, *(() if action is Action.ALLOW else ("amount_unusual",)))


@pytest.fixture
def screen(api: Api) -> ScriptedScreen:
    scripted = ScriptedScreen(by_amount)
    api.platform.screen = scripted
    return scripted


def available(api: Api, customer: wire.Customer) -> int:
    """What the customer's wallet can spend now (money reserved for review is not)."""
    found = account(api.platform, AccountKind.CUSTOMER_WALLET, id_of("cus", customer.id), "USD")
    return 0 if found is None else found.available


def held(call: object, *args: object, **kw: object) -> wire.InReview:
    with pytest.raises(HeldForReview) as raised:
        call(*args, **kw)  # type: ignore[operator]
    return raised.value.answer


def test_a_payment_under_review_is_202_then_paid_when_approved(
    api: Api, screen: ScriptedScreen
) -> None:
    seller, ada = shop(api), funded_customer(api, 100)
    response = api.http.post(
        "/v1/payments",
        json={
            "customer_id": ada.id,
            "merchant_id": seller.id,
            "amount": msgspec.to_builtins(cents(7)),
        },
        headers=api.headers(
            **{
                "Idempotency-Key": "held-1",
                "Centime-Device": "phone-1",
                "Centime-Client-Ip": "203.0.113.9",
            }
        ),
    )
    assert response.status_code == 202, response.text
    answer = msgspec.json.decode(response.content, type=wire.InReview)
    assert (answer.status, answer.object, answer.reasons) == (
        "in_review",
        "payment",
        ["amount_unusual"],
    )
    assert answer.id.startswith("pay_") and answer.amount == cents(7)
    (event,) = screen.asked[-1:]
    assert (event.device, event.ip, event.payee) == ("phone-1", "203.0.113.9", seller.id)
    assert problem(api.operator.get_payment, answer.id) == (404, "payment_not_found")
    assert available(api, ada) == 93 * 10_000  # reserved
    again = api.http.post(  # the same key: the same answer
        "/v1/payments",
        json={
            "customer_id": ada.id,
            "merchant_id": seller.id,
            "amount": msgspec.to_builtins(cents(7)),
        },
        headers=api.headers(**{"Idempotency-Key": "held-1"}),
    )
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (202, "true")

    analyst = api.client(api.key(Scope.REVIEW))
    queue = analyst.list_risk_cases()
    assert [c.id for c in queue.data] == [answer.case_id]
    case = analyst.get_risk_case(answer.case_id)
    assert case.decision is not None and case.decision.reasons == ["amount_unusual"]
    assert case.decision.device == "phone-1" and case.object_id == answer.id
    approved = analyst.approve_risk_case(answer.case_id)
    assert approved.status == "approved" and approved.resolved_by
    assert api.operator.get_payment(answer.id).amount == cents(7)
    assert analyst.list_risk_cases().data == []
    assert [c.id for c in analyst.list_risk_cases(status="all").data] == [answer.case_id]
    assert problem(analyst.decline_risk_case, answer.case_id) == (409, "case_not_open")


def test_block_and_step_up_are_problems_that_change_nothing(
    api: Api, screen: ScriptedScreen
) -> None:
    seller, ada, bob = shop(api), funded_customer(api, 100), funded_customer(api, 0)
    before = snapshot(api.platform)
    pay = api.operator.create_payment
    assert problem(pay, ada.id, cents(13), merchant_id=seller.id) == (422, "risk_blocked")
    assert problem(pay, ada.id, cents(17), merchant_id=seller.id) == (403, "step_up_required")
    send = api.operator.create_transfer
    assert problem(send, ada.id, bob.id, cents(13)) == (422, "risk_blocked")
    assert snapshot(api.platform) == before
    with api.platform.read() as fetch:
        rows = fetch("SELECT action FROM risk_decisions WHERE event_type <> 'signup'", ())
    assert sorted(r[0] for r in rows) == ["block", "block", "step_up"]


def test_transfers_holds_topups_and_signups_can_be_held(api: Api, screen: ScriptedScreen) -> None:
    ada, bob, seller = funded_customer(api, 100), funded_customer(api, 0), shop(api)
    transfer = held(api.operator.create_transfer, ada.id, bob.id, cents(7))
    assert transfer.object == "transfer" and transfer.id.startswith("tr_")
    hold = held(api.operator.create_hold, ada.id, cents(7), merchant_id=seller.id)
    assert hold.object == "hold"
    api.platform.providers.funding["sandbox"] = SandboxProvider(api.platform.clock)
    topup = held(api.operator.create_topup, ada.id, cents(7), "card", CARD_SUCCEEDS)
    assert topup.object == "topup"
    assert api.operator.list_topups(customer_id=ada.id).data == []  # not charged
    analyst = api.client(api.key(Scope.REVIEW))
    analyst.decline_risk_case(transfer.case_id)
    assert available(api, ada) == 93 * 10_000  # the hold's 7 stay reserved
    analyst.approve_risk_case(hold.case_id)
    assert api.operator.get_hold(hold.id).status == "authorized"
    analyst.approve_risk_case(topup.case_id)
    assert api.operator.get_topup(topup.id).status == "pending"  # charged now
    screen.rule = lambda e: decision(Action.REVIEW, "signup_velocity")
    signup = held(api.operator.create_customer, "Mallory")
    assert signup.object == "customer"
    assert api.operator.get_customer(signup.id).status == "frozen"
    labelled = analyst.label_risk_case(signup.case_id, "fraud")
    assert labelled.label == "fraud"
    analyst.freeze_risk_case_party(signup.case_id)
    assert analyst.decline_risk_case(signup.case_id).status == "declined"
    assert api.operator.get_customer(signup.id).status == "closed"


def test_a_batch_is_screened_with_one_call_and_answers_each(
    api: Api, screen: ScriptedScreen
) -> None:
    seller, ada = shop(api), funded_customer(api, 1_000)
    mandate = api.operator.create_mandate(ada.id, seller.id, cents(100_000))
    items = [
        wire.BatchPayment(customer_id=ada.id, amount=cents(n), mandate_id=mandate.id)
        for n in (1, 7, 13, 17, 2)
    ]
    calls = screen.batch_calls
    batch = seller.client.create_payment_batch(items, idempotency_key="mixed")
    assert screen.batch_calls == calls + 1
    assert [r.status for r in batch.results] == [201, 202, 422, 403, 201]
    review = batch.results[1]
    assert review.case_id and review.id and (batch.created, batch.refused) == (2, 2)
    assert screen.asked[-1].ip is None  # a merchant's server says nothing of the customer
    replay = seller.client.create_payment_batch(items, idempotency_key="mixed")
    assert replay == batch
    analyst = api.client(api.key(Scope.REVIEW))
    analyst.approve_risk_case(review.case_id)
    assert seller.client.get_payment(review.id).amount == cents(7)


def test_the_review_scope_reaches_the_queue_and_nothing_else(
    api: Api, screen: ScriptedScreen
) -> None:
    seller = shop(api)
    analyst = api.client(api.key(Scope.REVIEW))
    assert problem(analyst.create_customer, "Eve") == (403, "forbidden")
    assert problem(analyst.update_merchant, seller.id, fee_bp=0) == (403, "forbidden")
    assert problem(analyst.list_customers) == (403, "forbidden")
    reader = api.client(api.key(Scope.READ))
    assert problem(reader.list_risk_cases) == (403, "forbidden")
    merchant = api.client(api.merchant_key(seller.merchant, Scope.REVIEW))
    assert problem(merchant.list_risk_cases) == (403, "forbidden")
    assert problem(analyst.get_risk_case, "case_0000000000001") == (404, "case_not_found")
    assert problem(analyst.approve_risk_case, "nonsense") == (404, "case_not_found")
    assert problem(analyst.label_risk_case, "case_0000000000001", "fraud") == (
        404,
        "case_not_found",
    )


def test_an_engine_that_raises_blocks_that_request_and_the_server_goes_on(api: Api) -> None:
    seller, ada = shop(api), funded_customer(api, 100)
    api.platform.screen = RaisingScreen()
    pay = api.operator.create_payment
    assert problem(pay, ada.id, cents(1), merchant_id=seller.id) == (422, "risk_blocked")
    items = [wire.BatchPayment(customer_id=ada.id, amount=cents(1))]
    batch = api.operator.create_payment_batch(items, merchant_id=seller.id)
    assert [(r.status, r.error.code if r.error else None) for r in batch.results] == [
        (422, "risk_blocked")
    ]
    api.platform.screen = ScriptedScreen()
    assert api.operator.create_payment(ada.id, cents(1), merchant_id=seller.id).amount == cents(1)


def test_the_operator_posts_labels_once_each_and_the_screen_hears_them(
    api: Api, screen: ScriptedScreen
) -> None:
    analyst = api.key(Scope.REVIEW)
    body = {
        "labels": [
            {
                "id": "cb-77",
                "source": "chargeback",
                "event_at": "2026-01-02T10:00:00Z",
                "payer": "cus_0000000000042",
                "payee": "mer_0000000000007",
                "label": "fraud",
            },
            {
                "id": "dp-3",
                "source": "dispute",
                "event_at": "1767348000000000000",
                "payer": "cus_0000000000043",
                "label": "not_fraud",
            },
        ]
    }
    first = api.http.post("/v1/risk/labels", json=body, headers=api.headers(analyst))
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": 2, "duplicates": 0}
    again = api.http.post("/v1/risk/labels", json=body, headers=api.headers(analyst))
    assert again.json() == {"recorded": 0, "duplicates": 2}
    assert [(x.payer, x.payee, x.fraud, x.source) for x in screen.labels] == [
        ("cus_0000000000042", "mer_0000000000007", True, "chargeback"),
        ("cus_0000000000043", "", False, "dispute"),
    ]
    assert screen.labels[0].event_ns == 1_767_348_000 * 1_000_000_000
    reader = api.key(Scope.READ)
    assert (
        api.http.post("/v1/risk/labels", json=body, headers=api.headers(reader)).status_code == 403
    )
    for bad in (
        {"labels": []},
        {"labels": [{**body["labels"][0], "label": "maybe"}]},
        {"labels": [{**body["labels"][0], "event_at": "yesterday"}]},
        {"labels": [{**body["labels"][0], "event_at": "2999-01-01T00:00:00Z"}]},
        {"labels": [{**body["labels"][0], "source": "analyst"}]},
        {"labels": [{**body["labels"][0], "extra": 1}]},
    ):
        answer = api.http.post("/v1/risk/labels", json=bad, headers=api.headers(analyst))
        assert answer.status_code == 400, (bad, answer.text)
    assert len(screen.labels) == 2
