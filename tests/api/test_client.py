"""The typed client: every route's method, typed results, problems as ProblemError; the
package's public names pinned."""

from __future__ import annotations

import pytest

import centime
from centime import client as client_module
from centime import wire
from centime.client import Client, ProblemError

from .conftest import Api


def test_the_public_names_are_pinned() -> None:
    assert centime.__all__ == ["Client", "ProblemError", "__version__"]
    assert centime.Client is Client and centime.ProblemError is ProblemError
    assert client_module.__all__ == ["Client", "HeldForReview", "ProblemError"]
    with pytest.raises(AttributeError):
        centime.Nothing  # type: ignore[attr-defined]  # noqa: B018


def test_every_method_returns_its_typed_result(api: Api) -> None:
    ops = api.operator
    customer = ops.create_customer("Ada", email="ada@example.com", kyc_tier=2)
    assert isinstance(customer, wire.Customer) and customer.id.startswith("cus_")
    assert ops.get_customer(customer.id) == customer
    assert ops.list_customers(limit=5).data == [customer]
    frozen = ops.update_customer(customer.id, status="frozen", kyc_tier=1)
    assert (frozen.status, frozen.kyc_tier) == ("frozen", 1)
    assert ops.customer_balances(customer.id) == wire.CustomerBalances(data=[])
    fee = wire.money(100, "USD")
    shop = ops.create_merchant("Shop", fee_bp=150, fee_fixed=[fee])
    assert (shop.fee_bp, shop.fee_fixed) == (150, [fee])
    changed = ops.update_merchant(shop.id, fee_fixed=[wire.money(7, "EUR")], fee_bp=0)
    assert changed.fee_bp == 0 and len(changed.fee_fixed) == 2
    assert ops.get_merchant(shop.id) == changed
    assert ops.list_merchants().data == [changed]
    assert ops.merchant_balances(shop.id).data == []
    made = ops.create_api_key("shop", ["read"], merchant_id=shop.id)
    assert isinstance(made, wire.ApiKeyCreated) and made.secret
    with api.client(made.secret) as merchant:
        assert merchant.me() == changed and merchant.my_balances().data == []
    assert isinstance(ops.list_api_keys(), wire.ApiKeyPage)
    assert ops.revoke_api_key(made.id).revoked_at is not None
    assert ops.health().status == "ok" and ops.ready().status == "ready"


def test_errors_are_problem_errors_with_code_and_fields(api: Api) -> None:
    with pytest.raises(ProblemError) as missing:
        api.operator.get_customer("cus_0000000000001")
    assert (missing.value.status, missing.value.code) == (404, "customer_not_found")
    with pytest.raises(ProblemError) as bad:
        api.operator.create_merchant("Shop", fee_fixed=[wire.Money("1", "USD", 2)])
    assert bad.value.code == "invalid_amount" and bad.value.errors[0].field == "fee_fixed[0].scale"
    with pytest.raises(ProblemError) as unauthorized:
        api.client("ck_not_a_key").list_customers()
    assert unauthorized.value.status == 401
    assert "x-request-id" in unauthorized.value.headers


def test_an_answer_that_is_not_a_problem_document_still_raises() -> None:
    import httpx

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    broken = Client("http://x", "ck_x", transport=httpx.MockTransport(handler))
    with broken, pytest.raises(ProblemError) as raised:
        broken.health()
    assert (raised.value.status, raised.value.code) == (502, "http_502")


def test_only_a_202_in_review_is_a_hold() -> None:
    """202 also answers work accepted and under way (a webhook test queued): only an answer
    whose status is in_review raises HeldForReview."""
    import httpx

    from centime.client import HeldForReview

    held = (
        b'{"status":"in_review","case_id":"case_1","object":"payment","id":"pay_1",'
        b'"amount":{"value":"5","asset":"USD","scale":6},"reasons":["r"],'
        b'"created_at":"2027-01-15T00:00:00Z"}'
    )
    queued = b'{"status":"ok"}'
    answers = iter([held, queued])

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(202, content=next(answers))

    with Client("http://x", "ck_x", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(HeldForReview):
            client.health()
        assert client.health().status == "ok"
