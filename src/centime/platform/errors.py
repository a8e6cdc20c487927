"""Expected failures of the services, as values.

A service returns a :class:`Refusal` instead of its result when the request cannot be done
(not enough money, a frozen account, a limit reached). Nothing changed when one is returned.
Its ``code`` is stable and machine-readable: the API sends it as the problem type and maps
it to an HTTP status (``centime.http.problems``), and the docs list every code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Code", "Refusal"]


class Code(enum.Enum):
    """Every refusal code. Add new ones here; the value is the wire code."""

    # Input the service cannot act on.
    INVALID_AMOUNT = "invalid_amount"  # zero, negative, too large, finer than the scale
    UNKNOWN_ASSET = "unknown_asset"
    INVALID_REQUEST = "invalid_request"  # anything else about the request's fields
    # What the request names.
    CUSTOMER_NOT_FOUND = "customer_not_found"
    MERCHANT_NOT_FOUND = "merchant_not_found"
    TOPUP_NOT_FOUND = "topup_not_found"
    PAYMENT_NOT_FOUND = "payment_not_found"
    HOLD_NOT_FOUND = "hold_not_found"
    TRANSFER_NOT_FOUND = "transfer_not_found"
    REFUND_NOT_FOUND = "refund_not_found"
    MANDATE_NOT_FOUND = "mandate_not_found"  # none of this customer to this merchant, asset
    # The state of the parties.
    CUSTOMER_FROZEN = "customer_frozen"
    CUSTOMER_CLOSED = "customer_closed"
    MERCHANT_FROZEN = "merchant_frozen"
    MERCHANT_CLOSED = "merchant_closed"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"  # frozen or closed recipient
    SAME_CUSTOMER = "same_customer"
    EMAIL_TAKEN = "email_taken"
    BALANCE_NOT_ZERO = "balance_not_zero"  # closing a party that still holds money
    INVALID_STATUS_CHANGE = "invalid_status_change"  # a closed party stays closed
    # Money and limits.
    INSUFFICIENT_FUNDS = "insufficient_funds"
    RESTRICTED_FUNDS = "restricted_funds"  # only carrier-billed money, not yet settled
    TIER_LIMIT_EXCEEDED = "tier_limit_exceeded"
    TIER_FORBIDS = "tier_forbids"  # the KYC tier does not allow the operation at all
    REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"
    CAPTURE_EXCEEDS_HOLD = "capture_exceeds_hold"
    HOLD_NOT_AUTHORIZED = "hold_not_authorized"  # already captured, released or expired
    MANDATE_REVOKED = "mandate_revoked"  # the customer withdrew the consent
    MANDATE_LIMIT_EXCEEDED = "mandate_limit_exceeded"  # the day's charges would pass its bound
    TOPUP_NOT_PENDING = "topup_not_pending"
    TOPUP_NOT_SUCCEEDED = "topup_not_succeeded"
    # Providers.
    PROVIDER_DECLINED = "provider_declined"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    # API keys.
    API_KEY_NOT_FOUND = "api_key_not_found"
    API_KEY_LIMIT_REACHED = "api_key_limit_reached"  # too many active keys for one owner
    # Pricing, promotions and referrals (issue 4).
    PRICING_RULES_INVALID = "pricing_rules_invalid"  # a rule set that could create money
    PRICING_VERSION_NOT_FOUND = "pricing_version_not_found"
    PROMO_CODE_NOT_FOUND = "promo_code_not_found"
    PROMO_CODE_TAKEN = "promo_code_taken"  # a code with this text exists
    PROMO_CODE_INVALID = "promo_code_invalid"  # unknown, other asset, below its minimum
    PROMO_CODE_EXPIRED = "promo_code_expired"
    PROMO_CODE_USED_UP = "promo_code_used_up"  # its uses, the customer's uses or its budget
    PROMOTIONS_BUDGET_SPENT = "promotions_budget_spent"  # the promotions account is short
    REFERRAL_CODE_INVALID = "referral_code_invalid"  # names no customer or merchant
    REFERRAL_OWN_CODE = "referral_own_code"  # a party cannot refer itself
    REFERRAL_ALREADY_ATTRIBUTED = "referral_already_attributed"
    # Risk (centime.platform.review.screening, centime.platform.review.service).
    RISK_BLOCKED = "risk_blocked"  # the risk screen refused the movement (reasons in detail)
    STEP_UP_REQUIRED = "step_up_required"  # confirm with a passkey, then ask again
    CASE_NOT_FOUND = "case_not_found"
    CASE_NOT_OPEN = "case_not_open"  # the case was decided the other way already
    # Webhooks (centime.platform.events.webhooks) and reports.
    INVALID_WEBHOOK_URL = "invalid_webhook_url"  # scheme, host, credentials, length
    WEBHOOK_ENDPOINT_NOT_FOUND = "webhook_endpoint_not_found"
    WEBHOOK_DELIVERY_NOT_FOUND = "webhook_delivery_not_found"
    WEBHOOK_ENDPOINT_LIMIT_REACHED = "webhook_endpoint_limit_reached"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"  # re-deliver or test: enable it
    INVALID_PERIOD = "invalid_period"  # an export's from/to: order, bounds, length
    # Payouts (centime.platform.payouts.service).
    PAYOUT_NOT_FOUND = "payout_not_found"
    PAYOUT_METHOD_NOT_FOUND = "payout_method_not_found"
    PAYOUT_SCHEDULE_NOT_FOUND = "payout_schedule_not_found"
    QUOTE_NOT_FOUND = "quote_not_found"
    PAYOUTS_LOCKED = "payouts_locked"  # a payout-method change locks payouts for a while
    QUOTE_EXPIRED = "quote_expired"  # past its validity: ask for a new quote
    PAYOUT_METHOD_REQUIRED = "payout_method_required"  # no active method to pay to
    PAYOUT_METHOD_LIMIT_REACHED = "payout_method_limit_reached"
    QUOTE_LIMIT_REACHED = "quote_limit_reached"  # too many quotes today
    PAYOUT_TOO_SMALL = "payout_too_small"  # the fee would take all of it
    # Web: passkeys, sessions, step-up, payment links, spending budgets (issue 6).
    PASSKEY_REFUSED = "passkey_refused"  # a WebAuthn answer that does not verify
    PASSKEY_NOT_FOUND = "passkey_not_found"
    PASSKEY_LIMIT_REACHED = "passkey_limit_reached"
    LAST_PASSKEY = "last_passkey"  # removing it would lock the person out
    LINK_NOT_FOUND = "link_not_found"
    LINK_INACTIVE = "link_inactive"  # used (single use) or disabled
    BUDGET_NOT_FOUND = "budget_not_found"
    BUDGET_EXCEEDED = "budget_exceeded"  # the one-click payment does not fit what is left


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not done; nothing changed."""

    code: Code
    detail: str
