"""The review plan's encoding: a held request comes back as the same request, typed; the
stored text is the version 1 JSON the cases have always held; anything else is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.platform.funding import Vaulted
from centime.usecases import (
    ENCODING_VERSION,
    MoneyRequest,
    PaymentRequest,
    PlanError,
    SignupRequest,
    TopUpRequest,
    decode,
    encode,
    review_plan,
)

from .strategies import payments, valid_requests


@given(valid_requests)
def test_a_request_round_trips_through_its_plan(request: MoneyRequest) -> None:
    plan = review_plan(request)
    assert decode(plan.subject.kind, plan.request) == request
    assert (plan.asset, plan.amount) == (request.asset, request.amount)


@given(valid_requests)
def test_the_stored_text_is_sorted_json_without_a_version(request: MoneyRequest) -> None:
    text = encode(request)
    stored = json.loads(text)
    assert "v" not in stored  # version 1: the rows are the ones cases always stored
    assert text == json.dumps(stored, sort_keys=True)
    assert ENCODING_VERSION == 1


@given(payments)
def test_a_payment_plan_names_the_payment_and_its_payer(request: PaymentRequest) -> None:
    plan = review_plan(request)
    assert plan.subject == ("payment", request.payment_id, "customer", request.customer_id)


def test_a_version_1_row_as_stored_before_decodes() -> None:
    stored = (
        '{"amount": 500, "asset": "USD", "charged_by_merchant": false, "customer_id": 7,'
        ' "description": null, "mandate_id": null, "merchant_id": 9, "payment_id": 11,'
        ' "reference": "r"}'
    )
    assert decode("payment", stored) == PaymentRequest(7, 9, "USD", 500, 11, reference="r")


def test_a_topup_plan_from_before_0012_names_its_instrument_as_given() -> None:
    stored = (
        '{"amount": 5, "asset": "USD", "customer_id": 3, "instrument": "4242424242424242",'
        ' "method": "card", "topup_id": 4}'
    )
    assert decode("topup", stored) == TopUpRequest(3, "USD", 5, "card", "4242424242424242", 4)


def test_a_topup_is_planned_only_with_its_instrument_vaulted() -> None:
    with pytest.raises(PlanError):
        encode(TopUpRequest(3, "USD", 5, "card", "4242424242424242", 4))
    vaulted = TopUpRequest(3, "USD", 5, "card", Vaulted("tok", "fp_" + "0" * 32, "4242"), 4)
    assert "4242424242424242" not in encode(vaulted)


@given(
    st.sampled_from(["payment", "transfer", "hold", "topup"]),
    st.dictionaries(st.text(max_size=12), st.integers() | st.text(max_size=5) | st.none()),
)
def test_anything_else_is_refused_never_half_read(kind: str, stored: dict[str, object]) -> None:
    try:
        decoded = decode(kind, json.dumps(stored))
    except PlanError:
        return
    assert review_plan(decoded).subject.kind == kind  # a complete request of its kind


@given(valid_requests, st.integers().filter(lambda v: v != 1))
def test_an_unknown_version_is_refused(request: MoneyRequest, version: int) -> None:
    stored = json.loads(encode(request)) | {"v": version}
    with pytest.raises(PlanError):
        decode(review_plan(request).subject.kind, json.dumps(stored))


def test_a_signup_holds_no_money_and_stores_nothing() -> None:
    plan = review_plan(SignupRequest("merchant", 5))
    assert (plan.subject, plan.amount, plan.request) == (("merchant", 5, "merchant", 5), 0, "{}")
    with pytest.raises(PlanError):
        decode("merchant", "{}")
