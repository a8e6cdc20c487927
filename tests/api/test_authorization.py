"""The authorisation matrix: every scope of an operator key and of a merchant key against
every route, and merchant A against merchant B's resources (404: they do not exist for A)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from centime import wire
from centime.auth import Scope
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.platform.payments import Hold, HoldRequest, Mandate, authorize_hold, create_mandate
from centime.providers import SandboxProvider
from centime.providers.sandbox import CARD_SUCCEEDS
from tests.platform.world import snapshot

from .conftest import Api
from .money import cents, funded_customer, id_of, problem, shop


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {customer}, {merchant}, {own_key}... are filled in (see World)
    needs: Scope
    who: str  # "operator", "merchant" or "any"
    ok: int
    body: dict[str, Any] | None = None  # its strings are filled in as the path is


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
    # The money routes: a merchant's key acts for merchant {merchant} (its own), the
    # operator's for the customers; {hold}, {fresh_mandate} are made anew for each request.
    Route(
        "POST",
        "/v1/payments",
        Scope.PAYMENTS,
        "any",
        201,
        {
            "customer_id": "{customer}",
            "merchant_id": "{merchant}",
            "mandate_id": "{mandate}",
            "amount": "{cent}",
        },
    ),
    Route("GET", "/v1/payments", Scope.READ, "any", 200),
    Route("GET", "/v1/payments/{payment}", Scope.READ, "any", 200),
    Route(
        "POST",
        "/v1/payments/batch",
        Scope.PAYMENTS,
        "any",
        200,
        {
            "merchant_id": "{merchant}",
            "payments": [
                {"customer_id": "{customer}", "mandate_id": "{mandate}", "amount": "{cent}"}
            ],
        },
    ),
    Route(
        "POST", "/v1/payments/{payment}/refunds", Scope.REFUNDS, "any", 201, {"amount": "{cent}"}
    ),
    Route("GET", "/v1/refunds", Scope.READ, "any", 200),
    Route("GET", "/v1/refunds/{refund}", Scope.READ, "any", 200),
    Route(
        "POST",
        "/v1/mandates",
        Scope.PAYMENTS,
        "operator",
        201,
        {"customer_id": "{customer}", "merchant_id": "{merchant}", "amount_max_daily": "{cent}"},
    ),
    Route("POST", "/v1/mandates/{fresh_mandate}/revoke", Scope.PAYMENTS, "operator", 200),
    Route("GET", "/v1/mandates", Scope.READ, "any", 200),
    Route("GET", "/v1/mandates/{mandate}", Scope.READ, "any", 200),
    Route(
        "POST",
        "/v1/holds",
        Scope.PAYMENTS,
        "any",
        201,
        {
            "customer_id": "{customer}",
            "merchant_id": "{merchant}",
            "mandate_id": "{mandate}",
            "amount": "{cent}",
        },
    ),
    Route("POST", "/v1/holds/{hold}/capture", Scope.PAYMENTS, "any", 200, {"amount": "{cent}"}),
    Route("POST", "/v1/holds/{hold}/release", Scope.PAYMENTS, "any", 200),
    Route("GET", "/v1/holds", Scope.READ, "any", 200),
    Route("GET", "/v1/holds/{hold}", Scope.READ, "any", 200),
    Route(
        "POST",
        "/v1/transfers",
        Scope.PAYMENTS,
        "operator",
        201,
        {"sender_id": "{customer}", "recipient_id": "{recipient}", "amount": "{cent}"},
    ),
    Route("GET", "/v1/transfers", Scope.READ, "operator", 200),
    Route("GET", "/v1/transfers/{transfer}", Scope.READ, "operator", 200),
    Route(
        "POST",
        "/v1/topups",
        Scope.PAYMENTS,
        "operator",
        201,
        {
            "customer_id": "{recipient}",
            "amount": "{cent}",
            "method": "card",
            "instrument": CARD_SUCCEEDS,
        },
    ),
    Route("POST", "/v1/topups/{topup}/retry", Scope.PAYMENTS, "operator", 200),
    Route("GET", "/v1/topups", Scope.READ, "operator", 200),
    Route("GET", "/v1/topups/{topup}", Scope.READ, "operator", 200),
]


class World:
    """The rows the routes name: a funded customer with a mandate to merchant A, a payment,
    a refund, a transfer and a top-up; holds and mandates made anew on demand."""

    def __init__(self, api: Api, merchant: wire.Merchant) -> None:
        self.api = api
        api.platform.providers.funding["sandbox"] = SandboxProvider(api.platform.clock)
        operator = api.operator
        self.merchant = merchant
        self.customer = funded_customer(api, 100_000)
        self.recipient = funded_customer(api, 0)
        self.mandate = operator.create_mandate(self.customer.id, merchant.id, cents(100_000))
        self.payment = operator.create_payment(
            self.customer.id, cents(1_000), merchant_id=merchant.id
        )
        self.refund = operator.refund_payment(self.payment.id, amount=cents(1))
        self.transfer = operator.create_transfer(self.customer.id, self.recipient.id, cents(1))
        self.topup = operator.create_topup(self.recipient.id, cents(1), "card", CARD_SUCCEEDS)

    def fresh_hold(self) -> str:
        platform = self.api.platform
        made = platform.execute(
            authorize_hold(
                platform,
                HoldRequest(
                    id_of("cus", self.customer.id), id_of("mer", self.merchant.id), "USD", 10_000
                ),
            )
        )
        assert isinstance(made, Hold), made
        return format_id("hold", made.id)

    def fresh_mandate(self) -> str:
        platform = self.api.platform
        made = platform.execute(
            create_mandate(
                platform, id_of("cus", self.customer.id), id_of("mer", self.merchant.id), "USD", 1
            )
        )
        assert isinstance(made, Mandate), made
        return format_id("man", made.id)

    def values(self, **more: Any) -> dict[str, Any]:
        """What a request's placeholders are filled with (fresh rows made only if named)."""
        world = self

        class Values(dict[str, Any]):
            def __missing__(self, name: str) -> Any:
                made = {"hold": world.fresh_hold, "fresh_mandate": world.fresh_mandate}[name]()
                self[name] = made
                return made

        return Values(
            customer=self.customer.id,
            recipient=self.recipient.id,
            merchant=self.merchant.id,
            mandate=self.mandate.id,
            payment=self.payment.id,
            refund=self.refund.id,
            transfer=self.transfer.id,
            topup=self.topup.id,
            cent={"value": "10000", "asset": "USD", "scale": 6},
            **more,
        )


def fill(template: Any, values: dict[str, Any]) -> Any:
    """``template`` with every ``"{name}"`` string replaced by its value (whole strings
    become the value itself, so that an amount can be an object)."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return values[template[1:-1]]
    return template


def expected(route: Route, kind: str, scope: Scope) -> int:
    if route.who not in ("any", kind):
        return 403
    if scope is not Scope.ADMIN and scope is not route.needs:
        return 403
    return route.ok


def test_every_scope_against_every_route(api: Api) -> None:
    shop = api.merchant("A")
    world = World(api, shop)
    principals: list[tuple[str, Scope, str, Callable[[], str]]] = []
    for scope in Scope:
        principals.append(("operator", scope, api.key(scope), lambda: api.key(Scope.READ)))
        principals.append(
            (
                "merchant",
                scope,
                api.merchant_key(shop, scope),
                lambda: api.merchant_key(shop, Scope.READ),
            )
        )
    failures = []
    for kind, scope, token, own_key in principals:
        for route in ROUTES:
            key_id = own_key()[3:20] if "{own_key}" in route.path else ""
            values = world.values(own_key=key_id)
            path = route.path.format_map(values)
            # Every POST and PATCH with a key of its own (the money routes require one).
            headers = api.headers(token, **{"Idempotency-Key": str(uuid.uuid4())})
            response = api.http.request(
                route.method, path, json=fill(route.body, values), headers=headers
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
        (
            "POST",
            "/v1/api-keys",
            {"name": "x", "scopes": ["read"], "merchant_id": b.id},
            404,
            "merchant_not_found",
        ),
        ("PATCH", f"/v1/merchants/{b.id}", {"fee_bp": 0}, 403, "forbidden"),
        ("GET", "/v1/merchants", None, 403, "forbidden"),
    ]:
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
    bad = api.http.post(
        "/v1/api-keys",
        json={"name": "x", "scopes": ["read"], "merchant_id": "cus_0000000000001"},
        headers=api.headers(),
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "merchant_id"


def test_merchant_a_never_sees_or_moves_merchant_bs_money(api: Api) -> None:
    """Every money route that names a resource of merchant B answers merchant A (with every
    scope) as if it did not exist, and changes nothing; A's listings hold only A's rows."""
    a, b = shop(api, "A"), shop(api, "B")
    world = World(api, b.merchant)  # B's payment, refund, mandate; holds of B made below
    hold = world.fresh_hold()
    a_all = api.client(api.merchant_key(a.merchant, Scope.ADMIN))
    before = snapshot(api.platform)
    for call, args, code in [
        (a_all.get_payment, (world.payment.id,), "payment_not_found"),
        (a_all.refund_payment, (world.payment.id,), "payment_not_found"),
        (a_all.get_refund, (world.refund.id,), "refund_not_found"),
        (a_all.get_mandate, (world.mandate.id,), "mandate_not_found"),
        (a_all.get_hold, (hold,), "hold_not_found"),
        (a_all.capture_hold, (hold, cents(1)), "hold_not_found"),
        (a_all.release_hold, (hold,), "hold_not_found"),
    ]:
        assert problem(call, *args) == (404, code), call.__name__
    for listing in (a_all.list_payments, a_all.list_holds, a_all.list_mandates):
        assert problem(listing, merchant_id=b.id) == (404, "merchant_not_found")
        assert listing().data == []
    assert a_all.list_refunds(payment_id=world.payment.id).data == []
    # A cannot charge B's customer under B's mandate, nor pay itself as B.
    assert problem(
        a_all.create_payment, world.customer.id, cents(1), mandate_id=world.mandate.id
    ) == (404, "mandate_not_found")
    assert problem(
        a_all.create_payment,
        world.customer.id,
        cents(1),
        merchant_id=b.id,
        mandate_id=world.mandate.id,
    ) == (404, "merchant_not_found")
    assert problem(a_all.create_hold, world.customer.id, cents(1), mandate_id=world.mandate.id) == (
        404,
        "mandate_not_found",
    )
    assert snapshot(api.platform) == before


def test_an_app_with_an_unguarded_route_refuses_to_start(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: a /v1 route without a requires() guard would be open to anyone."""
    from litestar import get

    import centime.server as app_module

    @get("/open", sync_to_thread=False)
    def open_route() -> dict[str, str]:
        return {}

    monkeypatch.setattr(app_module, "api_routes", [*app_module.api_routes, open_route])
    with pytest.raises(RuntimeError, match="/v1/open has no requires"):
        app_module.create_app(platform)
