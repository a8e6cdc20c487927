"""Problem details the services build from values, translated with the values kept.

A refusal's ``detail`` such as ``unknown asset 'XYZ'`` is an f-string: the catalogue cannot
hold it whole. Each such detail's shape is listed here as a gettext template with named
placeholders (``unknown asset %(asset)s``); the English detail is matched against the
templates, its values taken out, and the translated template filled with them. A value that
is an amount (``0.005000 USD``, or a number and ``%(asset)s`` after it) is written again as
the locale writes amounts, a ``%(duration)s`` in the locale's units, a ``%(status)s`` in words
(``STATUS_WORDS``). A test keeps
this list and the services' f-strings in step (tests/web/test_problem_text.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Final

from centime.money import ASSETS

from .i18n import Formats
from .messages import N_

__all__ = ["DETAIL_TEMPLATES", "STATUS_WORDS", "template_pattern", "translate_built_detail"]

DETAIL_TEMPLATES: Final = (
    N_("unknown asset %(asset)s"),
    N_("method must be one of %(choices)s"),
    N_("the top-up is %(status)s"),
    N_("the top-up is %(provider)s's"),
    N_("the case is %(status)s"),
    N_("label is one of %(choices)s"),
    N_("timeout_s is an integer in 1..%(max)s"),
    N_("the hold is %(status)s"),
    N_("the hold is in %(asset)s"),
    N_("this payment link is %(status)s"),
    N_("the amount must be an integer in 1..%(max)s"),
    N_("%(name)s is text of at most %(max)s characters"),
    N_("a batch holds 1..%(max)s payments"),
    N_("name must be 1-%(max)s characters"),
    N_("kyc_tier must be one of %(choices)s"),
    N_("fee_bp must be an integer in 0..%(max)s"),
    N_("the payment is in %(asset)s"),
    N_("%(amount)s of the payment is refundable"),
    N_("%(name)s must be an integer in %(low)s..%(high)s"),
    N_("a period is at most %(days)s days"),
    N_("uses_max: 1..%(max)s"),
    N_("per_customer_max: 1..%(max)s"),
    N_("the code %(code)s exists"),
    N_("at most %(max)s passkeys"),
    N_("at most %(max)s keys in force"),
    N_("no payout rail %(rail)s is set up"),
    N_("the rail refused the account: %(reason)s"),
    N_("device_id: 1-%(max)s characters"),
    N_("1 to %(max)s labels at a time"),
    N_("funding_id names another (%(status)s)"),
    N_("note is text of at most %(max)s"),
    N_("the balance may not exceed %(limit)s %(asset)s"),
    N_("the daily top-up limit is %(limit)s %(asset)s; %(left)s %(asset)s left today"),
    N_("%(count)s rows: an export holds at most %(max)s; shorten it"),
    N_("event_types: unknown types %(types)s"),
    N_("overlap_s: 0..%(max)s seconds"),
    N_("description: at most %(max)s characters"),
    N_("description must be 1-%(max)s characters"),
    N_("at most %(max)s quotes a day"),
    N_("at most %(max)s payout methods; remove one first"),
    N_("at most %(max)s passkeys per person"),
    N_("at most %(max)s active keys; revoke one first"),
    N_("a referrer is named within %(days)s days of signing up"),
    N_("a payout-method change locks payouts for %(duration)s more"),
    N_("a passkey's name is 1-%(max)s characters"),
    N_("a merchant has at most %(max)s endpoints"),
    N_("the provider did not answer %(count)s times; the top-up waits for its report"),
    N_("this key lacks the %(scope)s scope"),
)
# The states a built detail names (``the hold is released``), in words: the values of the
# services' status enums (holds, top-ups, payment links, review cases, payouts, mandates).
STATUS_WORDS: Final = {
    "authorized": N_("authorized"),
    "captured": N_("captured"),
    "released": N_("released"),
    "expired": N_("expired"),
    "pending": N_("pending"),
    "succeeded": N_("succeeded"),
    "declined": N_("declined"),
    "failed": N_("failed"),
    "charged_back": N_("charged back"),
    "active": N_("active"),
    "used": N_("used"),
    "disabled": N_("disabled"),
    "open": N_("open"),
    "approved": N_("approved"),
    "requested": N_("requested"),
    "paid": N_("paid"),
    "returned": N_("returned"),
    "revoked": N_("revoked"),
    "held": N_("held"),
    "refused": N_("refused"),
}
_PLACEHOLDER: Final = re.compile(r"%\((\w+)\)s")
_AMOUNT: Final = re.compile(r"(-?\d+(?:\.\d+)?) ([A-Z][A-Z0-9]{1,11})")
_DURATION: Final = re.compile(r"(\d+) (d|h|min|s)")
_UNIT_S: Final = {"d": 86_400, "h": 3_600, "min": 60, "s": 1}
# The most literal text first: "the hold is in USD" is the asset's template, not the status's.
_BY_SPECIFICITY: Final = sorted(DETAIL_TEMPLATES, key=lambda t: -len(_PLACEHOLDER.sub("", t)))


@cache
def template_pattern(template: str) -> re.Pattern[str]:
    """The template as a pattern matching its English text whole, a group per value."""
    parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    seen: set[str] = set()
    pattern = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            pattern += re.escape(part)
        else:  # a name used twice is the same value twice
            pattern += f"(?P={part})" if part in seen else f"(?P<{part}>.+?)"
            seen.add(part)
    return re.compile(pattern, re.DOTALL)


def _money(number: str, asset: str, formats: Formats) -> str | None:
    """``number`` of ``asset`` as the locale writes it, or None (not an amount of it)."""
    if asset not in ASSETS:
        return None
    try:
        return formats.money(ASSETS[asset].parse(number), asset)
    except ValueError:
        return None


def _local_value(name: str, value: str, formats: Formats, gettext: Callable[[str], str]) -> str:
    """An amount with its asset, a duration or a status as the locale writes them; any
    other value unchanged."""
    if name == "status" and value in STATUS_WORDS:
        return gettext(STATUS_WORDS[value])
    if name == "duration" and _DURATION.sub("", value).strip() == "":
        seconds = sum(int(n) * _UNIT_S[unit] for n, unit in _DURATION.findall(value))
        return formats.duration(seconds)
    found = _AMOUNT.fullmatch(value)
    local = _money(found.group(1), found.group(2), formats) if found else None
    return value if local is None else local


def _fill(
    translated: str, values: dict[str, str], formats: Formats, gettext: Callable[[str], str]
) -> str:
    """The translated template with the values, a number followed by ``%(asset)s`` written
    as an amount of that asset (the pair becomes one value)."""
    filled = {k: _local_value(k, v, formats, gettext) for k, v in values.items()}
    for name in _PLACEHOLDER.findall(translated):
        pair = f"%({name})s %(asset)s"
        local = (
            _money(values[name], values.get("asset", ""), formats) if pair in translated else None
        )
        if local is not None:
            translated = translated.replace(pair, f"%({name})s")
            filled[name] = local
    return translated % filled


def translate_built_detail(
    detail: str, gettext: Callable[[str], str], formats: Formats, *, same: bool = False
) -> str | None:
    """``detail`` translated if it has one of the templates' shapes and the catalogue
    translates that template (``same``: or keeps it, as English does: the values are still
    written the locale's way, for a page); else None."""
    for template in _BY_SPECIFICITY:
        found = template_pattern(template).fullmatch(detail)
        if found is None:
            continue
        translated = gettext(template)
        if translated == template and not same:
            return None
        return _fill(translated, found.groupdict(), formats, gettext)
    return None
