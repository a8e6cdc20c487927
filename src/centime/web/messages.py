"""What a person reads when something is refused: a sentence in their language, never a
raw code (``risk_blocked``, ``model:payer_age_h``).

A refusal's ``detail`` is written for developers (the API's problem documents); the pages
show the sentence its code maps to here instead, translated, with a generic one for a code
not listed. The risk screen's reasons are grouped into what a person can understand and act
on (a new account, many payments at once, a new device...), never shown as codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from centime.platform.errors import Code, Refusal

__all__ = ["N_", "REVIEW_KINDS", "ceremony_messages", "refusal_text", "risk_reason_texts"]


def N_(message: str) -> str:  # noqa: N802 - gettext's marker name (Babel extracts N_)
    """Mark a message for the catalogue; translated where it is shown."""
    return message


# What a review case holds, in words (the console and the case page name it in the reader's
# language; the keys are centime.platform.review's subject kinds).
REVIEW_KINDS: Final = {
    "payment": N_("Payment"),
    "hold": N_("Hold"),
    "transfer": N_("Transfer"),
    "topup": N_("Top-up"),
}

GENERIC: Final = N_("That could not be done. Nothing was changed; please try again.")

MESSAGES: Final[dict[Code, str]] = {
    Code.INVALID_AMOUNT: N_("Write the amount as a number, like 2.50."),
    Code.UNKNOWN_ASSET: N_("We do not handle that currency."),
    Code.INVALID_REQUEST: N_("Something in the form is not right; please check it."),
    Code.CUSTOMER_NOT_FOUND: N_("We found no one with that id. Ids look like cus_…"),
    Code.MERCHANT_NOT_FOUND: N_("We found no such merchant."),
    Code.CUSTOMER_FROZEN: N_("This account is paused; please contact support."),
    Code.MERCHANT_FROZEN: N_("This merchant's account is paused for now."),
    Code.CUSTOMER_CLOSED: N_("This account is closed."),
    Code.MERCHANT_CLOSED: N_("This merchant's account is closed."),
    Code.RECIPIENT_UNAVAILABLE: N_("That person cannot receive money right now."),
    Code.SAME_CUSTOMER: N_("You cannot send money to yourself."),
    Code.INSUFFICIENT_FUNDS: N_("There is not enough money in your wallet: top up first."),
    Code.RESTRICTED_FUNDS: N_(
        "Money paid by phone bill can pay merchants but cannot be sent or withdrawn until the"
        " carrier settles it."
    ),
    Code.TIER_LIMIT_EXCEEDED: N_(
        "This goes over the limit of your account's verification level for now."
    ),
    Code.TIER_FORBIDS: N_("Your account's verification level does not allow this yet."),
    Code.MANDATE_LIMIT_EXCEEDED: N_(
        "This goes over the day's limit you agreed with this merchant."
    ),
    Code.MANDATE_REVOKED: N_("You withdrew your consent for this merchant's charges."),
    Code.PROVIDER_DECLINED: N_("The card was declined. Nothing was charged."),
    Code.PROVIDER_UNAVAILABLE: N_(
        "The payment provider is not answering right now. Nothing was charged; try again in a"
        " minute."
    ),
    Code.RISK_BLOCKED: N_(
        "For your safety we stopped this. Nothing was charged and no money moved."
    ),
    Code.STEP_UP_REQUIRED: N_("Confirm with your passkey that it is you, then try again."),
    Code.PAYOUTS_LOCKED: N_(
        "Payouts pause for a while after a bank account is added or removed, so that a stolen"
        " sign-in cannot redirect your money."
    ),
    Code.PAYOUT_METHOD_REQUIRED: N_("Add a bank account first."),
    Code.PAYOUT_TOO_SMALL: N_("This payout is too small: the fee would take all of it."),
    Code.QUOTE_EXPIRED: N_("This quote expired: ask for the fee again."),
    Code.QUOTE_NOT_FOUND: N_("This quote is gone: ask for the fee again."),
    Code.QUOTE_LIMIT_REACHED: N_("You asked for many quotes today; try again tomorrow."),
    Code.PAYOUT_METHOD_LIMIT_REACHED: N_("You have as many bank accounts as we allow."),
    Code.PAYOUT_METHOD_NOT_FOUND: N_("That bank account is gone."),
    Code.BUDGET_EXCEEDED: N_("This does not fit in what is left of your budget."),
    Code.BUDGET_NOT_FOUND: N_("That budget is gone."),
    Code.LINK_NOT_FOUND: N_("This payment link does not exist."),
    Code.LINK_INACTIVE: N_("This payment link was used or disabled."),
    Code.API_KEY_LIMIT_REACHED: N_("You have as many API keys as we allow: revoke one first."),
    Code.API_KEY_NOT_FOUND: N_("That API key is gone."),
    Code.INVALID_WEBHOOK_URL: N_(
        "Use a public https:// address with a host name, not an internal one."
    ),
    Code.WEBHOOK_ENDPOINT_LIMIT_REACHED: N_("You have as many endpoints as we allow."),
    Code.WEBHOOK_ENDPOINT_NOT_FOUND: N_("No such webhook endpoint."),
    Code.WEBHOOK_ENDPOINT_DISABLED: N_("Enable the endpoint first."),
    Code.WEBHOOK_DELIVERY_NOT_FOUND: N_("No such delivery."),
    Code.REFERRAL_CODE_INVALID: N_("That referral code could not be used."),
    Code.REFERRAL_OWN_CODE: N_("That is your own referral code."),
    Code.REFERRAL_ALREADY_ATTRIBUTED: N_("You were already referred."),
    Code.CASE_NOT_FOUND: N_("No such case."),
    Code.CASE_NOT_OPEN: N_("This case was already decided."),
    Code.PASSKEY_REFUSED: N_("The passkey's answer could not be verified; try again."),
    Code.LAST_PASSKEY: N_(
        "This is your last passkey: add another one (or keep a recovery code) first."
    ),
    Code.PASSKEY_LIMIT_REACHED: N_("You have as many passkeys as we allow."),
    Code.PASSKEY_NOT_FOUND: N_("That passkey is gone."),
    Code.PAYMENT_NOT_FOUND: N_("No such payment."),
    Code.TRANSFER_NOT_FOUND: N_("No such transfer."),
    Code.TOPUP_NOT_FOUND: N_("No such top-up."),
    Code.HOLD_NOT_FOUND: N_("No such hold."),
    Code.REFUND_NOT_FOUND: N_("No such refund."),
    Code.MANDATE_NOT_FOUND: N_("No such consent for this merchant's charges."),
    Code.PAYOUT_NOT_FOUND: N_("No such payout."),
    Code.PAYOUT_SCHEDULE_NOT_FOUND: N_("There is no payout schedule yet."),
    Code.PRICING_VERSION_NOT_FOUND: N_("No such pricing version."),
    Code.PROMO_CODE_NOT_FOUND: N_("No such promotion code."),
    Code.EMAIL_TAKEN: N_("An account with this email address exists already."),
    Code.BALANCE_NOT_ZERO: N_("An account can be closed only once it holds no money."),
    Code.INVALID_STATUS_CHANGE: N_("The account cannot change to that state."),
    Code.REFUND_EXCEEDS_PAYMENT: N_("This is more than what is left to refund of the payment."),
    Code.CAPTURE_EXCEEDS_HOLD: N_("This is more than the hold set aside."),
    Code.HOLD_NOT_AUTHORIZED: N_("This hold was already captured, released or expired."),
    Code.TOPUP_NOT_PENDING: N_("This top-up is no longer waiting."),
    Code.TOPUP_NOT_SUCCEEDED: N_("This top-up did not go through."),
    Code.PRICING_RULES_INVALID: N_("These pricing rules are not valid; nothing was saved."),
    Code.PROMO_CODE_TAKEN: N_("A promotion code with this name exists already."),
    Code.PROMO_CODE_INVALID: N_("This promotion code does not apply here."),
    Code.PROMO_CODE_EXPIRED: N_("This promotion code has expired."),
    Code.PROMO_CODE_USED_UP: N_("This promotion code was used as often as it may be."),
    Code.PROMOTIONS_BUDGET_SPENT: N_("The promotions budget is spent for now."),
    Code.INVALID_PERIOD: N_(
        "This period is not valid: its start comes before its end, and it may not be too long."
    ),
}

# Risk reasons by family: the first family whose marker is in a reason names it.
RISK_FAMILIES: Final = (
    (("age_h",), N_("Your account is new, so larger amounts are checked more closely.")),
    (
        ("device_new", "ip_new", "instrument_new", "blocked_device", "blocked_ip"),
        N_("This comes from a device, network or card we have not seen with your account."),
    ),
    (
        ("declines", "card_testing", "blocked_instrument"),
        N_("This card had declined payments lately."),
    ),
    (
        ("_n_", "_sum_", "velocity", "fan_", "burst"),
        N_("Many payments in a short time: wait a little, or try a smaller amount."),
    ),
    (
        ("carrier", "drain", "near_limit", "structuring", "circular", "cycle", "pass_through"),
        N_("The pattern of this payment needs a closer look."),
    ),
)
RISK_GENERIC: Final = N_("Our safety checks flagged this payment.")
RISK_NEXT: Final = N_(
    "If you think this is a mistake, try a smaller amount or contact support; nothing was charged."
)


def risk_reason_texts(detail: str) -> list[str]:
    """The person's sentences for the reasons in a risk refusal's detail (codes stay out)."""
    _, _, listed = detail.partition(": ")
    reasons = [r.strip() for r in listed.replace("(", ",").replace(")", ",").split(",")]
    found: list[str] = []
    for reason in reasons:
        for markers, text in RISK_FAMILIES:
            if reason and any(m in reason for m in markers) and text not in found:
                found.append(text)
                break
    return found or [RISK_GENERIC]


def refusal_text(refusal: Refusal, gettext: Callable[[str], str]) -> str:
    """The sentence a person reads for this refusal, in their language."""
    text = gettext(MESSAGES.get(refusal.code, GENERIC))
    if refusal.code is Code.RISK_BLOCKED:
        reasons = " ".join(gettext(r) for r in risk_reason_texts(refusal.detail))
        text = f"{text} {reasons} {gettext(RISK_NEXT)}"
    return text


# What the passkey ceremonies (static/passkey.js) may be refused with: the page carries
# these sentences, translated, for the script to show instead of the server's detail.
CEREMONY_CODES: Final = (
    Code.PASSKEY_REFUSED,
    Code.PASSKEY_LIMIT_REACHED,
    Code.PASSKEY_NOT_FOUND,
    Code.LAST_PASSKEY,
    Code.STEP_UP_REQUIRED,
    Code.REFERRAL_CODE_INVALID,
    Code.INVALID_REQUEST,
    Code.RISK_BLOCKED,
)
TOO_MANY: Final = N_("Too many attempts; wait a few minutes.")


def ceremony_messages(gettext: Callable[[str], str]) -> str:
    """``{code: sentence}`` as JSON, for the passkey script (``_``: any other code)."""
    found = {code.value: gettext(MESSAGES[code]) for code in CEREMONY_CODES}
    return json.dumps(
        {**found, "too_many_attempts": gettext(TOO_MANY), "_": gettext(GENERIC)}, ensure_ascii=False
    )
