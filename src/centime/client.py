"""The typed Python client of the centime HTTP API (on httpx).

    >>> from centime import Client
    >>> with Client("http://127.0.0.1:8000", "ck_key_...") as client:   # doctest: +SKIP
    ...     customer = client.create_customer("Ada", email="ada@example.com")
    ...     page = client.list_customers(limit=50)

Every method returns the wire Struct of :mod:`centime.wire` the server answers with,
and raises :class:`ProblemError` (status, code, detail) for an error answer, and
:class:`HeldForReview` (with the ``202`` answer: the case) when the risk screen held the
request for an analyst (docs/api.md). Every POST
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

from centime import wire
from centime.version import __version__
from centime.wire import pricing as pw

__all__ = ["Client", "HeldForReview", "ProblemError"]

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


class _Status(msgspec.Struct):
    """Just the ``status`` of an answer (the rest ignored)."""

    status: str | None = None


class HeldForReview(Exception):  # noqa: N818 (not an error: an answer of its own kind)
    """The risk screen held the request for review (``202``): nothing was refused, nothing
    happened yet; ``answer`` names the case and the id the object will have."""

    def __init__(self, answer: wire.InReview) -> None:
        super().__init__(f"held for review: {answer.case_id} ({', '.join(answer.reasons)})")
        self.answer = answer


def _confirmation(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Centime-Confirmation": token}


B = TypeVar("B", bound=msgspec.Struct)


def _body(body_type: type[B], arguments: Mapping[str, Any]) -> B:
    """The request body ``body_type`` made of a method's ``arguments`` (its ``locals()``)
    of the same names as its fields: each method's parameters are the body's fields, so
    they are named once, in the signature its users read. An argument left None stands for
    the field's default (the server's: left out of the JSON, or null). A field no argument
    names is a KeyError at the first call: a renamed parameter cannot be dropped silently."""
    given = {}
    for field in msgspec.structs.fields(body_type):
        value = arguments[field.name]
        if value is not None or field.required:
            given[field.name] = value
    return body_type(**given)


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
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send a request and decode its answer as ``result`` (or raise ProblemError)."""
        headers = dict(headers or {})
        if method in _IDEMPOTENT_METHODS:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        content = None
        if body is not None:
            content = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, path, content=content, headers=headers, params=query)
        if response.status_code >= 400:
            raise _problem(response)
        if response.status_code == 202 and result is not wire.InReview:
            # 202 is also "accepted, under way" (a webhook test queued): only an answer with
            # status in_review is a hold by the risk screen.
            held = msgspec.json.decode(response.content, type=_Status)
            if held.status == "in_review":
                raise HeldForReview(msgspec.json.decode(response.content, type=wire.InReview))
        return msgspec.json.decode(response.content, type=result)

    # ----------------------------------------------------------------- customers

    def create_customer(
        self,
        name: str,
        *,
        email: str | None = None,
        kyc_tier: int = 1,
        idempotency_key: str | None = None,
        referral_code: str | None = None,
        device_id: str | None = None,
    ) -> wire.Customer:
        body = _body(wire.CustomerCreate, locals())
        return self.request(
            "POST", "/v1/customers", wire.Customer, body=body, idempotency_key=idempotency_key
        )

    def get_customer(self, customer_id: str) -> wire.Customer:
        return self.request("GET", f"/v1/customers/{customer_id}", wire.Customer)

    def list_customers(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.CustomerPage:
        return self.request("GET", "/v1/customers", wire.CustomerPage, params=_page(limit, cursor))

    def update_customer(
        self,
        customer_id: str,
        *,
        status: str | None = None,
        kyc_tier: int | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Customer:
        body = _body(wire.CustomerUpdate, locals())
        return self.request(
            "PATCH",
            f"/v1/customers/{customer_id}",
            wire.Customer,
            body=body,
            idempotency_key=idempotency_key,
        )

    def customer_balances(self, customer_id: str) -> wire.CustomerBalances:
        return self.request("GET", f"/v1/customers/{customer_id}/balances", wire.CustomerBalances)

    # ----------------------------------------------------------------- merchants

    def create_merchant(
        self,
        name: str,
        *,
        email: str | None = None,
        kyc_tier: int = 1,
        fee_bp: int | None = None,
        fee_fixed: Sequence[wire.Money] = (),
        idempotency_key: str | None = None,
        referral_code: str | None = None,
        device_id: str | None = None,
    ) -> wire.Merchant:
        body = _body(wire.MerchantCreate, locals())
        return self.request(
            "POST", "/v1/merchants", wire.Merchant, body=body, idempotency_key=idempotency_key
        )

    def get_merchant(self, merchant_id: str) -> wire.Merchant:
        return self.request("GET", f"/v1/merchants/{merchant_id}", wire.Merchant)

    def list_merchants(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.MerchantPage:
        return self.request("GET", "/v1/merchants", wire.MerchantPage, params=_page(limit, cursor))

    def update_merchant(
        self,
        merchant_id: str,
        *,
        status: str | None = None,
        kyc_tier: int | None = None,
        fee_bp: int | None = None,
        fee_fixed: Sequence[wire.Money] | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Merchant:
        body = _body(wire.MerchantUpdate, locals())
        return self.request(
            "PATCH",
            f"/v1/merchants/{merchant_id}",
            wire.Merchant,
            body=body,
            idempotency_key=idempotency_key,
        )

    def merchant_balances(self, merchant_id: str) -> wire.MerchantBalances:
        return self.request("GET", f"/v1/merchants/{merchant_id}/balances", wire.MerchantBalances)

    def me(self) -> wire.Merchant:
        """The merchant whose key this client holds."""
        return self.request("GET", "/v1/merchants/me", wire.Merchant)

    def my_balances(self) -> wire.MerchantBalances:
        return self.request("GET", "/v1/merchants/me/balances", wire.MerchantBalances)

    # ----------------------------------------------------------------- API keys

    def create_api_key(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.ApiKeyCreated:
        """A new key; its ``secret`` is in this answer only."""
        body = _body(wire.ApiKeyCreate, locals())
        return self.request(
            "POST", "/v1/api-keys", wire.ApiKeyCreated, body=body, idempotency_key=idempotency_key
        )

    def list_api_keys(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.ApiKeyPage:
        return self.request("GET", "/v1/api-keys", wire.ApiKeyPage, params=_page(limit, cursor))

    def revoke_api_key(self, key_id: str, *, idempotency_key: str | None = None) -> wire.ApiKey:
        return self.request(
            "POST", f"/v1/api-keys/{key_id}/revoke", wire.ApiKey, idempotency_key=idempotency_key
        )

    # ----------------------------------------------------------------- operations

    def health(self) -> wire.Health:
        return self.request("GET", "/healthz", wire.Health)

    def ready(self) -> wire.Health:
        return self.request("GET", "/readyz", wire.Health)

    # ----------------------------------------------------------------- the audit log
    # Documents as the server signs and proves them (docs/audit.md); verify them with
    # centime.audit (or `centime audit check-proof`), not by trusting this client.

    def audit_tree_head(self) -> dict[str, Any]:
        """The audit log's latest signed tree head."""
        return self.request("GET", "/v1/audit/tree-head", dict[str, Any])

    def audit_inclusion_proof(
        self, transfer_id: int, tree_size: int | None = None
    ) -> dict[str, Any]:
        """The inclusion proof of a ledger transfer in the tree of ``tree_size`` leaves
        (default: the latest signed head's)."""
        params: dict[str, str | int] = {"transfer_id": transfer_id}
        if tree_size is not None:
            params["tree_size"] = tree_size
        return self.request("GET", "/v1/audit/inclusion-proof", dict[str, Any], params=params)

    def audit_consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        """The proof that the tree of ``first`` leaves is a prefix of that of ``second``."""
        return self.request(
            "GET",
            "/v1/audit/consistency-proof",
            dict[str, Any],
            params={"first": first, "second": second},
        )

    def audit_keys(self) -> dict[str, Any]:
        """Every public key that ever signed a tree head, oldest first."""
        return self.request("GET", "/.well-known/centime-audit-keys.json", dict[str, Any])

    # ----------------------------------------------------------------- payments

    def create_payment(
        self,
        customer_id: str,
        amount: wire.Money,
        *,
        merchant_id: str | None = None,
        mandate_id: str | None = None,
        description: str | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
        promo_code: str | None = None,
    ) -> wire.Payment:
        """A merchant's key charges under ``mandate_id`` (and is the merchant); the
        operator's key names ``merchant_id``. ``promo_code``: a promotion code's discount."""
        body = _body(wire.PaymentCreate, locals())
        return self.request(
            "POST", "/v1/payments", wire.Payment, body=body, idempotency_key=idempotency_key
        )

    def create_payment_batch(
        self,
        payments: Sequence[wire.BatchPayment],
        *,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.PaymentBatch:
        """Up to 8189 payments; one result per payment, in order."""
        body = _body(wire.PaymentBatchCreate, locals())
        return self.request(
            "POST",
            "/v1/payments/batch",
            wire.PaymentBatch,
            body=body,
            idempotency_key=idempotency_key,
        )

    def get_payment(self, payment_id: str) -> wire.Payment:
        return self.request("GET", f"/v1/payments/{payment_id}", wire.Payment)

    def list_payments(
        self,
        *,
        merchant_id: str | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.PaymentPage:
        params = _query(limit, cursor, merchant_id=merchant_id, customer_id=customer_id)
        return self.request("GET", "/v1/payments", wire.PaymentPage, params=params)

    # ----------------------------------------------------------------- refunds

    def refund_payment(
        self,
        payment_id: str,
        *,
        amount: wire.Money | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Refund:
        """Refund ``amount`` of the payment, or (None) all that is not refunded yet."""
        body = _body(wire.RefundCreate, locals())
        return self.request(
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            wire.Refund,
            body=body,
            idempotency_key=idempotency_key,
        )

    def get_refund(self, refund_id: str) -> wire.Refund:
        return self.request("GET", f"/v1/refunds/{refund_id}", wire.Refund)

    def list_refunds(
        self,
        *,
        payment_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.RefundPage:
        return self.request(
            "GET",
            "/v1/refunds",
            wire.RefundPage,
            params=_query(limit, cursor, payment_id=payment_id),
        )

    # ----------------------------------------------------------------- mandates

    def create_mandate(
        self,
        customer_id: str,
        merchant_id: str,
        amount_max_daily: wire.Money,
        *,
        idempotency_key: str | None = None,
    ) -> wire.Mandate:
        body = _body(wire.MandateCreate, locals())
        return self.request(
            "POST", "/v1/mandates", wire.Mandate, body=body, idempotency_key=idempotency_key
        )

    def revoke_mandate(
        self, mandate_id: str, *, idempotency_key: str | None = None
    ) -> wire.Mandate:
        return self.request(
            "POST",
            f"/v1/mandates/{mandate_id}/revoke",
            wire.Mandate,
            idempotency_key=idempotency_key,
        )

    def get_mandate(self, mandate_id: str) -> wire.Mandate:
        return self.request("GET", f"/v1/mandates/{mandate_id}", wire.Mandate)

    def list_mandates(
        self,
        *,
        customer_id: str | None = None,
        merchant_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.MandatePage:
        params = _query(limit, cursor, customer_id=customer_id, merchant_id=merchant_id)
        return self.request("GET", "/v1/mandates", wire.MandatePage, params=params)

    # ----------------------------------------------------------------- metered holds

    def create_hold(
        self,
        customer_id: str,
        amount: wire.Money,
        *,
        merchant_id: str | None = None,
        mandate_id: str | None = None,
        timeout_s: int | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Hold:
        body = _body(wire.HoldCreate, locals())
        return self.request(
            "POST", "/v1/holds", wire.Hold, body=body, idempotency_key=idempotency_key
        )

    def capture_hold(
        self, hold_id: str, amount: wire.Money, *, idempotency_key: str | None = None
    ) -> wire.Capture:
        return self.request(
            "POST",
            f"/v1/holds/{hold_id}/capture",
            wire.Capture,
            body=wire.HoldCapture(amount=amount),
            idempotency_key=idempotency_key,
        )

    def release_hold(self, hold_id: str, *, idempotency_key: str | None = None) -> wire.Hold:
        return self.request(
            "POST", f"/v1/holds/{hold_id}/release", wire.Hold, idempotency_key=idempotency_key
        )

    def get_hold(self, hold_id: str) -> wire.Hold:
        return self.request("GET", f"/v1/holds/{hold_id}", wire.Hold)

    def list_holds(
        self,
        *,
        merchant_id: str | None = None,
        customer_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.HoldPage:
        params = _query(limit, cursor, merchant_id=merchant_id, customer_id=customer_id)
        return self.request("GET", "/v1/holds", wire.HoldPage, params=params)

    # ----------------------------------------------------------------- transfers

    def create_transfer(
        self,
        sender_id: str,
        recipient_id: str,
        amount: wire.Money,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Transfer:
        body = _body(wire.TransferCreate, locals())
        return self.request(
            "POST", "/v1/transfers", wire.Transfer, body=body, idempotency_key=idempotency_key
        )

    def get_transfer(self, transfer_id: str) -> wire.Transfer:
        return self.request("GET", f"/v1/transfers/{transfer_id}", wire.Transfer)

    def list_transfers(
        self,
        *,
        customer_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.TransferPage:
        return self.request(
            "GET",
            "/v1/transfers",
            wire.TransferPage,
            params=_query(limit, cursor, customer_id=customer_id),
        )

    # ----------------------------------------------------------------- top-ups

    def create_topup(
        self,
        customer_id: str,
        amount: wire.Money,
        method: str,
        instrument: str,
        *,
        idempotency_key: str | None = None,
    ) -> wire.TopUp:
        """Charge the customer's card, bank account or phone bill (``method``: card,
        bank_transfer or carrier). A decline is a top-up with status ``declined``."""
        body = _body(wire.TopUpCreate, locals())
        return self.request(
            "POST", "/v1/topups", wire.TopUp, body=body, idempotency_key=idempotency_key
        )

    def retry_topup(self, topup_id: str, *, idempotency_key: str | None = None) -> wire.TopUp:
        return self.request(
            "POST", f"/v1/topups/{topup_id}/retry", wire.TopUp, idempotency_key=idempotency_key
        )

    def get_topup(self, topup_id: str) -> wire.TopUp:
        return self.request("GET", f"/v1/topups/{topup_id}", wire.TopUp)

    def list_topups(
        self,
        *,
        customer_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.TopUpPage:
        return self.request(
            "GET",
            "/v1/topups",
            wire.TopUpPage,
            params=_query(limit, cursor, customer_id=customer_id),
        )

    # ----------------------------------------------------------------- pricing (issue 4)

    def publish_pricing_rules(
        self,
        rules: pw.RuleSetDocument,
        *,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> pw.RuleSetVersion:
        """Publish the next version of the pricing rules (docs/pricing.md)."""
        body = _body(pw.RuleSetPublish, locals())
        return self.request(
            "POST",
            "/v1/pricing/rules",
            pw.RuleSetVersion,
            body=body,
            idempotency_key=idempotency_key,
        )

    def list_pricing_rules(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> pw.RuleSetPage:
        return self.request("GET", "/v1/pricing/rules", pw.RuleSetPage, params=_page(limit, cursor))

    def get_pricing_rules(self, version: int) -> pw.RuleSetVersion:
        return self.request("GET", f"/v1/pricing/rules/{int(version)}", pw.RuleSetVersion)

    def create_promo_code(
        self,
        code: str,
        *,
        discount_bp: int,
        discount_max: wire.Money,
        budget: wire.Money,
        expires_in_s: int,
        uses_max: int,
        per_customer_max: int = 1,
        min_amount: wire.Money | None = None,
        idempotency_key: str | None = None,
    ) -> pw.PromoCode:
        body = _body(pw.PromoCodeCreate, locals())
        return self.request(
            "POST", "/v1/promo-codes", pw.PromoCode, body=body, idempotency_key=idempotency_key
        )

    def list_promo_codes(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> pw.PromoCodePage:
        return self.request("GET", "/v1/promo-codes", pw.PromoCodePage, params=_page(limit, cursor))

    def get_promo_code(self, promo_code_id: str) -> pw.PromoCode:
        return self.request("GET", f"/v1/promo-codes/{promo_code_id}", pw.PromoCode)

    def fund_promotions(
        self, amount: wire.Money, *, idempotency_key: str | None = None
    ) -> pw.PromotionsFunding:
        """Add the operator's money to the promotions budget (once per idempotency key)."""
        body = _body(pw.PromotionsFundingCreate, locals())
        return self.request(
            "POST",
            "/v1/promotions/fundings",
            pw.PromotionsFunding,
            body=body,
            idempotency_key=idempotency_key,
        )

    def promotions(self) -> pw.PromotionsBudget:
        return self.request("GET", "/v1/promotions", pw.PromotionsBudget)

    def my_referral_code(self) -> pw.ReferralCode:
        return self.request("GET", "/v1/merchants/me/referral-code", pw.ReferralCode)

    def customer_referral_code(self, customer_id: str) -> pw.ReferralCode:
        return self.request("GET", f"/v1/customers/{customer_id}/referral-code", pw.ReferralCode)

    def claim_referral(
        self,
        customer_id: str,
        code: str,
        *,
        device_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> pw.ReferralStatus:
        body = _body(pw.ReferralClaim, locals())
        return self.request(
            "POST",
            f"/v1/customers/{customer_id}/referral",
            pw.ReferralStatus,
            body=body,
            idempotency_key=idempotency_key,
        )

    def get_referral(self, customer_id: str) -> pw.ReferralStatus:
        return self.request("GET", f"/v1/customers/{customer_id}/referral", pw.ReferralStatus)

    def reward_referrals(self, *, idempotency_key: str | None = None) -> pw.ReferralRewardRun:
        """Run one pass of the referral reward job now."""
        return self.request(
            "POST", "/v1/referrals/rewards", pw.ReferralRewardRun, idempotency_key=idempotency_key
        )

    # ----------------------------------------------------------------- the review queue

    def list_risk_cases(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> wire.RiskCasePage:
        """Cases newest first: the open ones, or ``status`` approved, declined or all."""
        return self.request(
            "GET", "/v1/risk/cases", wire.RiskCasePage, params=_query(limit, cursor, status=status)
        )

    def get_risk_case(self, case_id: str) -> wire.RiskCaseDetail:
        return self.request("GET", f"/v1/risk/cases/{case_id}", wire.RiskCaseDetail)

    def approve_risk_case(self, case_id: str) -> wire.RiskCase:
        return self.request("POST", f"/v1/risk/cases/{case_id}/approve", wire.RiskCase)

    def decline_risk_case(self, case_id: str) -> wire.RiskCase:
        return self.request("POST", f"/v1/risk/cases/{case_id}/decline", wire.RiskCase)

    def freeze_risk_case_party(self, case_id: str) -> wire.RiskCase:
        return self.request("POST", f"/v1/risk/cases/{case_id}/freeze", wire.RiskCase)

    def label_risk_case(self, case_id: str, label: str) -> wire.RiskCase:
        body = _body(wire.RiskCaseLabel, locals())
        return self.request("POST", f"/v1/risk/cases/{case_id}/label", wire.RiskCase, body=body)

    # ----------------------------------------------------------------- webhooks
    # Endpoints of the caller's merchant (the operator's key names merchant_id on create).
    # Verify what they receive with the standardwebhooks package (docs/webhooks.md).

    def create_webhook_endpoint(
        self,
        url: str,
        event_types: Sequence[str],
        *,
        description: str | None = None,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.WebhookEndpointCreated:
        body = _body(wire.WebhookEndpointCreate, locals())
        return self.request(
            "POST",
            "/v1/webhook-endpoints",
            wire.WebhookEndpointCreated,
            body=body,
            idempotency_key=idempotency_key,
        )

    def list_webhook_endpoints(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.WebhookEndpointPage:
        return self.request(
            "GET", "/v1/webhook-endpoints", wire.WebhookEndpointPage, params=_page(limit, cursor)
        )

    def get_webhook_endpoint(self, endpoint_id: str) -> wire.WebhookEndpoint:
        return self.request("GET", f"/v1/webhook-endpoints/{endpoint_id}", wire.WebhookEndpoint)

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        idempotency_key: str | None = None,
    ) -> wire.WebhookEndpoint:
        body = _body(wire.WebhookEndpointUpdate, locals())
        return self.request(
            "PATCH",
            f"/v1/webhook-endpoints/{endpoint_id}",
            wire.WebhookEndpoint,
            body=body,
            idempotency_key=idempotency_key,
        )

    def delete_webhook_endpoint(self, endpoint_id: str) -> wire.WebhookEndpoint:
        return self.request("DELETE", f"/v1/webhook-endpoints/{endpoint_id}", wire.WebhookEndpoint)

    def rotate_webhook_secret(
        self,
        endpoint_id: str,
        *,
        overlap_s: int = 24 * 3600,
        idempotency_key: str | None = None,
    ) -> wire.WebhookEndpointCreated:
        return self.request(
            "POST",
            f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            wire.WebhookEndpointCreated,
            body=wire.WebhookSecretRotate(overlap_s=overlap_s),
            idempotency_key=idempotency_key,
        )

    def send_webhook_test(
        self, endpoint_id: str, *, idempotency_key: str | None = None
    ) -> wire.WebhookDelivery:
        return self.request(
            "POST",
            f"/v1/webhook-endpoints/{endpoint_id}/test",
            wire.WebhookDelivery,
            idempotency_key=idempotency_key,
        )

    def list_webhook_deliveries(
        self, endpoint_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.WebhookDeliveryPage:
        return self.request(
            "GET",
            f"/v1/webhook-endpoints/{endpoint_id}/deliveries",
            wire.WebhookDeliveryPage,
            params=_page(limit, cursor),
        )

    def list_webhook_attempts(
        self, endpoint_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> wire.WebhookAttemptPage:
        return self.request(
            "GET",
            f"/v1/webhook-endpoints/{endpoint_id}/attempts",
            wire.WebhookAttemptPage,
            params=_page(limit, cursor),
        )

    def redeliver_webhook(
        self, delivery_id: str, *, idempotency_key: str | None = None
    ) -> wire.WebhookDelivery:
        return self.request(
            "POST",
            f"/v1/webhook-deliveries/{delivery_id}/redeliver",
            wire.WebhookDelivery,
            idempotency_key=idempotency_key,
        )

    # ----------------------------------------------------------------- reports

    def reconciliation(self, date: str) -> wire.Reconciliation:
        """The operator's reconciliation of a UTC day (``YYYY-MM-DD``)."""
        return self.request(
            "GET", "/v1/reports/reconciliation", wire.Reconciliation, params={"date": date}
        )

    def export_csv(self, from_: str, to: str) -> bytes:
        """The calling merchant's operations in ``[from_, to)`` as CSV (dates or RFC 3339)."""
        response = self._http.request(
            "GET", "/v1/merchants/me/export.csv", params={"from": from_, "to": to}
        )
        if response.status_code >= 400:
            raise _problem(response)
        return response.content

    # ----------------------------------------------------------------- payouts

    def add_payout_method(
        self,
        holder_name: str,
        account_number: str,
        *,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
        confirmation: str | None = None,
    ) -> wire.PayoutMethod:
        """Register a bank account for payouts (locks payouts for a while). ``confirmation``:
        the one-time ``Centime-Confirmation`` a person of the merchant made on the web."""
        body = _body(wire.PayoutMethodCreate, locals())
        return self.request(
            "POST",
            "/v1/payout-methods",
            wire.PayoutMethod,
            body=body,
            idempotency_key=idempotency_key,
            headers=_confirmation(confirmation),
        )

    def list_payout_methods(self, *, merchant_id: str | None = None) -> wire.PayoutMethodList:
        return self.request(
            "GET",
            "/v1/payout-methods",
            wire.PayoutMethodList,
            params=_query(None, None, merchant_id=merchant_id),
        )

    def remove_payout_method(
        self,
        method_id: str,
        *,
        idempotency_key: str | None = None,
        confirmation: str | None = None,
    ) -> wire.PayoutMethod:
        return self.request(
            "POST",
            f"/v1/payout-methods/{method_id}/remove",
            wire.PayoutMethod,
            idempotency_key=idempotency_key,
            headers=_confirmation(confirmation),
        )

    def get_payout_schedule(
        self, asset: str, *, merchant_id: str | None = None
    ) -> wire.PayoutSchedule:
        return self.request(
            "GET",
            f"/v1/payout-schedules/{asset}",
            wire.PayoutSchedule,
            params=_query(None, None, merchant_id=merchant_id),
        )

    def set_payout_schedule(
        self,
        frequency: str,
        minimum_amount: wire.Money,
        *,
        weekday: int = 0,
        month_day: int = 1,
        reserve_bp: int = 0,
        reserve_days: int = 0,
        method_id: str | None = None,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.PayoutSchedule:
        """Create or replace the schedule in ``minimum_amount``'s asset (``frequency``:
        daily, weekly or monthly)."""
        body = _body(wire.PayoutScheduleSet, locals())
        return self.request(
            "POST",
            "/v1/payout-schedules",
            wire.PayoutSchedule,
            body=body,
            idempotency_key=idempotency_key,
        )

    def quote_instant_payout(
        self,
        amount: wire.Money,
        *,
        method_id: str | None = None,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.PayoutQuote:
        """The fee and what arrives if ``amount`` is paid out now; valid a short while."""
        body = _body(wire.PayoutQuoteCreate, locals())
        return self.request(
            "POST",
            "/v1/payout-quotes",
            wire.PayoutQuote,
            body=body,
            idempotency_key=idempotency_key,
        )

    def instant_payout(
        self,
        quote_id: str,
        *,
        merchant_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> wire.Payout:
        """Pay a quote out now, exactly as quoted (once, however often it is sent)."""
        body = _body(wire.InstantPayoutCreate, locals())
        return self.request(
            "POST", "/v1/payouts/instant", wire.Payout, body=body, idempotency_key=idempotency_key
        )

    def get_payout(self, payout_id: str) -> wire.Payout:
        return self.request("GET", f"/v1/payouts/{payout_id}", wire.Payout)

    def list_payouts(
        self,
        *,
        merchant_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> wire.PayoutPage:
        return self.request(
            "GET",
            "/v1/payouts",
            wire.PayoutPage,
            params=_query(limit, cursor, merchant_id=merchant_id),
        )


def _query(limit: int | None, cursor: str | None, **filters: str | None) -> dict[str, str | int]:
    """A listing's query: the page, and the filters that were given."""
    return {**{k: v for k, v in filters.items() if v is not None}, **_page(limit, cursor)}


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
        return ProblemError(
            response.status_code,
            f"http_{response.status_code}",
            response.text[:200],
            headers=response.headers,
        )
    return ProblemError(
        response.status_code, problem.code, problem.detail, problem.errors, headers=response.headers
    )
