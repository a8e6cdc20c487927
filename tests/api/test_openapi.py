"""The OpenAPI 3.1 document: served, valid, declaring every problem a route answers, and
the app's answers (problems included) match it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis

from centime.auth import Scope

from .conftest import Api

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    response = api.http.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()  # raises when it is not valid


def test_every_v1_route_takes_a_key_and_declares_its_problems(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["api_key"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("400", "500"):
                content = responses[status]["content"]["application/problem+json"]
                assert content["schema"]["$ref"] == PROBLEM_REF, (method, path, status)
            if path.startswith("/v1/") and not path.startswith("/v1/audit/"):
                assert operation["security"] == [{"api_key": []}], (method, path)
                assert {"401", "403", "429"} <= set(responses), (method, path)
            if method in ("post", "patch") and path.startswith("/v1/") and "audit" not in path:
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" in names, (method, path)


def test_money_is_declared_as_an_integer_string(document: dict[str, Any]) -> None:
    money = document["components"]["schemas"]["Money"]
    assert money["properties"]["value"]["type"] == "string"
    assert re.fullmatch(money["properties"]["value"]["pattern"], "125")
    assert not re.fullmatch(money["properties"]["value"]["pattern"], "1.25")


def test_the_docs_ui_is_served_offline(api: Api) -> None:
    """The reference page names no other host: its scripts, styles and icon come from this
    app (the swagger-ui-bundle package's files), so it works without internet."""
    response = api.http.get("/docs")
    assert response.status_code == 200 and "centime API" in response.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
    assert len(urls) >= 4, urls  # stylesheet, two scripts, icon
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = api.http.get(url)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    assert not re.search(r"https?://", response.text.split("spec:")[0])


def test_answers_match_the_document(api: Api, document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    customer = api.operator.create_customer("Ada", email="ada@example.com")
    shop = api.merchant()
    reader = api.merchant_key(shop, Scope.READ)
    headers = api.headers()
    calls: list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("POST", "/v1/customers", "/v1/customers", {"name": "Eve"}, headers),
        (
            "POST",
            "/v1/customers",
            "/v1/customers",
            {"name": "Eve", "email": "ada@example.com"},
            headers,
        ),
        ("POST", "/v1/customers", "/v1/customers", {"name": 5}, headers),
        ("GET", "/v1/customers", "/v1/customers?limit=1", None, headers),
        ("GET", "/v1/customers", "/v1/customers?limit=1000", None, headers),
        ("GET", "/v1/customers", "/v1/customers", None, {}),
        ("GET", "/v1/customers/{customer_id}", f"/v1/customers/{customer.id}", None, headers),
        ("GET", "/v1/customers/{customer_id}", "/v1/customers/cus_0000000000001", None, headers),
        (
            "PATCH",
            "/v1/customers/{customer_id}",
            f"/v1/customers/{customer.id}",
            {"status": "frozen"},
            headers,
        ),
        (
            "GET",
            "/v1/customers/{customer_id}/balances",
            f"/v1/customers/{customer.id}/balances",
            None,
            headers,
        ),
        ("GET", "/v1/merchants/me", "/v1/merchants/me", None, api.headers(reader)),
        ("GET", "/v1/merchants/me", "/v1/merchants/me", None, headers),
        ("GET", "/v1/merchants/{merchant_id}", f"/v1/merchants/{shop.id}", None, headers),
        (
            "PATCH",
            "/v1/merchants/{merchant_id}",
            f"/v1/merchants/{shop.id}",
            {"fee_fixed": [{"value": "100", "asset": "USD", "scale": 6}]},
            headers,
        ),
        ("POST", "/v1/api-keys", "/v1/api-keys", {"name": "k", "scopes": ["read"]}, headers),
        ("GET", "/v1/api-keys", "/v1/api-keys", None, headers),
        ("GET", "/healthz", "/healthz", None, {}),
        ("GET", "/readyz", "/readyz", None, {}),
        ("GET", "/v1/audit/tree-head", "/v1/audit/tree-head", None, {}),
    ]
    for method, template, url, body, sent in calls:
        operation = schema.find_operation_by_path(method, template)
        assert operation is not None, (method, template)
        response = api.http.request(method, url, json=body, headers=sent)
        operation.validate_response(response)  # raises on a mismatch
