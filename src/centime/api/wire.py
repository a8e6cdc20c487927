"""What travels on the wire: msgspec Structs for every request and response body, and the
conversions between wire text and the platform's values.

Rules, the same for every resource:

- Request bodies refuse unknown fields and wrong types, strictly (a number where text is
  expected is an error, and so is text where a number is expected), naming the field.
- Money is ``{"value": "125", "asset": "USD", "scale": 6}``: ``value`` is an integer
  string in the asset's smallest unit (a JSON number is refused: JSON parsers turn large
  numbers into floats), and ``scale`` must be the asset's own, so that a client that thinks
  USD has scale 2 is refused instead of paying a million times too much.
- Ids are prefixed strings (``cus_...``, ``mer_...``, ``key_...``). An id in a URL that
  does not parse names nothing: 404. An id in a body that does not parse is a bad request:
  400 naming the field.
- Times are RFC 3339 UTC strings with nanoseconds (``2027-01-15T08:00:00.123456789Z``),
  one form everywhere: exact, sortable as text, and safe for JavaScript clients (an integer
  of nanoseconds is above 2^53 and would lose its last digits there).
- Response bodies accept unknown fields when the client decodes them, so that a server
  that adds a field does not break an older client.

This module imports no web framework: the client (``centime.client``) uses it too.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from centime.limits import (
    AMOUNT_MAX,
    API_BATCH_PAYMENTS_MAX,
    API_KEY_NAME_LEN_MAX,
    ASSET_SCALE_MAX,
    DESCRIPTION_LEN_MAX,
    HOLDER_NAME_LEN_MAX,
    INSTRUMENT_LEN_MAX,
    REFERENCE_LEN_MAX,
    RISK_LABEL_ID_LEN_MAX,
    RISK_LABEL_PARTY_LEN_MAX,
    RISK_LABELS_BATCH_MAX,
    TIMEOUT_MAX_S,
    WEBHOOK_ROTATION_OVERLAP_DEFAULT_S,
    WEBHOOK_ROTATION_OVERLAP_MAX_S,
    WEBHOOK_URL_LEN_MAX,
)
from centime.money import ASSETS
from centime.platform.parties import EMAIL_LEN_MAX, FEE_BP_MAX, NAME_LEN_MAX

__all__ = [
    "UNSET",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPage",
    "Customer",
    "CustomerBalance",
    "CustomerBalances",
    "CustomerCreate",
    "CustomerPage",
    "CustomerUpdate",
    "FieldError",
    "Health",
    "Input",
    "Merchant",
    "MerchantBalance",
    "MerchantBalances",
    "MerchantCreate",
    "MerchantPage",
    "MerchantUpdate",
    "Money",
    "Output",
    "Problem",
    "UnsetType",
    "WireError",
    "money",
    "parse_money",
    "rfc3339",
]

NS_PER_S: Final = 1_000_000_000
# The largest amount has 19 digits; no sign, no leading zeros, no decimals, no exponent.
AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,18})$"
ASSET_PATTERN: Final = r"^[A-Z][A-Z0-9]{1,11}$"
KYC_TIER_MAX: Final = 100  # a bound for the wire; the configured tiers are the service's

Status = Literal["active", "frozen", "closed"]
ScopeName = Literal["read", "payments", "refunds", "payouts", "admin", "review"]


class Input(Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields refused."""


class Output(Struct, kw_only=True):
    """A response body."""


class WireError(ValueError):
    """A field that decoded but is not acceptable: ``code`` is the problem code (a
    ``centime.platform.errors.Code`` value), ``field`` the path of the field."""

    def __init__(self, code: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.field = field
        self.detail = detail


# ------------------------------------------------------------------ money


class Money(Struct, forbid_unknown_fields=True, frozen=True):
    """An exact amount: ``value`` units of the asset's scale (``"125"`` USD at scale 6 is
    0.000125 dollars)."""

    value: Annotated[str, Meta(pattern=AMOUNT_PATTERN, description="integer string")]
    asset: Annotated[str, Meta(pattern=ASSET_PATTERN)]
    scale: Annotated[int, Meta(ge=0, le=ASSET_SCALE_MAX)]


def money(amount: int, asset: str) -> Money:
    return Money(str(amount), asset, ASSETS[asset].scale)


def parse_money(value: Money, field: str, *, allow_zero: bool = True) -> tuple[str, int]:
    """(asset, amount) of a wire amount, or :class:`WireError` saying what is wrong."""
    asset = ASSETS.get(value.asset)
    if asset is None:
        known = ", ".join(sorted(ASSETS))
        raise WireError("unknown_asset", f"{field}.asset", f"unknown asset; known: {known}")
    if value.scale != asset.scale:
        raise WireError(
            "invalid_amount",
            f"{field}.scale",
            f"{asset.code} has scale {asset.scale}, not {value.scale}: value counts units of"
            f" 10^-{asset.scale} {asset.code}",
        )
    text = value.value
    # The pattern was checked while decoding; checked again because a Money may also be
    # built in code, and an amount is too important to trust a caller on.
    if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text[0] == "0"):
        raise WireError("invalid_amount", f"{field}.value", "an integer string, no sign")
    amount = int(text)
    if amount > AMOUNT_MAX:
        raise WireError("invalid_amount", f"{field}.value", f"at most {AMOUNT_MAX}")
    if amount == 0 and not allow_zero:
        raise WireError("invalid_amount", f"{field}.value", "must not be zero")
    return asset.code, amount


# ------------------------------------------------------------------ times


def rfc3339(ns: int) -> str:
    """``2027-01-15T08:00:00.123456789Z`` for nanoseconds since the epoch (UTC)."""
    seconds, fraction = divmod(ns, NS_PER_S)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


# ------------------------------------------------------------------ problems


class FieldError(Output):
    field: str  # the field's path: "amount.value", "items[3].customer_id", "body"
    detail: str


class Problem(Output, omit_defaults=True):
    """An RFC 9457 problem document; ``code`` is stable and machine-readable."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] = msgspec.field(default_factory=list)


class Health(Output):
    status: str


# ------------------------------------------------------------------ customers

# Free text (names, emails, descriptions, references, notes) may not hold NUL: PostgreSQL
# text cannot store it (the insert failed with a 500 there, and worked on SQLite).
TEXT_PATTERN: Final = r"^[^\x00]*$"
Name = Annotated[str, Meta(min_length=1, max_length=NAME_LEN_MAX, pattern=TEXT_PATTERN)]
Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_LEN_MAX, pattern=TEXT_PATTERN)]
# ``gt=-1`` rather than ``ge=0`` (the same for integers): Litestar drops a bound of 0 from
# the OpenAPI schema of a field that may be left out (it tests the bound's truth), and the
# document must say what the server accepts.
KycTier = Annotated[int, Meta(gt=-1, le=KYC_TIER_MAX)]
FeeBp = Annotated[int, Meta(gt=-1, le=FEE_BP_MAX)]
Cursor = str | None


class Customer(Output):
    id: str
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    created_at: str


ReferralCodeText = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9A-Za-z]+$")]
DeviceId = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class CustomerCreate(Input):
    name: Name
    email: Email | None = None
    kyc_tier: KycTier = 1
    referral_code: ReferralCodeText | None = None  # who referred it (docs/referrals.md)
    device_id: DeviceId | None = None  # the sign-up's device (kept hashed)


class CustomerUpdate(Input):
    """Fields left out stay as they are."""

    status: Status | UnsetType = UNSET
    kyc_tier: KycTier | UnsetType = UNSET


class CustomerPage(Output):
    data: list[Customer]
    next_cursor: Cursor  # null on the last page


class CustomerBalance(Output):
    asset: str
    available: Money  # spendable, sendable, holdable
    restricted: Money  # carrier-billed, not yet settled: may only pay merchants
    held: Money  # reserved by metered holds


class CustomerBalances(Output):
    data: list[CustomerBalance]


# ------------------------------------------------------------------ merchants


class Merchant(Output):
    id: str
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    fee_bp: int
    fee_fixed: list[Money]  # per asset; an asset not listed takes the platform's default
    created_at: str


FixedFees = Annotated[list[Money], Meta(max_length=len(ASSETS))]


class MerchantCreate(Input):
    name: Name
    email: Email | None = None
    kyc_tier: KycTier = 1
    fee_bp: FeeBp | UnsetType = UNSET  # the platform's default when left out
    fee_fixed: FixedFees = msgspec.field(default_factory=list)
    referral_code: ReferralCodeText | None = None
    device_id: DeviceId | None = None


class MerchantUpdate(Input):
    """Fields left out stay as they are; ``fee_fixed`` sets the assets it lists."""

    status: Status | UnsetType = UNSET
    kyc_tier: KycTier | UnsetType = UNSET
    fee_bp: FeeBp | UnsetType = UNSET
    fee_fixed: FixedFees | UnsetType = UNSET


class MerchantPage(Output):
    data: list[Merchant]
    next_cursor: Cursor


class MerchantBalance(Output):
    asset: str
    available: Money  # can be paid out or refunded
    reserved: Money  # held back for refunds and chargebacks
    pending: Money  # captured by metered holds not yet resolved


class MerchantBalances(Output):
    data: list[MerchantBalance]


# ------------------------------------------------------------------ API keys

Scopes = Annotated[list[ScopeName], Meta(min_length=1, max_length=5)]


class ApiKey(Output):
    id: str  # key_...
    owner: str  # "operator", or the merchant's id
    name: str
    scopes: list[ScopeName]
    created_at: str
    revoked_at: str | None


class ApiKeyCreated(ApiKey):
    """The new key's full text, shown this once: ``secret`` is null when an idempotent
    retry replays the creation (the secret is never stored; revoke the key and make
    another)."""

    secret: str | None


class ApiKeyCreate(Input):
    name: Annotated[str, Meta(min_length=1, max_length=API_KEY_NAME_LEN_MAX, pattern=TEXT_PATTERN)]
    scopes: Scopes
    # For which merchant (the operator's choice; a merchant may name only itself). Left
    # out: a key for the caller's own owner.
    merchant_id: str | UnsetType = UNSET


class ApiKeyPage(Output):
    data: list[ApiKey]
    next_cursor: Cursor


# ------------------------------------------------------------------ money routes
# Payments, batches, mandates, metered holds, refunds, transfers between customers and
# top-ups (centime.api.routes.payments and its neighbours).

__all__ += [
    "BatchError",
    "BatchPayment",
    "BatchResult",
    "Capture",
    "Hold",
    "HoldCapture",
    "HoldCreate",
    "HoldPage",
    "Mandate",
    "MandateCreate",
    "MandatePage",
    "Payment",
    "PaymentBatch",
    "PaymentBatchCreate",
    "PaymentCreate",
    "PaymentPage",
    "Refund",
    "RefundCreate",
    "RefundPage",
    "TopUp",
    "TopUpCreate",
    "TopUpPage",
    "Transfer",
    "TransferCreate",
    "TransferPage",
]

# Public ids in request bodies: the prefix and 13 Crockford base32 digits
# (centime.platform.ids), so that the OpenAPI document shows the form.
# 13 digits hold 65 bits and an id is below 2^63, so the first digit is 0-7: the pattern
# says so, else the document would allow ids the server refuses.
_ID_DIGITS: Final = "[0-7][0-9a-hjkmnp-tv-z]{12}$"
CustomerId = Annotated[str, Meta(pattern=f"^cus_{_ID_DIGITS}")]
MerchantId = Annotated[str, Meta(pattern=f"^mer_{_ID_DIGITS}")]
MandateId = Annotated[str, Meta(pattern=f"^man_{_ID_DIGITS}")]
Description = Annotated[str, Meta(max_length=DESCRIPTION_LEN_MAX, pattern=TEXT_PATTERN)]
Reference = Annotated[str, Meta(max_length=REFERENCE_LEN_MAX, pattern=TEXT_PATTERN)]
HoldStatus = Literal["authorized", "captured", "released", "expired"]
MandateStatus = Literal["active", "revoked"]
TopUpStatus = Literal["pending", "succeeded", "declined", "failed", "charged_back"]
TopUpMethod = Literal["card", "bank_transfer", "carrier"]


class Payment(Output):
    id: str  # pay_...
    customer_id: str
    merchant_id: str
    amount: Money
    fee: Money  # the platform's, split off the merchant's earnings in the same chain
    restricted: Money  # the part paid from carrier-billed money
    refunded: Money
    fee_refunded: Money
    description: str | None
    reference: str | None
    hold_id: str | None  # the metered hold whose capture made it
    mandate_id: str | None  # the consent the merchant charged under
    created_at: str
    # Pricing (docs/pricing.md): the rule set's version and the fee rule that priced it, and
    # a promotion code's discount (paid by the promotions budget, not the customer).
    pricing_version: int | None = None
    fee_rule: str | None = None
    discount: Money | None = None
    promo_code_id: str | None = None


class PaymentCreate(Input):
    """A payment of a customer to a merchant. A merchant's key charges under a mandate
    (``mandate_id`` required) and is itself the merchant (``merchant_id`` left out, or its
    own); the operator's key pays for the customer and names the merchant."""

    customer_id: CustomerId
    amount: Money
    merchant_id: MerchantId | UnsetType = UNSET
    mandate_id: MandateId | None = None
    description: Description | None = None
    reference: Reference | None = None
    promo_code: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{3,32}$")] | None = None


class PaymentPage(Output):
    data: list[Payment]
    next_cursor: Cursor


class BatchPayment(Input):
    """One payment of a batch (the batch names the merchant)."""

    customer_id: CustomerId
    amount: Money
    mandate_id: MandateId | None = None
    description: Description | None = None
    reference: Reference | None = None


class PaymentBatchCreate(Input):
    payments: Annotated[list[BatchPayment], Meta(min_length=1, max_length=API_BATCH_PAYMENTS_MAX)]
    merchant_id: MerchantId | UnsetType = UNSET  # as for a single payment


class BatchError(Output):
    code: str  # the refusal's code, as a problem document's
    detail: str


class BatchResult(Output, omit_defaults=True):
    """One payment's outcome, in the order sent: ``status`` 201 with the new payment's
    ``id`` and ``fee`` (the rest is what was sent; ``GET /v1/payments/{id}`` has all of
    it), or the HTTP status its refusal would have had alone, with the ``error``. Lean on
    purpose: a batch answers thousands of payments at once."""

    status: int
    id: str | None = None  # pay_... (201; 202: the id it will have once approved)
    fee: Money | None = None
    error: BatchError | None = None
    case_id: str | None = None  # 202: held for review (case_...)


class PaymentBatch(Output):
    results: list[BatchResult]  # in the order of the request's payments
    created: int  # how many were paid
    refused: int


class Refund(Output):
    id: str  # ref_...
    payment_id: str
    customer_id: str
    merchant_id: str
    amount: Money
    fee_returned: Money  # the part of the payment's fee the platform gave back
    restricted: Money  # returned as restricted (carrier-billed) money
    reason: str | None
    created_at: str


class RefundCreate(Input):
    """``amount`` left out: all of the payment not refunded yet."""

    amount: Money | UnsetType = UNSET
    reason: Description | None = None


class RefundPage(Output):
    data: list[Refund]
    next_cursor: Cursor


class Mandate(Output):
    id: str  # man_...
    customer_id: str
    merchant_id: str
    amount_max_daily: Money
    spent_today: Money  # charged under it on the current UTC day
    status: MandateStatus
    created_at: str
    revoked_at: str | None


class MandateCreate(Input):
    customer_id: CustomerId
    merchant_id: MerchantId
    amount_max_daily: Money


class MandatePage(Output):
    data: list[Mandate]
    next_cursor: Cursor


class Hold(Output):
    id: str  # hold_...
    customer_id: str
    merchant_id: str
    amount: Money  # authorized
    restricted: Money  # the part reserved from carrier-billed money
    captured: Money
    status: HoldStatus  # expired as soon as its reserve lapsed
    description: str | None
    expires_at: str
    resolved_at: str | None
    payment_id: str | None  # the payment its capture made
    mandate_id: str | None
    created_at: str


# ``ge=1``, not ``gt=0``: Litestar drops a bound of 0 from the document (see KycTier).
TimeoutS = Annotated[int, Meta(ge=1, le=TIMEOUT_MAX_S)]


class HoldCreate(Input):
    """As for a payment: a merchant's key needs a mandate, the operator's names the
    merchant. ``timeout_s`` left out: the platform's default."""

    customer_id: CustomerId
    amount: Money
    merchant_id: MerchantId | UnsetType = UNSET
    mandate_id: MandateId | None = None
    timeout_s: TimeoutS | UnsetType = UNSET
    description: Description | None = None


class HoldCapture(Input):
    amount: Money  # 1..the authorized amount, in the hold's asset


class Capture(Output):
    hold: Hold
    payment: Payment


class HoldPage(Output):
    data: list[Hold]
    next_cursor: Cursor


class Transfer(Output):
    id: str  # tr_...
    sender_id: str
    recipient_id: str
    amount: Money
    note: str | None
    created_at: str


class TransferCreate(Input):
    sender_id: CustomerId
    recipient_id: CustomerId
    amount: Money
    note: Description | None = None


class TransferPage(Output):
    data: list[Transfer]
    next_cursor: Cursor


class TopUp(Output):
    id: str  # top_...
    customer_id: str
    amount: Money
    method: TopUpMethod
    instrument: str  # the provider's token: never the card, account or phone number
    provider: str
    status: TopUpStatus
    # pending and never answered by the provider: POST .../retry charges it again
    awaiting_retry: bool
    failure_code: str | None  # the provider's, when declined or failed
    failure_message: str | None
    restricted: bool  # carrier-billed: restricted until the carrier settles
    settles_at: str | None
    settled_at: str | None
    released: Money  # moved from restricted to the wallet at settlement
    charged_back: Money
    created_at: str
    updated_at: str
    # Pricing: the bonus the promotions budget paid, the rule, and the rule set's version.
    bonus: Money | None = None
    bonus_rule: str | None = None
    pricing_version: int | None = None
    instrument_last4: str | None = None  # the number's last four characters, for display


class TopUpCreate(Input):
    customer_id: CustomerId
    amount: Money
    method: TopUpMethod
    instrument: Annotated[
        str, Meta(min_length=1, max_length=INSTRUMENT_LEN_MAX, pattern=TEXT_PATTERN)
    ]


class TopUpPage(Output):
    data: list[TopUp]
    next_cursor: Cursor


# ------------------------------------------------------------------ risk

__all__ += [
    "InReview",
    "RiskCase",
    "RiskCaseDetail",
    "RiskCaseLabel",
    "RiskCasePage",
    "RiskDecision",
    "RiskLabelIn",
    "RiskLabelsIn",
    "RiskLabelsRecorded",
]


class InReview(Output, kw_only=True):
    """``202``: the risk screen held the request for an analyst. Nothing is refused and
    nothing happened yet: the money is reserved (a top-up is not charged, a sign-up's party
    is frozen) until the case is approved (the object is then made, with ``id``) or
    declined (the money is the payer's again)."""

    status: Literal["in_review"] = "in_review"
    case_id: str  # case_...
    object: str  # payment, transfer, hold, topup, customer, merchant
    id: str  # the id the object has (sign-ups) or will have once approved
    amount: Money
    reasons: list[str]  # reason codes a person can read, worst first
    created_at: str


RiskCaseStatus = Literal["open", "approved", "declined"]
RiskLabel = Literal["fraud", "not_fraud"]


class RiskCase(Output):
    id: str  # case_...
    status: RiskCaseStatus
    object: str  # what is held: payment, transfer, hold, topup, customer, merchant
    object_id: str  # its id (made on approval, for money movements)
    party_id: str  # the customer or merchant whose money or account it is
    amount: Money  # held (a top-up: asked for; a sign-up: 0)
    label: RiskLabel | None
    created_at: str
    resolved_at: str | None
    resolved_by: str | None  # the analyst's key


class RiskDecision(Output):
    """A decision of the risk screen as recorded: the event it was asked about and its
    answer (reason codes, never the model's internals beyond them)."""

    id: str  # rsk_...
    type: str  # the event: payment, transfer, topup, topup_carrier, signup...
    payer: str
    payee: str
    amount: Money
    device: str | None
    ip: str | None
    instrument: str | None  # a fingerprint (fp_...)
    action: str  # allow, review, step_up, block
    score: int  # 0-99
    reasons: list[str]
    model_version: str | None
    rules_version: str
    stepped_up: bool
    features: dict[str, Any] | None  # what the screen computed, when it exposes them
    at: str


class RiskCaseDetail(RiskCase):
    """A case with its evidence."""

    decision: RiskDecision | None
    recent: list[RiskDecision]  # the payer's latest decisions, newest first
    related: list[str]  # other payers seen with the same devices, IPs or instruments


class RiskCasePage(Output):
    data: list[RiskCase]
    next_cursor: Cursor


class RiskCaseLabel(Input):
    label: RiskLabel


class RiskLabelIn(Input):
    """A label the operator learnt (a processor's chargeback, a dispute, an import): its
    event named by time, payer and payee; ``id`` makes it idempotent per source."""

    id: Annotated[str, Meta(min_length=1, max_length=RISK_LABEL_ID_LEN_MAX, pattern=TEXT_PATTERN)]
    source: Literal["chargeback", "dispute", "import"]
    event_at: Annotated[str, Meta(min_length=1, max_length=40)]  # RFC 3339
    payer: Annotated[
        str, Meta(min_length=1, max_length=RISK_LABEL_PARTY_LEN_MAX, pattern=TEXT_PATTERN)
    ]
    label: RiskLabel
    payee: Annotated[str, Meta(max_length=RISK_LABEL_PARTY_LEN_MAX, pattern=TEXT_PATTERN)] = ""


class RiskLabelsIn(Input):
    labels: Annotated[list[RiskLabelIn], Meta(min_length=1, max_length=RISK_LABELS_BATCH_MAX)]


class RiskLabelsRecorded(Output):
    recorded: int  # new labels, counted by the risk engine from now on
    duplicates: int  # already recorded under the same source and id: unchanged


# ------------------------------------------------------------------ webhooks
# Endpoints, their deliveries and delivery log (centime.api.routes.webhooks).

# Endpoints belong to merchants: the customers' own events (top-ups, transfers between
# people) are never theirs to subscribe to (outbox.CUSTOMER_ONLY_TYPES).
EventType = Literal[
    "payment.created",
    "payment.refunded",
    "hold.created",
    "hold.captured",
    "hold.released",
    "hold.expired",
    "mandate.created",
    "mandate.revoked",
    "payout.requested",
    "payout.pending",
    "payout.paid",
    "payout.failed",
    "payout.returned",
    "referral.rewarded",
    "review.opened",
    "review.approved",
    "review.declined",
]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=64)]
WebhookUrl = Annotated[
    str, Meta(min_length=1, max_length=WEBHOOK_URL_LEN_MAX, pattern=r"^https?://[^\s]+$")
]


class WebhookEndpoint(Output):
    id: str  # we_...
    merchant_id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None  # "gone" (a 410), "failing", "merchant" (turned off)
    failures: int  # attempts failed in a row
    secret_rotating_until: str | None  # the previous secret signs too until then
    created_at: str
    updated_at: str


class WebhookEndpointCreated(WebhookEndpoint):
    """The endpoint's signing secret (``whsec_...``), shown this once: ``secret`` is null
    when an idempotent retry replays the answer (the secret is never stored in clear)."""

    secret: str | None


class WebhookEndpointCreate(Input):
    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None
    merchant_id: str | UnsetType = UNSET  # the operator's keys name the merchant


class WebhookEndpointUpdate(Input):
    """Fields left out stay as they are; ``enabled: true`` clears the failure record."""

    url: WebhookUrl | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookSecretRotate(Input):
    # How long the current secret keeps signing beside the new one (seconds).
    overlap_s: Annotated[int, Meta(ge=0, le=WEBHOOK_ROTATION_OVERLAP_MAX_S)] = (
        WEBHOOK_ROTATION_OVERLAP_DEFAULT_S
    )


class WebhookEndpointPage(Output):
    data: list[WebhookEndpoint]
    next_cursor: Cursor


class WebhookDelivery(Output):
    id: str  # wd_...
    endpoint_id: str
    event_id: str  # evt_...: the webhook-id header
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    created_at: str
    updated_at: str


class WebhookDeliveryPage(Output):
    data: list[WebhookDelivery]
    next_cursor: Cursor


class WebhookAttempt(Output):
    id: str  # wa_...
    delivery_id: str
    event_id: str
    attempt: int
    status_code: int | None  # null: no answer
    latency_ms: int
    # null when a status came back; else "connection failed" (whatever the cause: refused,
    # timeout, DNS, TLS) or "destination not permitted ..." (not a public https address)
    error: str | None
    created_at: str


class WebhookAttemptPage(Output):
    data: list[WebhookAttempt]
    next_cursor: Cursor


# ------------------------------------------------------------------ reports
# The operator's daily reconciliation (centime.api.routes.reports).


class ReconciliationDifference(Output):
    kind: str
    movement: str
    topup_id: str
    provider_amount: Money | None
    platform_amount: Money | None
    detail: str


class ProviderReconciliation(Output):
    provider: str
    provider_lines: int
    platform_lines: int
    truncated: bool
    differences: list[ReconciliationDifference]


class Reconciliation(Output):
    date: str
    differences: int  # over every provider: 0 means the books agree
    providers: list[ProviderReconciliation]


# ------------------------------------------------------------------ payouts
# Payout methods, schedules, instant-payout quotes and payouts (centime.api.routes.payouts).

__all__ += [
    "InstantPayoutCreate",
    "Payout",
    "PayoutMethod",
    "PayoutMethodCreate",
    "PayoutMethodList",
    "PayoutPage",
    "PayoutQuote",
    "PayoutQuoteCreate",
    "PayoutSchedule",
    "PayoutScheduleSet",
]

PayoutMethodId = Annotated[str, Meta(pattern=f"^pm_{_ID_DIGITS}")]
QuoteId = Annotated[str, Meta(pattern=f"^quo_{_ID_DIGITS}")]
PayoutStatus = Literal["requested", "pending", "paid", "failed", "returned"]
PayoutKind = Literal["scheduled", "instant"]
PayoutFrequency = Literal["daily", "weekly", "monthly"]
HolderName = Annotated[
    str, Meta(min_length=1, max_length=HOLDER_NAME_LEN_MAX, pattern=TEXT_PATTERN)
]
# Letters, digits and spaces; the service checks 6-34 of them once the spaces are gone.
AccountNumber = Annotated[str, Meta(min_length=6, max_length=68, pattern=r"^[A-Za-z0-9 ]+$")]
# ``gt=-1`` / ``ge=1``, as for KycTier: Litestar drops a bound of 0 from the document.
Weekday = Annotated[int, Meta(gt=-1, le=6)]
MonthDay = Annotated[int, Meta(ge=1, le=28)]
ReserveBp = Annotated[int, Meta(gt=-1, le=10_000)]
ReserveDays = Annotated[int, Meta(gt=-1, le=180)]


class PayoutMethod(Output):
    id: str  # pm_...
    merchant_id: str
    holder_name: str
    last4: str  # the account number's last four characters (the number is never kept)
    fingerprint: str  # the same account, the same fingerprint
    status: Literal["active", "removed"]
    created_at: str
    removed_at: str | None


class PayoutMethodCreate(Input):
    """A bank account; the operator's key names the merchant."""

    holder_name: HolderName
    account_number: AccountNumber
    merchant_id: MerchantId | UnsetType = UNSET


class PayoutMethodList(Output):
    data: list[PayoutMethod]


class PayoutSchedule(Output):
    merchant_id: str
    asset: str
    frequency: PayoutFrequency
    weekday: int  # weekly: 0 Monday .. 6 Sunday
    month_day: int  # monthly: 1..28
    minimum_amount: Money
    reserve_bp: int  # of the last reserve_days' earnings, held back
    reserve_days: int
    method_id: str | None  # None: the newest active method
    next_date: str  # YYYY-MM-DD, the next date a run pays (today's included)
    updated_at: str


class PayoutScheduleSet(Input):
    """Create or replace the merchant's schedule in ``minimum_amount``'s asset."""

    frequency: PayoutFrequency
    minimum_amount: Money
    weekday: Weekday = 0
    month_day: MonthDay = 1
    reserve_bp: ReserveBp = 0
    reserve_days: ReserveDays = 0
    method_id: PayoutMethodId | None = None
    merchant_id: MerchantId | UnsetType = UNSET


class PayoutQuote(Output):
    id: str  # quo_...
    merchant_id: str
    method_id: str
    amount: Money  # taken from the earnings
    fee: Money
    net: Money  # what arrives at the bank
    days_early: int  # before the scheduled date
    scheduled_date: str | None  # YYYY-MM-DD; None: no schedule in the asset
    expires_at: str
    payout_id: str | None  # once confirmed
    created_at: str


class PayoutQuoteCreate(Input):
    amount: Money
    method_id: PayoutMethodId | None = None
    merchant_id: MerchantId | UnsetType = UNSET


class InstantPayoutCreate(Input):
    quote_id: QuoteId
    merchant_id: MerchantId | UnsetType = UNSET


class Payout(Output):
    id: str  # po_...
    merchant_id: str
    method_id: str
    amount: Money
    fee: Money
    net: Money
    kind: PayoutKind
    status: PayoutStatus
    failure_code: str | None
    return_code: str | None
    quote_id: str | None
    run_date: str | None  # scheduled: the run's date
    created_at: str
    updated_at: str
    resolved_at: str | None  # paid or failed
    returned_at: str | None


class PayoutPage(Output):
    data: list[Payout]
    next_cursor: Cursor
