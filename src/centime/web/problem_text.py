"""Problem documents a person reads in their language (issue 16).

The API's problem documents (RFC 9457, ``application/problem+json``) are written in English
for developers; a person whose browser or client asks for Korean (``Accept-Language``) reads
``title``, ``detail`` and each field's ``errors[].detail`` in Korean, from the web pages'
catalogue (field details: centime.web.field_text). ``type``, ``code``, ``status`` and each
error's ``field`` never change: programs match on them.

This runs as a ``before_send`` hook of the app, on the way out, rather than where a problem
is built: refusals become bodies deep in the routes (and are stored whole for idempotent
replays), and unmatched routes are answered before any handler runs. A hook sees them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import msgspec
from litestar.types import Message, Scope

from centime.platform.errors import Code, Refusal

from .detail_templates import translate_built_detail
from .field_text import translate_errors
from .i18n import DEFAULT_LOCALE, Formats, choose_locale, translations
from .messages import MESSAGES, N_, refusal_text

__all__ = ["EXACT_DETAILS", "TITLES", "localize_problem", "localize_problems"]

PROBLEM_JSON: Final = b"application/problem+json"
_LOCALE_KEY: Final = "centime.problem_locale"

# The English titles are the codes in words (centime.http.problems.problem_body); listed here so
# that the catalogue holds each one (a test checks that every code has its row).
TITLES: Final[dict[str, str]] = {
    "api_key_limit_reached": N_("Api key limit reached"),
    "api_key_not_found": N_("Api key not found"),
    "balance_not_zero": N_("Balance not zero"),
    "body_too_large": N_("Body too large"),
    "budget_exceeded": N_("Budget exceeded"),
    "budget_not_found": N_("Budget not found"),
    "busy": N_("Busy"),
    "capture_exceeds_hold": N_("Capture exceeds hold"),
    "case_not_found": N_("Case not found"),
    "case_not_open": N_("Case not open"),
    "customer_closed": N_("Customer closed"),
    "customer_frozen": N_("Customer frozen"),
    "customer_not_found": N_("Customer not found"),
    "email_taken": N_("Email taken"),
    "forbidden": N_("Forbidden"),
    "hold_not_authorized": N_("Hold not authorized"),
    "hold_not_found": N_("Hold not found"),
    "idempotency_key_in_use": N_("Idempotency key in use"),
    "idempotency_key_required": N_("Idempotency key required"),
    "idempotency_key_reused": N_("Idempotency key reused"),
    "insufficient_funds": N_("Insufficient funds"),
    "internal_error": N_("Internal error"),
    "invalid_amount": N_("Invalid amount"),
    "invalid_cursor": N_("Invalid cursor"),
    "invalid_idempotency_key": N_("Invalid idempotency key"),
    "invalid_period": N_("Invalid period"),
    "invalid_request": N_("Invalid request"),
    "invalid_status_change": N_("Invalid status change"),
    "invalid_webhook_url": N_("Invalid webhook url"),
    "last_passkey": N_("Last passkey"),
    "link_inactive": N_("Link inactive"),
    "link_not_found": N_("Link not found"),
    "mandate_limit_exceeded": N_("Mandate limit exceeded"),
    "mandate_not_found": N_("Mandate not found"),
    "mandate_revoked": N_("Mandate revoked"),
    "merchant_closed": N_("Merchant closed"),
    "merchant_frozen": N_("Merchant frozen"),
    "merchant_not_found": N_("Merchant not found"),
    "method_not_allowed": N_("Method not allowed"),
    "not_found": N_("Not found"),
    "not_ready": N_("Not ready"),
    "passkey_limit_reached": N_("Passkey limit reached"),
    "passkey_not_found": N_("Passkey not found"),
    "passkey_refused": N_("Passkey refused"),
    "payment_not_found": N_("Payment not found"),
    "payout_method_limit_reached": N_("Payout method limit reached"),
    "payout_method_not_found": N_("Payout method not found"),
    "payout_method_required": N_("Payout method required"),
    "payout_not_found": N_("Payout not found"),
    "payout_schedule_not_found": N_("Payout schedule not found"),
    "payout_too_small": N_("Payout too small"),
    "payouts_locked": N_("Payouts locked"),
    "pricing_rules_invalid": N_("Pricing rules invalid"),
    "pricing_version_not_found": N_("Pricing version not found"),
    "promo_code_expired": N_("Promo code expired"),
    "promo_code_invalid": N_("Promo code invalid"),
    "promo_code_not_found": N_("Promo code not found"),
    "promo_code_taken": N_("Promo code taken"),
    "promo_code_used_up": N_("Promo code used up"),
    "promotions_budget_spent": N_("Promotions budget spent"),
    "provider_declined": N_("Provider declined"),
    "provider_unavailable": N_("Provider unavailable"),
    "quote_expired": N_("Quote expired"),
    "quote_limit_reached": N_("Quote limit reached"),
    "quote_not_found": N_("Quote not found"),
    "rate_limited": N_("Rate limited"),
    "recipient_unavailable": N_("Recipient unavailable"),
    "referral_already_attributed": N_("Referral already attributed"),
    "referral_code_invalid": N_("Referral code invalid"),
    "referral_own_code": N_("Referral own code"),
    "refund_exceeds_payment": N_("Refund exceeds payment"),
    "refund_not_found": N_("Refund not found"),
    "restricted_funds": N_("Restricted funds"),
    "risk_blocked": N_("Risk blocked"),
    "same_customer": N_("Same customer"),
    "step_up_required": N_("Step up required"),
    "tier_forbids": N_("Tier forbids"),
    "tier_limit_exceeded": N_("Tier limit exceeded"),
    "topup_not_found": N_("Topup not found"),
    "topup_not_pending": N_("Topup not pending"),
    "topup_not_succeeded": N_("Topup not succeeded"),
    "transfer_not_found": N_("Transfer not found"),
    "unauthorized": N_("Unauthorized"),
    "unknown_asset": N_("Unknown asset"),
    "unsupported_media_type": N_("Unsupported media type"),
    "webhook_delivery_not_found": N_("Webhook delivery not found"),
    "webhook_endpoint_disabled": N_("Webhook endpoint disabled"),
    "webhook_endpoint_limit_reached": N_("Webhook endpoint limit reached"),
    "webhook_endpoint_not_found": N_("Webhook endpoint not found"),
}

# What a person reads for the HTTP layer's own codes (a service's refusal codes have theirs
# in centime.web.messages).
API_DETAILS: Final[dict[str, str]] = {
    "invalid_cursor": N_("This page cursor is not valid: start the listing again."),
    "idempotency_key_required": N_(
        "This request moves money: send an Idempotency-Key header (a UUID will do)."
    ),
    "invalid_idempotency_key": N_("An Idempotency-Key is 1-255 printable ASCII characters."),
    "idempotency_key_reused": N_("This Idempotency-Key was already used for another request."),
    "idempotency_key_in_use": N_(
        "A request with this Idempotency-Key is still running: retry in a moment."
    ),
    "unauthorized": N_("Sign in, or send a valid API key."),
    "forbidden": N_("This account or key may not do this."),
    "not_found": N_("There is nothing at this address."),
    "method_not_allowed": N_("This method is not allowed here."),
    "body_too_large": N_("The request is larger than this address accepts."),
    "unsupported_media_type": N_("Send the body as JSON (Content-Type: application/json)."),
    "rate_limited": N_("Too many requests: wait a moment, then try again."),
    "not_ready": N_("The service is starting or cannot reach its database: try again soon."),
    "busy": N_("The service is busy: try again after the time in Retry-After."),
}
# The HTTP layer's details that say more than their code's sentence (which key may do what):
# translated word for word.
EXACT_DETAILS: Final = (
    N_("only the operator's keys may do this"),
    N_("an operator key has no merchant of its own"),
    N_("a key can only grant scopes its maker holds"),
)
INTERNAL_ERROR: Final = N_("Something went wrong on our side; request id %(id)s.")
_REQUEST_ID: Final = re.compile(r"request id ([A-Za-z0-9._-]+)$")
_REFUSAL_CODES: Final = {code.value: code for code in Code}


def _detail(
    code: str, detail: str, gettext: Callable[[str], str], locale: str, fields: str | None
) -> str:
    """The detail's own translation if the catalogue has it; else, for a detail built from
    values, its template's translation with the values; else the HTTP layer's sentence for
    its code; else the fields' translated details (``fields``: a 400 names what is wrong);
    else the sentence for the code; else the English detail (a developer's text is better
    than none)."""
    exact = gettext(detail)
    if exact != detail:
        return exact
    built = translate_built_detail(detail, gettext, Formats(locale))
    if built is not None:
        return built
    if code == "internal_error":
        found = _REQUEST_ID.search(detail)
        return gettext(INTERNAL_ERROR) % {"id": found.group(1) if found else "-"}
    if code in API_DETAILS:
        return gettext(API_DETAILS[code])
    if fields is not None:
        return fields
    known = _REFUSAL_CODES.get(code)
    if known is not None and (known in MESSAGES or known is Code.RISK_BLOCKED):
        return refusal_text(Refusal(known, detail), gettext)
    return detail


def localize_problem(body: bytes, locale: str) -> bytes:
    """A problem document with ``title``, ``detail`` and the fields' details in ``locale``
    (unchanged in English, or when the body is not a problem document)."""
    if locale == DEFAULT_LOCALE:
        return body
    try:
        document: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(document, dict) or not isinstance(document.get("code"), str):
        return body
    gettext = translations(locale).gettext
    code: str = document["code"]
    if isinstance(document.get("title"), str) and code in TITLES:
        document["title"] = gettext(TITLES[code])
    fields: str | None = None
    if "errors" in document:
        document["errors"], fields = translate_errors(document["errors"], gettext)
    if isinstance(document.get("detail"), str):
        document["detail"] = _detail(code, document["detail"], gettext, locale, fields)
    return msgspec.json.encode(document)


async def localize_problems(message: Message, scope: Scope) -> None:
    """``before_send`` hook: problem documents in the language the request accepts. The
    start message loses its Content-Length (the translated body has another length) and
    says the language it chose."""
    raw: Any = scope
    if message["type"] == "http.response.start":
        headers = list(message.get("headers") or ())
        if not any(
            name.lower() == b"content-type" and value.startswith(PROBLEM_JSON)
            for name, value in headers
        ):
            return
        accept = next((v for n, v in scope.get("headers", ()) if n == b"accept-language"), b"")
        locale = choose_locale(None, accept.decode("latin-1"))
        if locale != DEFAULT_LOCALE:
            headers = [(n, v) for n, v in headers if n.lower() != b"content-length"]
            raw[_LOCALE_KEY] = locale
        headers.append((b"content-language", locale.encode("ascii")))
        headers.append((b"vary", b"Accept-Language"))
        message["headers"] = headers
    elif message["type"] == "http.response.body" and raw.get(_LOCALE_KEY):
        message["body"] = localize_problem(message.get("body", b""), raw[_LOCALE_KEY])
