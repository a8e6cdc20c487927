"""Idempotency-Key: the first answer is stored with the operation and replayed; a key
reused for another request is 422, a duplicate still in flight 409; keys are per owner."""

from __future__ import annotations

import threading
import time
from typing import Any

import litestar
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from centime.api.idempotency import (
    IdempotencyKeyRequired,
    KeyReused,
    Stored,
    check_key,
    idempotent,
    purge_expired,
    request_hash,
)
from centime.auth import Scope
from centime.clock import FakeClock
from centime.http.problems import ProblemError, exception_handlers
from centime.platform.chart import AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.payments import Payment, PaymentRequest, create_payment
from tests.platform.world import balance, customer, fund, merchant

from .conftest import Api


def post(api: Api, path: str, body: dict[str, Any], key: str, token: str | None = None) -> Any:
    return api.http.post(path, json=body, headers=api.headers(token, **{"Idempotency-Key": key}))


def count(platform: Platform, table: str) -> int:
    with platform.read() as fetch:
        found: int = fetch(f"SELECT count(*) FROM {table}", ())[0][0]
    return found


def test_a_retry_replays_the_first_answer(api: Api) -> None:
    first = post(api, "/v1/customers", {"name": "Ada"}, "k1")
    again = post(api, "/v1/customers", {"name": "Ada"}, "k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count(api.platform, "customers") == 1


def test_a_key_reused_for_another_request_is_422_and_changes_nothing(api: Api) -> None:
    assert post(api, "/v1/customers", {"name": "Ada"}, "k1").status_code == 201
    reused = post(api, "/v1/customers", {"name": "Eve"}, "k1")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    other_path = post(api, "/v1/merchants", {"name": "Ada"}, "k1")
    assert other_path.status_code == 422
    assert count(api.platform, "customers") == 1 and count(api.platform, "merchants") == 0


def test_a_refusal_is_the_first_answer_too(api: Api) -> None:
    api.operator.create_customer("Ada", email="ada@example.com")
    first = post(api, "/v1/customers", {"name": "Eve", "email": "ada@example.com"}, "k2")
    again = post(api, "/v1/customers", {"name": "Eve", "email": "ada@example.com"}, "k2")
    assert first.status_code == again.status_code == 409
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"].startswith("application/problem+json")


def test_a_request_refused_before_running_stores_nothing(api: Api) -> None:
    bad = post(api, "/v1/customers", {"name": ""}, "k3")
    assert bad.status_code == 400
    assert post(api, "/v1/customers", {"name": "Ada"}, "k3").status_code == 201


def test_keys_are_per_owner(api: Api) -> None:
    shop = api.merchant()
    admin = api.merchant_key(shop, Scope.ADMIN)
    ours = post(api, "/v1/customers", {"name": "Ada"}, "same")
    theirs = post(api, "/v1/api-keys", {"name": "k", "scopes": ["read"]}, "same", admin)
    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers


def test_a_replayed_key_creation_never_shows_or_stores_the_secret(api: Api) -> None:
    first = post(api, "/v1/api-keys", {"name": "k", "scopes": ["read"]}, "k4")
    again = post(api, "/v1/api-keys", {"name": "k", "scopes": ["read"]}, "k4")
    secret = first.json()["secret"]
    assert secret.startswith("ck_") and again.json()["secret"] is None
    assert again.json()["id"] == first.json()["id"]
    with api.platform.read() as fetch:
        (stored,) = fetch("SELECT body FROM idempotency_keys", ())
    assert secret.encode() not in bytes(stored[0]) and secret[-43:].encode() not in bytes(stored[0])


def test_a_duplicate_in_flight_is_409(api: Api) -> None:
    gate, in_writer = threading.Event(), threading.Event()

    def hold_the_writer(_: object) -> None:
        in_writer.set()
        gate.wait(30)

    blocker = api.platform.ledger.submit_unit(hold_the_writer, 0)
    assert in_writer.wait(30)
    answers: list[Any] = []
    first = threading.Thread(
        target=lambda: answers.append(post(api, "/v1/customers", {"name": "Ada"}, "k5"))
    )
    first.start()
    try:
        for _ in range(3000):  # until the first request holds the key (bounded wait)
            if ("operator", "k5") in api.state.in_flight:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the first request never started")
        duplicate = post(api, "/v1/customers", {"name": "Ada"}, "k5")
        assert (duplicate.status_code, duplicate.json()["code"]) == (409, "idempotency_key_in_use")
    finally:
        gate.set()
        first.join(30)
        blocker.result(30)
    assert answers[0].status_code == 201
    assert count(api.platform, "customers") == 1
    assert ("operator", "k5") not in api.state.in_flight
    assert post(api, "/v1/customers", {"name": "Ada"}, "k5").status_code == 201  # a replay


def _render(result: Payment | Refusal) -> tuple[int, bytes]:
    if isinstance(result, Refusal):
        return 402, result.code.value.encode()
    return 201, msgspec.json.encode({"payment": result.id, "amount": result.amount})


def test_money_moves_once_however_often_the_request_is_retried(platform: Platform) -> None:
    payer, shop = customer(platform), merchant(platform, fee_bp=0)
    fund(platform, payer.id, "USD", 1_000)
    fingerprint = request_hash("POST", "/v1/payments", b'{"amount": "125"}')

    def attempt() -> Stored | KeyReused:
        # Every retry is a new request: a new operation with a new payment id.
        operation = create_payment(platform, PaymentRequest(payer.id, shop.id, "USD", 125))
        return platform.execute(idempotent(operation, "merchant:1", "pay-1", fingerprint, _render))

    answers = [attempt() for _ in range(3)]
    assert all(isinstance(a, Stored) for a in answers)
    stored = [a for a in answers if isinstance(a, Stored)]
    assert [a.replayed for a in stored] == [False, True, True]
    assert len({a.body for a in stored}) == 1
    assert balance(platform, AccountKind.CUSTOMER_WALLET, payer.id, "USD") == 875
    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, shop.id, "USD") == 125
    other = request_hash("POST", "/v1/payments", b'{"amount": "126"}')
    reused = platform.execute(
        idempotent(
            create_payment(platform, PaymentRequest(payer.id, shop.id, "USD", 126)),
            "merchant:1",
            "pay-1",
            other,
            _render,
        )
    )
    assert isinstance(reused, KeyReused)
    assert balance(platform, AccountKind.CUSTOMER_WALLET, payer.id, "USD") == 875


def test_a_unit_that_fails_stores_nothing_and_moves_nothing(platform: Platform) -> None:
    payer, shop = customer(platform), merchant(platform, fee_bp=0)
    fund(platform, payer.id, "USD", 1_000)
    fingerprint = request_hash("POST", "/v1/payments", b"{}")

    def broken(_: Payment | Refusal) -> tuple[int, bytes]:
        raise RuntimeError("rendering failed")  # a bug after the money moved, in the unit

    operation = create_payment(platform, PaymentRequest(payer.id, shop.id, "USD", 125))
    with pytest.raises(RuntimeError):
        platform.execute(idempotent(operation, "merchant:1", "k", fingerprint, broken))
    assert balance(platform, AccountKind.CUSTOMER_WALLET, payer.id, "USD") == 1_000
    assert count(platform, "idempotency_keys") == 0


def test_stored_answers_are_purged_after_a_day_a_bounded_number_at_a_time(
    api: Api, clock: FakeClock
) -> None:
    for index in range(5):
        assert post(api, "/v1/customers", {"name": f"C{index}"}, f"old-{index}").status_code == 201
    clock.advance(3600)
    assert post(api, "/v1/customers", {"name": "New"}, "new").status_code == 201
    clock.advance(24 * 3600 - 3600)
    assert api.platform.execute(purge_expired()) == 0  # exactly a day: kept
    clock.advance(1)
    assert api.platform.execute(purge_expired(rows_max=3)) == 3
    assert api.platform.execute(purge_expired(rows_max=3)) == 2
    assert api.platform.execute(purge_expired(rows_max=3)) == 0
    assert count(api.platform, "idempotency_keys") == 1


@given(
    st.sampled_from(["POST", "PATCH"]),
    st.sampled_from(["POST", "PATCH"]),
    st.text(max_size=20),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.binary(max_size=20),
)
def test_request_hashes_differ_when_requests_do(
    m1: str, m2: str, p1: str, p2: str, b1: bytes, b2: bytes
) -> None:
    same = (m1, p1, b1) == (m2, p2, b2)
    assert (request_hash(m1, p1, b1) == request_hash(m2, p2, b2)) == same


@pytest.mark.parametrize("text", ["", "x" * 256, "caf\u00e9", "a\nb", "\x7f"])
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(ProblemError) as raised:
        check_key(text, required=False)
    assert raised.value.code == "invalid_idempotency_key"


def test_a_required_key_must_be_there() -> None:
    assert check_key(None, required=False) is None
    assert check_key(" ~" * 100, required=True) == " ~" * 100
    with pytest.raises(ProblemError) as raised:
        check_key(None, required=True)
    assert (raised.value.status, raised.value.code) == (400, "idempotency_key_required")


def test_the_client_sends_a_new_key_per_post_unless_given_one(api: Api) -> None:
    client = api.operator
    a, b = client.create_customer("Ada"), client.create_customer("Ada")
    assert a.id != b.id  # two requests, two keys
    c = client.create_customer("Eve", idempotency_key="mine")
    d = client.create_customer("Eve", idempotency_key="mine")
    assert c == d


def test_a_route_that_moves_money_requires_the_key() -> None:
    @litestar.post("/pay")
    async def pay(idempotency_key: IdempotencyKeyRequired) -> str:
        return idempotency_key

    app = litestar.Litestar([pay], exception_handlers=exception_handlers())
    with TestClient(app) as http:
        missing = http.post("/pay")
        assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_required")
        assert missing.json()["errors"] == [{"field": "Idempotency-Key", "detail": "required"}]
        bad = http.post("/pay", headers={"Idempotency-Key": "x" * 256})
        assert bad.json()["code"] == "invalid_idempotency_key"
        assert http.post("/pay", headers={"Idempotency-Key": "k"}).text == "k"
        (parameter,) = http.get("/schema/openapi.json").json()["paths"]["/pay"]["post"][
            "parameters"
        ]
        assert (parameter["name"], parameter["required"]) == ("Idempotency-Key", True)
