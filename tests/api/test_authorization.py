"""The authorisation matrix: every scope of an operator key and of a merchant key against
every route, and merchant A against merchant B's resources (404: they do not exist for A)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from centime.auth import Scope

from .conftest import Api


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {customer}, {merchant} and {own_key} are filled in
    needs: Scope
    who: str  # "operator", "merchant" or "any"
    ok: int
    body: dict[str, Any] | None = None


ROUTES = [
    Route("POST", "/v1/customers", Scope.ADMIN, "operator", 201, {"name": "X"}),
    Route("GET", "/v1/customers", Scope.READ, "operator", 200),
    Route("GET", "/v1/customers/{customer}", Scope.READ, "operator", 200),
    Route("PATCH", "/v1/customers/{customer}", Scope.ADMIN, "operator", 200, {"kyc_tier": 2}),
    Route("GET", "/v1/customers/{customer}/balances", Scope.READ, "operator", 200),
    Route("POST", "/v1/merchants", Scope.ADMIN, "operator", 201, {"name": "X"}),
    Route("GET", "/v1/merchants", Scope.READ, "operator", 200),
    Route("GET", "/v1/merchants/{merchant}", Scope.READ, "any", 200),
    Route("GET", "/v1/merchants/{merchant}/balances", Scope.READ, "any", 200),
    Route("PATCH", "/v1/merchants/{merchant}", Scope.ADMIN, "operator", 200, {"fee_bp": 100}),
    Route("GET", "/v1/merchants/me", Scope.READ, "merchant", 200),
    Route("GET", "/v1/merchants/me/balances", Scope.READ, "merchant", 200),
    Route("POST", "/v1/api-keys", Scope.ADMIN, "any", 201, {"name": "k", "scopes": ["read"]}),
    Route("GET", "/v1/api-keys", Scope.ADMIN, "any", 200),
    Route("POST", "/v1/api-keys/{own_key}/revoke", Scope.ADMIN, "any", 200),
]


def expected(route: Route, kind: str, scope: Scope) -> int:
    if route.who not in ("any", kind):
        return 403
    if scope is not Scope.ADMIN and scope is not route.needs:
        return 403
    return route.ok


def test_every_scope_against_every_route(api: Api) -> None:
    customer = api.operator.create_customer("Ada")
    shop = api.merchant("A")
    principals: list[tuple[str, Scope, str, Callable[[], str]]] = []
    for scope in Scope:
        principals.append(("operator", scope, api.key(scope), lambda: api.key(Scope.READ)))
        principals.append((
            "merchant", scope, api.merchant_key(shop, scope),
            lambda: api.merchant_key(shop, Scope.READ),
        ))  # fmt: skip
    failures = []
    for kind, scope, token, own_key in principals:
        for route in ROUTES:
            key_id = own_key()[3:20] if "{own_key}" in route.path else ""
            path = route.path.format(customer=customer.id, merchant=shop.id, own_key=key_id)
            response = api.http.request(
                route.method, path, json=route.body, headers=api.headers(token)
            )
            want = expected(route, kind, scope)
            if response.status_code != want:
                failures.append((kind, scope.value, route.method, path, response.status_code))
    assert failures == []


def test_merchant_a_never_sees_merchant_b(api: Api) -> None:
    a, b = api.merchant("A"), api.merchant("B")
    a_token = api.merchant_key(a, Scope.ADMIN)
    a_admin, headers = api.client(a_token), api.headers(a_token)
    b_token = api.merchant_key(b, Scope.READ)
    b_key_id = b_token[3:20]
    for method, path, body, status, code in [
        ("GET", f"/v1/merchants/{b.id}", None, 404, "merchant_not_found"),
        ("GET", f"/v1/merchants/{b.id}/balances", None, 404, "merchant_not_found"),
        ("POST", f"/v1/api-keys/{b_key_id}/revoke", None, 404, "api_key_not_found"),
        ("POST", "/v1/api-keys", {"name": "x", "scopes": ["read"], "merchant_id": b.id}, 404,
         "merchant_not_found"),
        ("PATCH", f"/v1/merchants/{b.id}", {"fee_bp": 0}, 403, "forbidden"),
        ("GET", "/v1/merchants", None, 403, "forbidden"),
    ]:  # fmt: skip
        response = api.http.request(method, path, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), path
    # B's key still works; A lists only its own keys; B is unchanged.
    assert api.client(b_token).me() == b
    owners = {k.owner for k in a_admin.list_api_keys().data}
    assert owners == {a.id}
    assert api.operator.get_merchant(b.id) == b


def test_a_merchant_may_mint_only_scopes_it_holds(api: Api) -> None:
    shop = api.merchant()
    admin = api.client(api.merchant_key(shop, Scope.ADMIN))
    made = admin.create_api_key("reader", ["read", "payments"], merchant_id=shop.id)
    assert made.owner == shop.id and made.secret is not None
    reader = api.client(made.secret)
    assert reader.me() == shop
    revoked = admin.revoke_api_key(made.id)
    assert revoked.revoked_at is not None
    response = api.http.get("/v1/merchants/me", headers=api.headers(made.secret))
    assert response.status_code == 401  # at once


def test_the_operator_mints_keys_for_merchants_and_itself(api: Api) -> None:
    shop = api.merchant()
    for_shop = api.operator.create_api_key("shop", ["read"], merchant_id=shop.id)
    for_us = api.operator.create_api_key("ops", ["read"])
    assert (for_shop.owner, for_us.owner) == (shop.id, "operator")
    assert for_shop.secret and api.client(for_shop.secret).me() == shop
    listed = {k.id for k in api.operator.list_api_keys().data}
    assert for_us.id in listed and for_shop.id not in listed  # its own keys only
    assert api.operator.revoke_api_key(for_shop.id).revoked_at is not None  # any key
    bad = api.http.post("/v1/api-keys", json={"name": "x", "scopes": ["read"],
                                              "merchant_id": "cus_0000000000001"},
                        headers=api.headers())  # fmt: skip
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "merchant_id"
