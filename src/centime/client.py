"""The typed Python client of the centime HTTP API (on httpx).

    >>> from centime import Client
    >>> with Client("http://127.0.0.1:8000", "ck_key_...") as client:   # doctest: +SKIP
    ...     customer = client.create_customer("Ada", email="ada@example.com")
    ...     page = client.list_customers(limit=50)

Every method returns the wire Struct of :mod:`centime.api.wire` the server answers with,
and raises :class:`ProblemError` (status, code, detail) for an error answer. Every POST
and PATCH carries an ``Idempotency-Key`` (a new UUID unless you pass one): pass your own
and send the request again after a timeout, and you get the first answer, never a second
payment. The client does not retry by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx
import msgspec

from centime import __version__
from centime.api import wire

__all__ = ["Client", "ProblemError"]

T = TypeVar("T")

DEFAULT_TIMEOUT_S: Final = 30.0
_IDEMPOTENT_METHODS: Final = frozenset({"POST", "PATCH"})


class ProblemError(Exception):
    """An error answer of the API: its status, stable ``code`` and ``detail`` (and the
    field errors, for a bad request)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: Sequence[wire.FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def _unset(value: Any) -> Any:
    return wire.UNSET if value is None else value


class Client:
    """One API key's view of a centime server. Thread-safe as httpx.Client is; close it
    (or use it as a context manager) when done."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"centime-python/{__version__}",
                "Accept": "application/json",
            },
            transport=transport,
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- the wire

    def request(
        self,
        method: str,
        path: str,
        result: type[T],
        *,
        body: msgspec.Struct | None = None,
        params: Mapping[str, str | int] | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        """Send a request and decode its answer as ``result`` (or raise ProblemError)."""
        headers: dict[str, str] = {}
        if method in _IDEMPOTENT_METHODS:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        content = None
        if body is not None:
            content = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, path, content=content, headers=headers,
                                      params=query)  # fmt: skip
        if response.status_code >= 400:
            raise _problem(response)
        return msgspec.json.decode(response.content, type=result)

    # ----------------------------------------------------------------- customers

    def create_customer(
        self, name: str, *, email: str | None = None, kyc_tier: int = 1,
        idempotency_key: str | None = None,
    ) -> wire.Customer:  # fmt: skip
        body = wire.CustomerCreate(name=name, email=email, kyc_tier=kyc_tier)
        return self.request("POST", "/v1/customers", wire.Customer, body=body,
                            idempotency_key=idempotency_key)  # fmt: skip

    def get_customer(self, customer_id: str) -> wire.Customer:
        return self.request("GET", f"/v1/customers/{customer_id}", wire.Customer)

    def list_customers(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.CustomerPage:
        return self.request("GET", "/v1/customers", wire.CustomerPage,
                            params=_page(limit, cursor))  # fmt: skip

    def update_customer(
        self, customer_id: str, *, status: str | None = None, kyc_tier: int | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Customer:  # fmt: skip
        body = wire.CustomerUpdate(status=_unset(status), kyc_tier=_unset(kyc_tier))
        return self.request("PATCH", f"/v1/customers/{customer_id}", wire.Customer, body=body,
                            idempotency_key=idempotency_key)  # fmt: skip

    def customer_balances(self, customer_id: str) -> wire.CustomerBalances:
        return self.request("GET", f"/v1/customers/{customer_id}/balances",
                            wire.CustomerBalances)  # fmt: skip

    # ----------------------------------------------------------------- merchants

    def create_merchant(
        self, name: str, *, email: str | None = None, kyc_tier: int = 1,
        fee_bp: int | None = None, fee_fixed: Sequence[wire.Money] = (),
        idempotency_key: str | None = None,
    ) -> wire.Merchant:  # fmt: skip
        body = wire.MerchantCreate(name=name, email=email, kyc_tier=kyc_tier,
                                   fee_bp=_unset(fee_bp), fee_fixed=list(fee_fixed))  # fmt: skip
        return self.request("POST", "/v1/merchants", wire.Merchant, body=body,
                            idempotency_key=idempotency_key)  # fmt: skip

    def get_merchant(self, merchant_id: str) -> wire.Merchant:
        return self.request("GET", f"/v1/merchants/{merchant_id}", wire.Merchant)

    def list_merchants(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.MerchantPage:
        return self.request("GET", "/v1/merchants", wire.MerchantPage,
                            params=_page(limit, cursor))  # fmt: skip

    def update_merchant(
        self, merchant_id: str, *, status: str | None = None, kyc_tier: int | None = None,
        fee_bp: int | None = None, fee_fixed: Sequence[wire.Money] | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Merchant:  # fmt: skip
        body = wire.MerchantUpdate(
            status=_unset(status), kyc_tier=_unset(kyc_tier), fee_bp=_unset(fee_bp),
            fee_fixed=wire.UNSET if fee_fixed is None else list(fee_fixed),
        )  # fmt: skip
        return self.request("PATCH", f"/v1/merchants/{merchant_id}", wire.Merchant, body=body,
                            idempotency_key=idempotency_key)  # fmt: skip

    def merchant_balances(self, merchant_id: str) -> wire.MerchantBalances:
        return self.request("GET", f"/v1/merchants/{merchant_id}/balances",
                            wire.MerchantBalances)  # fmt: skip

    def me(self) -> wire.Merchant:
        """The merchant whose key this client holds."""
        return self.request("GET", "/v1/merchants/me", wire.Merchant)

    def my_balances(self) -> wire.MerchantBalances:
        return self.request("GET", "/v1/merchants/me/balances", wire.MerchantBalances)

    # ----------------------------------------------------------------- API keys

    def create_api_key(
        self, name: str, scopes: Sequence[str], *, merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.ApiKeyCreated:  # fmt: skip
        """A new key; its ``secret`` is in this answer only."""
        body = wire.ApiKeyCreate(name=name, scopes=list(scopes),  # type: ignore[arg-type]
                                 merchant_id=_unset(merchant_id))  # fmt: skip
        return self.request("POST", "/v1/api-keys", wire.ApiKeyCreated, body=body,
                            idempotency_key=idempotency_key)  # fmt: skip

    def list_api_keys(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.ApiKeyPage:
        return self.request("GET", "/v1/api-keys", wire.ApiKeyPage,
                            params=_page(limit, cursor))  # fmt: skip

    def revoke_api_key(self, key_id: str, *, idempotency_key: str | None = None) -> wire.ApiKey:
        return self.request("POST", f"/v1/api-keys/{key_id}/revoke", wire.ApiKey,
                            idempotency_key=idempotency_key)  # fmt: skip

    # ----------------------------------------------------------------- operations

    def health(self) -> wire.Health:
        return self.request("GET", "/healthz", wire.Health)

    def ready(self) -> wire.Health:
        return self.request("GET", "/readyz", wire.Health)


def _page(limit: int | None, cursor: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    return params


def _problem(response: httpx.Response) -> ProblemError:
    """The error an answer carries: its problem document, or what can be said without."""
    try:
        problem = msgspec.json.decode(response.content, type=wire.Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ProblemError(response.status_code, f"http_{response.status_code}",
                            response.text[:200], headers=response.headers)  # fmt: skip
    return ProblemError(response.status_code, problem.code, problem.detail, problem.errors,
                        headers=response.headers)  # fmt: skip
