"""POST /v1/payments/batch: per-payment results in order for mixed good and bad payments,
units split at BATCH_PAYMENTS_MAX, malformed payments refusing the whole batch, the whole
batch refused when the merchant cannot be paid, idempotent replays, the body limit."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime import wire
from centime.api.routes import payments as payment_routes
from centime.api.routes.payments import indexed_id_text
from centime.auth import Principal, Scope
from centime.http.problems import status_of
from centime.limits import API_BATCH_PAYMENTS_MAX, ID_MAX
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from tests.platform.world import fund, snapshot

from .conftest import Api
from .money import (
    Shop,
    cents,
    customer_balance,
    funded_customer,
    id_of,
    merchant_balance,
    problem,
    shop,
)


def item(
    customer: wire.Customer, amount: wire.Money, mandate: wire.Mandate | None, **more: Any
) -> wire.BatchPayment:
    mandate_id = None if mandate is None else mandate.id
    return wire.BatchPayment(customer_id=customer.id, amount=amount, mandate_id=mandate_id, **more)


def as_json(items: list[wire.BatchPayment], **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(wire.PaymentBatchCreate(payments=items))
    return {**body, **more}


def post(api: Api, body: dict[str, Any], key: str, token: str) -> Any:
    return api.http.post(
        "/v1/payments/batch", json=body, headers=api.headers(token, **{"Idempotency-Key": key})
    )


class World:
    def __init__(self, api: Api) -> None:
        self.seller: Shop = shop(api, fee_bp=100)
        self.rich = funded_customer(api, 10_000)
        self.poor = funded_customer(api, 1)
        self.rich_mandate = api.operator.create_mandate(
            self.rich.id, self.seller.id, cents(100_000)
        )
        self.poor_mandate = api.operator.create_mandate(self.poor.id, self.seller.id, cents(100))
        self.revoked = api.operator.create_mandate(self.rich.id, self.seller.id, cents(100))
        api.operator.revoke_mandate(self.revoked.id)


def test_mixed_good_and_bad_payments_each_get_their_result_in_order(api: Api) -> None:
    w = World(api)
    ghost = wire.Customer(
        id="cus_0000000000001", name="", email=None, status="active", kyc_tier=1, created_at=""
    )
    items = [
        item(w.rich, cents(10), w.rich_mandate, description="call 1"),
        item(w.poor, cents(5), w.poor_mandate),  # insufficient funds
        item(ghost, cents(1), w.rich_mandate),  # no such customer
        item(w.rich, cents(1), w.revoked),  # revoked
        item(w.poor, cents(1), w.rich_mandate),  # another customer's mandate
        item(w.rich, cents(20), w.rich_mandate, reference="r-2"),
        item(w.poor, cents(1), w.poor_mandate),  # what it has
    ]
    batch = w.seller.client.create_payment_batch(items)
    statuses = [(r.status, r.error.code if r.error else None) for r in batch.results]
    assert statuses == [
        (201, None),
        (402, "insufficient_funds"),
        (404, "customer_not_found"),
        (409, "mandate_revoked"),
        (404, "mandate_not_found"),
        (201, None),
        (201, None),
    ]
    assert (batch.created, batch.refused) == (3, 4)
    assert all((r.id is None) == (r.error is not None) for r in batch.results)
    # What the batch answered is what is stored: each payment as it was sent.
    paid = [w.seller.client.get_payment(r.id) for r in batch.results if r.id is not None]
    assert [p.fee for p in paid] == [r.fee for r in batch.results if r.id is not None]
    assert [p.amount for p in paid] == [cents(10), cents(20), cents(1)]
    assert [p.customer_id for p in paid] == [w.rich.id, w.rich.id, w.poor.id]
    assert paid[0].description == "call 1" and paid[1].reference == "r-2"
    assert all(p.merchant_id == w.seller.id for p in paid)
    assert paid[0].mandate_id == w.rich_mandate.id
    assert customer_balance(api, w.rich) == (10_000 - 30) * 10_000
    assert customer_balance(api, w.poor) == 0
    assert merchant_balance(api, w.seller) == 310_000 - sum(int(p.fee.value) for p in paid)


def test_a_batch_larger_than_a_unit_is_split_and_answered_in_order(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_routes, "BATCH_PAYMENTS_MAX", 3)
    w = World(api)
    items = [item(w.rich, cents(i + 1), w.rich_mandate) for i in range(8)]
    items[4] = item(w.poor, cents(50), w.poor_mandate)  # refused, in the second unit
    batch = w.seller.client.create_payment_batch(items, idempotency_key="split")
    assert [r.status for r in batch.results] == [201] * 4 + [402] + [201] * 3
    paid = [w.seller.client.get_payment(r.id).amount for r in batch.results if r.id]
    assert paid == [cents(i) for i in (1, 2, 3, 4, 6, 7, 8)]
    assert customer_balance(api, w.rich) == (10_000 - 31) * 10_000
    again = w.seller.client.create_payment_batch(items, idempotency_key="split")
    assert again == batch
    assert customer_balance(api, w.rich) == (10_000 - 31) * 10_000


def test_a_retry_replays_the_first_answer_and_never_pays_twice(api: Api) -> None:
    w = World(api)
    items = [item(w.rich, cents(10), w.rich_mandate), item(w.poor, cents(5), w.poor_mandate)]
    body = as_json(items)
    first = post(api, body, "b-1", w.seller.token)
    assert first.status_code == 200
    # Money arrives for the poor customer: the replay still answers the first refusal.
    fund(api.platform, id_of("cus", w.poor.id), "USD", 100 * 10_000)
    again = post(api, body, "b-1", w.seller.token)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert customer_balance(api, w.rich) == (10_000 - 10) * 10_000
    reused = post(api, as_json(items[:1]), "b-1", w.seller.token)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert len(w.seller.client.list_payments().data) == 1


def test_a_key_taken_meanwhile_by_another_batch_is_422(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes: each checks the key before running, so both may run. The one that
    stores its answer second learns the key was taken for a different batch and says so;
    its payments' ids are the key's, so they meet the first batch's and nothing moves."""
    w = World(api)
    first = post(api, as_json([item(w.rich, cents(10), w.rich_mandate)]), "b-2", w.seller.token)
    assert first.status_code == 200
    monkeypatch.setattr(payment_routes, "_stored_answer", lambda *args: None)  # the race
    other = as_json([item(w.rich, cents(7), w.rich_mandate)])
    second = post(api, other, "b-2", w.seller.token)
    assert (second.status_code, second.json()["code"]) == (422, "idempotency_key_reused")
    assert customer_balance(api, w.rich) == (10_000 - 10) * 10_000


def test_the_same_batch_run_meanwhile_by_another_process_is_replayed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both check the key before running; the second's units find the answer the first's
    last unit stored, run nothing and answer it."""
    w = World(api)
    body = as_json(
        [item(w.rich, cents(10), w.rich_mandate), item(w.poor, cents(5), w.poor_mandate)]
    )
    first = post(api, body, "b-3", w.seller.token)
    assert first.status_code == 200
    monkeypatch.setattr(payment_routes, "_stored_answer", lambda *args: None)  # the race
    second = post(api, body, "b-3", w.seller.token)
    assert second.status_code == 200 and second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert customer_balance(api, w.rich) == (10_000 - 10) * 10_000


def test_malformed_payments_refuse_the_whole_batch_naming_the_field(api: Api) -> None:
    w = World(api)
    good = msgspec.to_builtins(item(w.rich, cents(1), w.rich_mandate))
    before = snapshot(api.platform)
    for bad, field, code in [
        (
            {**good, "customer_id": "mer_0000000000001"},
            "payments[1].customer_id",
            "invalid_request",
        ),
        (
            {**good, "amount": {**good["amount"], "value": "0"}},
            "payments[1].amount.value",
            "invalid_amount",
        ),
        # A pattern's $ matches before a final newline: checked again, refused like a single.
        (
            {**good, "amount": {**good["amount"], "value": "5\n"}},
            "payments[1].amount.value",
            "invalid_amount",
        ),
        (
            {**good, "amount": {**good["amount"], "scale": 2}},
            "payments[1].amount.scale",
            "invalid_amount",
        ),
        (
            {**good, "amount": {**good["amount"], "asset": "ZZZ"}},
            "payments[1].amount.asset",
            "unknown_asset",
        ),
        ({**good, "mandate_id": None}, "payments[1].mandate_id", "invalid_request"),
        ({**good, "extra": 1}, "payments[1].extra", "invalid_request"),
    ]:
        response = post(api, {"payments": [good, bad]}, "bad", w.seller.token)
        assert response.status_code == 400, response.text
        document = response.json()
        assert (document["code"], document["errors"][0]["field"]) == (code, field)
    bodies: list[dict[str, Any]] = [{"payments": []}, {}, {"payments": [good], "merchant_id": "x"}]
    for body in bodies:
        assert post(api, body, "bad", w.seller.token).status_code == 400
    assert snapshot(api.platform) == before


def test_the_whole_batch_is_refused_when_the_merchant_cannot_be_paid(api: Api) -> None:
    w = World(api)
    api.operator.update_merchant(w.seller.id, status="frozen")
    items = [item(w.rich, cents(1), w.rich_mandate)]
    first = post(api, as_json(items), "frozen", w.seller.token)
    assert (first.status_code, first.json()["code"]) == (409, "merchant_frozen")
    api.operator.update_merchant(w.seller.id, status="active")
    again = post(api, as_json(items), "frozen", w.seller.token)  # the first answer, kept
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and customer_balance(api, w.rich) == 10**8
    other = shop(api, "Other")
    response = post(api, as_json(items, merchant_id=other.id), "x", w.seller.token)
    assert (response.status_code, response.json()["code"]) == (404, "merchant_not_found")


def test_the_operator_batches_for_customers_and_names_the_merchant(api: Api) -> None:
    w = World(api)
    items = [item(w.rich, cents(3), None), item(w.rich, cents(4), None)]
    assert problem(api.operator.create_payment_batch, items) == (400, "invalid_request")
    batch = api.operator.create_payment_batch(items, merchant_id=w.seller.id)
    assert [r.status for r in batch.results] == [201, 201]
    assert all(r.id and api.operator.get_payment(r.id).mandate_id is None for r in batch.results)


def test_scopes_and_merchant_isolation(api: Api) -> None:
    w = World(api)
    reader = api.client(api.merchant_key(w.seller.merchant, Scope.READ))
    items = [item(w.rich, cents(1), w.rich_mandate)]
    assert problem(reader.create_payment_batch, items) == (403, "forbidden")
    rival = shop(api, "Rival")
    batch = rival.client.create_payment_batch(items)  # the mandate is not the rival's
    assert [(r.status, r.error and r.error.code) for r in batch.results] == [
        (404, "mandate_not_found")
    ]


def test_the_largest_batch_fits_its_body_limit(api: Api) -> None:
    w = World(api)
    one = msgspec.to_builtins(
        item(w.rich, wire.money(1, "USD"), w.rich_mandate, description="x" * 200)
    )
    body = msgspec.json.encode({"payments": [one] * API_BATCH_PAYMENTS_MAX})
    assert len(body) > (1 << 20)  # more than any other endpoint accepts
    headers = api.headers(
        w.seller.token, **{"Idempotency-Key": "big", "Content-Type": "application/json"}
    )
    response = api.http.post("/v1/payments/batch", content=body, headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["created"] == API_BATCH_PAYMENTS_MAX
    assert customer_balance(api, w.rich) == 10_000 * 10_000 - API_BATCH_PAYMENTS_MAX
    too_many = msgspec.json.encode({"payments": [one] * (API_BATCH_PAYMENTS_MAX + 1)})
    response = api.http.post(
        "/v1/payments/batch", content=too_many, headers={**headers, "Idempotency-Key": "bigger"}
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "payments"
    huge = b'{"payments": [' + b" " * (9 << 20) + b"]}"
    response = api.http.post(
        "/v1/payments/batch", content=huge, headers={**headers, "Idempotency-Key": "huge"}
    )
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


@given(st.integers(min_value=0, max_value=ID_MAX), st.integers(min_value=0, max_value=2**15 - 1))
def test_a_batchs_payment_ids_are_written_as_format_id_would(base: int, index: int) -> None:
    head, low = format_id("pay", base)[:-3], base & ((1 << 15) - 1)
    assert indexed_id_text(head, low, index) == format_id("pay", base ^ index)


def _struct_render(batch: Any, results: list[Any]) -> bytes:
    """The answer as msgspec encodes the wire's structs (the reference for render)."""
    out = []
    for index, result in enumerate(results):
        if isinstance(result, Refusal):
            code = result.code.value
            error = wire.BatchError(code=code, detail=result.detail)
            out.append(wire.BatchResult(status=status_of(code), error=error))
        elif isinstance(result, str):
            paid_id = format_id("pay", batch.base_id ^ index)
            out.append(wire.BatchResult(status=202, id=paid_id, case_id=result))
        else:
            fee = wire.money(result[1], batch.items[index].asset)
            out.append(wire.BatchResult(status=201, id=format_id("pay", result[0]), fee=fee))
    created = sum(1 for r in results if isinstance(r, tuple))
    refused = sum(1 for r in results if isinstance(r, Refusal))
    return msgspec.json.encode(wire.PaymentBatch(results=out, created=created, refused=refused))


@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from(list(Code)), st.text(max_size=12)).map(lambda r: Refusal(*r)),
            st.integers(1, ID_MAX).map(lambda n: format_id("case", n)),
            st.tuples(st.just(None), st.integers(0, 10**12)),  # paid under its batch id
            st.tuples(st.integers(1, ID_MAX), st.integers(0, 10**12)),  # a replayed payment
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["USD", "EUR", "JPY"]),
    st.text(min_size=1, max_size=10),
)
def test_the_answer_is_rendered_as_msgspec_encodes_its_structs(
    results: list[Any], asset: str, key: str
) -> None:
    principal = Principal("merchant", 42, 7, frozenset())
    money = wire.money(1, asset)
    body = wire.PaymentBatchCreate(
        payments=[
            wire.BatchPayment(
                customer_id=format_id("cus", 3), amount=money, mandate_id=format_id("man", 5)
            )
            for _ in results
        ]
    )
    batch = payment_routes._Batch(principal, key, 42, body)
    results = [
        (batch.base_id ^ index, r[1]) if isinstance(r, tuple) and r[0] is None else r
        for index, r in enumerate(results)
    ]
    assert batch.render(results) == _struct_render(batch, results)
