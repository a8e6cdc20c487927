"""Every error is a problem document with a stable code; every refusal code has a status;
no request crashes the server, and a 500 reveals nothing but its request id."""

from __future__ import annotations

import msgspec
import pytest

from centime import wire
from centime.client import ProblemError
from centime.http import problems as errors
from centime.http.problems import API_STATUS, REFUSAL_STATUS, ApiCode, refusal_problem, status_of
from centime.platform import parties
from centime.platform.errors import Code, Refusal

from .conftest import Api

PROBLEM_JSON = "application/problem+json"


def problem(response: object) -> wire.Problem:
    assert response.headers["content-type"].startswith(PROBLEM_JSON)  # type: ignore[attr-defined]
    document = msgspec.json.decode(response.content, type=wire.Problem)  # type: ignore[attr-defined]
    assert document.status == response.status_code  # type: ignore[attr-defined]
    assert document.type == f"https://centime.dev/problems/{document.code}"
    assert document.title and document.detail
    return document


def test_every_refusal_code_has_one_status() -> None:
    assert set(REFUSAL_STATUS) == set(Code)
    assert set(API_STATUS) == set(ApiCode)
    for code, status in REFUSAL_STATUS.items():
        assert 400 <= status <= 599, code
        if code.value.endswith("_not_found"):
            assert status == 404, code
    statuses = {code.value: status for code, status in REFUSAL_STATUS.items()}
    for code in ApiCode:  # a code shared by both tables means the same status
        assert statuses.get(code.value, API_STATUS[code]) == API_STATUS[code]


def test_refusals_become_their_problem() -> None:
    for code in Code:
        status, body = refusal_problem(Refusal(code, "why"))
        document = msgspec.json.decode(body, type=wire.Problem)
        assert (document.status, document.code, document.detail) == (status, code.value, "why")
        assert status == REFUSAL_STATUS[code]


def test_an_unmapped_code_still_gets_a_sensible_status() -> None:
    assert status_of("widget_not_found") == 404
    assert status_of("widget_exploded") == 422


def test_request_problems_each_with_their_code(api: Api) -> None:
    http, headers = api.http, api.headers()
    json = {**headers, "Content-Type": "application/json"}
    cases = [
        (http.post("/v1/customers", headers=json, content=b'{"name": 5}'), 400, "invalid_request"),
        (
            http.post("/v1/customers", headers=json, content=b'{"name": "A", "x": 1}'),
            400,
            "invalid_request",
        ),
        (http.post("/v1/customers", headers=json, content=b"{"), 400, "invalid_request"),
        (http.post("/v1/customers", headers=headers), 400, "invalid_request"),
        (
            http.post("/v1/customers", headers=headers, content=b'{"name": "A"}'),
            415,
            "unsupported_media_type",
        ),
        (http.get("/v1/customers?limit=x", headers=headers), 400, "invalid_request"),
        (http.get("/v1/customers?cursor=AAAA", headers=headers), 400, "invalid_cursor"),
        (http.get("/v1/customers"), 401, "unauthorized"),
        (
            http.get("/v1/customers", headers={"Authorization": "Bearer ck_nope"}),
            401,
            "unauthorized",
        ),
        (http.get("/v1/customers", headers={"Authorization": "Basic eDp5"}), 401, "unauthorized"),
        (http.get("/v1/merchants/me", headers=headers), 403, "forbidden"),
        (http.get("/v1/nothing-here", headers=headers), 404, "not_found"),
        (http.get("/v1/customers/cus_0000000000001", headers=headers), 404, "customer_not_found"),
        (http.get("/v1/customers/pay_0000000000001", headers=headers), 404, "customer_not_found"),
        (http.delete("/v1/customers", headers=headers), 405, "method_not_allowed"),
        (
            http.post(
                "/v1/customers",
                headers={**json, "Idempotency-Key": "\x01"},
                content=b'{"name": "A"}',
            ),
            400,
            "invalid_idempotency_key",
        ),
    ]
    for response, status, code in cases:
        document = problem(response)
        assert (response.status_code, document.code) == (status, code), response.text
    unauthorized = cases[7][0]
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")
    assert "GET" in cases[-2][0].headers["allow"]


def test_field_errors_name_the_field(api: Api) -> None:
    response = api.http.post(
        "/v1/merchants",
        headers=api.headers(),
        json={"name": "Shop", "fee_fixed": [{"value": "1", "asset": "USD", "scale": "6"}]},
    )
    document = problem(response)
    assert [e.field for e in document.errors] == ["fee_fixed[0].scale"]


def test_a_state_conflict_is_409_and_changes_nothing(api: Api) -> None:
    api.operator.create_customer("Ada", email="ada@example.com")
    with pytest.raises(ProblemError) as raised:
        api.operator.create_customer("Eve", email="ada@example.com")
    assert (raised.value.status, raised.value.code) == (409, "email_taken")
    assert [c.name for c in api.operator.list_customers().data] == ["Ada"]


def test_body_too_large_is_413(api: Api) -> None:
    big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    response = api.http.post(
        "/v1/customers", headers=api.headers(**{"Content-Type": "application/json"}), content=big
    )
    assert response.status_code == 413 and problem(response).code == "body_too_large"


def test_a_bug_is_a_500_that_reveals_nothing_and_the_server_goes_on(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    customer = api.operator.create_customer("Ada")

    def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(parties, "get_customer", broken)
    response = api.http.get(f"/v1/customers/{customer.id}", headers=api.headers())
    document = problem(response)
    assert (response.status_code, document.code) == (500, "internal_error")
    assert "secret" not in response.text
    request_id = response.headers["x-request-id"]
    assert request_id in document.detail
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
    monkeypatch.undo()
    assert api.operator.get_customer(customer.id) == customer


def test_a_clients_request_id_is_kept_when_it_is_plain(api: Api) -> None:
    kept = api.http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = api.http.get("/healthz", headers={"X-Request-Id": "a b;" + "x" * 100})
    assert replaced.headers["x-request-id"] and " " not in replaced.headers["x-request-id"]


def test_problems_declare_every_status_a_route_may_answer() -> None:
    declared = errors.problems(404)
    assert sorted(declared) == [400, 401, 403, 404, 429, 500, 503]
    assert sorted(errors.problems(public=True)) == [400, 500]
