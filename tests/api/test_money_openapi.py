"""The money routes' answers, successes and problems, match the OpenAPI document exactly
(schemathesis validates each response against the operation's declared schemas)."""

from __future__ import annotations

from typing import Any

import schemathesis

from centime.providers import SandboxProvider
from centime.providers.sandbox import CARD_DECLINED, CARD_SUCCEEDS

from .conftest import Api
from .money import cents, funded_customer, shop


def money(n: int) -> dict[str, Any]:
    value = cents(n)
    return {"value": value.value, "asset": value.asset, "scale": value.scale}


def test_money_answers_match_the_document(api: Api) -> None:
    api.platform.providers.funding["sandbox"] = SandboxProvider(api.platform.clock)
    schema = schemathesis.openapi.from_dict(api.http.get("/openapi.json").json())
    seller = shop(api)
    payer, poor, other = funded_customer(api, 1_000), funded_customer(api, 0), funded_customer(api)
    mandate = api.operator.create_mandate(payer.id, seller.id, cents(1_000))
    payment = seller.client.create_payment(payer.id, cents(10), mandate_id=mandate.id)
    hold = seller.client.create_hold(payer.id, cents(10), mandate_id=mandate.id)
    other_hold = seller.client.create_hold(payer.id, cents(10), mandate_id=mandate.id)
    refund = seller.client.refund_payment(payment.id, amount=cents(1))
    transfer = api.operator.create_transfer(payer.id, other.id, cents(1))
    topup = api.operator.create_topup(poor.id, cents(1), "card", CARD_SUCCEEDS)
    mine = api.headers(seller.token)
    ops = api.headers()
    ghost = "pay_0000000000001"
    calls: list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]] = [
        (
            "POST",
            "/v1/payments",
            "/v1/payments",
            {"customer_id": payer.id, "amount": money(1), "mandate_id": mandate.id},
            mine,
        ),
        (
            "POST",
            "/v1/payments",
            "/v1/payments",
            {"customer_id": poor.id, "amount": money(1), "merchant_id": seller.id},
            ops,
        ),
        (
            "POST",
            "/v1/payments",
            "/v1/payments",
            {"customer_id": payer.id, "amount": money(1)},
            mine,
        ),
        ("GET", "/v1/payments", "/v1/payments?limit=1", None, mine),
        ("GET", "/v1/payments/{payment_id}", f"/v1/payments/{payment.id}", None, mine),
        ("GET", "/v1/payments/{payment_id}", f"/v1/payments/{ghost}", None, mine),
        (
            "POST",
            "/v1/payments/batch",
            "/v1/payments/batch",
            {
                "payments": [
                    {
                        "customer_id": payer.id,
                        "amount": money(1),
                        "mandate_id": mandate.id,
                        "description": "d",
                    },
                    {"customer_id": poor.id, "amount": money(1), "mandate_id": mandate.id},
                ]
            },
            mine,
        ),
        (
            "POST",
            "/v1/payments/{payment_id}/refunds",
            f"/v1/payments/{payment.id}/refunds",
            {"amount": money(1), "reason": "r"},
            mine,
        ),
        (
            "POST",
            "/v1/payments/{payment_id}/refunds",
            f"/v1/payments/{payment.id}/refunds",
            {"amount": money(100)},
            mine,
        ),
        ("GET", "/v1/refunds", f"/v1/refunds?payment_id={payment.id}", None, mine),
        ("GET", "/v1/refunds/{refund_id}", f"/v1/refunds/{refund.id}", None, mine),
        (
            "POST",
            "/v1/mandates",
            "/v1/mandates",
            {"customer_id": payer.id, "merchant_id": seller.id, "amount_max_daily": money(5)},
            ops,
        ),
        ("GET", "/v1/mandates", "/v1/mandates", None, mine),
        ("GET", "/v1/mandates/{mandate_id}", f"/v1/mandates/{mandate.id}", None, mine),
        (
            "POST",
            "/v1/holds",
            "/v1/holds",
            {
                "customer_id": payer.id,
                "amount": money(1),
                "mandate_id": mandate.id,
                "timeout_s": 60,
            },
            mine,
        ),
        (
            "POST",
            "/v1/holds/{hold_id}/capture",
            f"/v1/holds/{hold.id}/capture",
            {"amount": money(2)},
            mine,
        ),
        (
            "POST",
            "/v1/holds/{hold_id}/capture",
            f"/v1/holds/{hold.id}/capture",
            {"amount": money(2)},
            mine,
        ),
        ("POST", "/v1/holds/{hold_id}/release", f"/v1/holds/{other_hold.id}/release", None, mine),
        ("GET", "/v1/holds", "/v1/holds", None, mine),
        ("GET", "/v1/holds/{hold_id}", f"/v1/holds/{hold.id}", None, mine),
        (
            "POST",
            "/v1/transfers",
            "/v1/transfers",
            {"sender_id": payer.id, "recipient_id": other.id, "amount": money(1), "note": "n"},
            ops,
        ),
        (
            "POST",
            "/v1/transfers",
            "/v1/transfers",
            {"sender_id": poor.id, "recipient_id": other.id, "amount": money(1)},
            ops,
        ),
        ("GET", "/v1/transfers", "/v1/transfers", None, ops),
        ("GET", "/v1/transfers/{transfer_id}", f"/v1/transfers/{transfer.id}", None, ops),
        (
            "POST",
            "/v1/topups",
            "/v1/topups",
            {
                "customer_id": poor.id,
                "amount": money(1),
                "method": "card",
                "instrument": CARD_DECLINED,
            },
            ops,
        ),
        (
            "POST",
            "/v1/topups",
            "/v1/topups",
            {
                "customer_id": poor.id,
                "amount": money(1),
                "method": "carrier",
                "instrument": "+15555550100",
            },
            ops,
        ),
        ("POST", "/v1/topups/{topup_id}/retry", f"/v1/topups/{topup.id}/retry", None, ops),
        ("GET", "/v1/topups", "/v1/topups", None, ops),
        ("GET", "/v1/topups/{topup_id}", f"/v1/topups/{topup.id}", None, ops),
        (
            "POST",
            "/v1/mandates/{mandate_id}/revoke",
            f"/v1/mandates/{mandate.id}/revoke",
            None,
            ops,
        ),
    ]
    statuses = []
    for index, (method, template, url, body, sent) in enumerate(calls):
        operation = schema.find_operation_by_path(method, template)
        assert operation is not None, (method, template)
        headers = {**sent, "Idempotency-Key": f"doc-{index}"} if method == "POST" else sent
        response = api.http.request(method, url, json=body, headers=headers)
        operation.validate_response(response)  # raises on a mismatch
        statuses.append(response.status_code)
    assert {201, 200, 400, 402, 404, 409, 422} <= set(statuses)
