"""Field-level problem details in the reader's language (``errors[].detail``).

A 400 names each field that was not acceptable, with a short detail: the API's own
(``required``, ``must not be zero``, ``unknown asset; known: EUR, USD``) or msgspec's, the
strict decoder of bodies and parameters (``Expected `int`, got `str```). Both are English
for developers; a person whose client asks for Korean reads them translated here: an exact
detail from the catalogue, a detail built from values through its template (the values
kept; JSON type names, id kinds and the known patterns in words). ``field`` never changes:
programs match on it. tests/web/test_problem_text.py keeps this list and the sources' field
details in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from centime.platform.ids import PREFIXES
from centime.wire.common import AMOUNT_PATTERN, ASSET_PATTERN

from .detail_templates import template_pattern
from .messages import N_

__all__ = ["FIELD_DETAILS", "FIELD_TEMPLATES", "ID_KINDS", "translate_errors", "translate_field"]

# Field details written whole in the sources (centime.api, centime.http, centime.wire).
FIELD_DETAILS: Final = (
    N_("required"),
    N_("not valid JSON"),
    N_("not a valid key"),
    N_("not a cursor of this listing"),
    N_("required with the operator's key"),
    N_("required with a merchant's key"),
    N_("not a date or an RFC 3339 time"),
    N_("a JSON body is required"),
    N_("1-255 printable ASCII characters"),
    N_("an integer string, no sign"),
    N_("must not be zero"),
    # msgspec's without values.
    N_("Invalid RFC3339 encoded datetime"),
    N_("Invalid RFC3339 encoded date"),
    N_("Invalid RFC3339 encoded time"),
    N_("Invalid base64 encoded string"),
    N_("Invalid UUID"),
    N_("Invalid decimal string"),
    N_("Integer value out of range"),
)

# Field details built from values: the API's, then msgspec's (the most literal first is not
# needed: no two of these match one text).
FIELD_TEMPLATES: Final = (
    N_("unknown asset; known: %(known)s"),
    N_(
        "%(asset)s has scale %(scale)s, not %(given)s: value counts units of"
        " 10^-%(scale)s %(asset)s"
    ),
    N_("at most %(max)s"),
    N_("the code's asset is %(asset)s"),
    N_("%(asset)s is listed twice"),
    N_("not a %(kind)s id (%(prefix)s_ and 13 characters)"),
    N_("Expected `%(type)s`, got `%(got)s`"),
    N_("Object missing required field `%(name)s`"),
    N_("Object contains unknown field `%(name)s`"),
    N_("Expected `%(type)s` of length <= %(max)s"),
    N_("Expected `%(type)s` of length >= %(min)s"),
    N_("Expected `%(type)s` <= %(max)s"),
    N_("Expected `%(type)s` >= %(min)s"),
    N_("Expected `%(type)s` < %(max)s"),
    N_("Expected `%(type)s` > %(min)s"),
    N_("Expected `%(type)s` that's a multiple of %(step)s"),
    N_("Expected `%(type)s` with a timezone component"),
    N_("Expected `%(type)s` matching regex %(regex)s"),
    N_("Invalid enum value %(value)s"),
    N_("Invalid value %(value)s"),
)

# JSON's types as msgspec names them, in words.
TYPE_WORDS: Final = {
    "int": N_("an integer"),
    "float": N_("a number"),
    "str": N_("text"),
    "bool": N_("true or false"),
    "object": N_("an object"),
    "array": N_("a list"),
    "null": N_("null"),
    "bytes": N_("bytes"),
    "datetime": N_("a date and time"),
}

# What each id prefix names (centime.platform.ids.PREFIXES; a test keeps them in step).
ID_KINDS: Final = {
    "customer": N_("customer"),
    "merchant": N_("merchant"),
    "operator": N_("operator"),
    "ledger account": N_("ledger account"),
    "top-up": N_("top-up"),
    "payment": N_("payment"),
    "metered hold": N_("metered hold"),
    "transfer between customers": N_("transfer between customers"),
    "refund": N_("refund"),
    "API key": N_("API key"),
    "payment batch": N_("payment batch"),
    "mandate": N_("mandate"),
    "outbox event": N_("outbox event"),
    "promotion code": N_("promotion code"),
    "risk review case": N_("risk review case"),
    "risk decision": N_("risk decision"),
    "webhook endpoint": N_("webhook endpoint"),
    "webhook delivery": N_("webhook delivery"),
    "webhook delivery attempt": N_("webhook delivery attempt"),
    "payout": N_("payout"),
    "payout method (a merchant's bank account)": N_("payout method (a merchant's bank account)"),
    "instant-payout quote": N_("instant-payout quote"),
    "payment link": N_("payment link"),
}

# Patterns a person cannot read, said in words: an id's (cus_ and 13 base32 characters), an
# amount's and an asset code's.
_ID_REGEX: Final = re.compile(r"'\^(?P<prefix>[a-z]+)_\[0-7\]\[0-9a-hjkmnp-tv-z\]\{12\}\$'")
ID_SHAPE: Final = N_("not a %(kind)s id (%(prefix)s_ and 13 characters)")
REGEX_WORDS: Final = {
    repr(AMOUNT_PATTERN): N_("an integer string, no sign"),
    repr(ASSET_PATTERN): N_("an asset code in capitals, like USD"),
}
OTHER_FORM: Final = N_("not in the expected form (%(regex)s)")
_REGEX_TEMPLATE: Final = FIELD_TEMPLATES[-3]


def _words(value: str, gettext: Callable[[str], str]) -> str:
    """``str | null`` as ``text | null`` in the reader's words."""
    return " | ".join(gettext(TYPE_WORDS.get(part, part)) for part in value.split(" | "))


def _regex(regex: str, gettext: Callable[[str], str]) -> str:
    found = _ID_REGEX.fullmatch(regex)
    if found is not None and found["prefix"] in PREFIXES:
        kind = gettext(ID_KINDS.get(PREFIXES[found["prefix"]], PREFIXES[found["prefix"]]))
        return gettext(ID_SHAPE) % {"kind": kind, "prefix": found["prefix"]}
    if regex in REGEX_WORDS:
        return gettext(REGEX_WORDS[regex])
    return gettext(OTHER_FORM) % {"regex": regex}


def translate_field(detail: str, gettext: Callable[[str], str]) -> str:
    """A field's detail in the catalogue's language; unchanged when it has no translation."""
    exact = gettext(detail)
    if exact != detail:
        return exact
    for template in FIELD_TEMPLATES:
        found = template_pattern(template).fullmatch(detail)
        if found is None:
            continue
        values = found.groupdict()
        if template == _REGEX_TEMPLATE:
            return _regex(values["regex"], gettext)
        for name in ("type", "got"):
            if name in values:
                values[name] = _words(values[name], gettext)
        if "kind" in values:
            values["kind"] = gettext(ID_KINDS.get(values["kind"], values["kind"]))
        translated = gettext(template)
        return detail if translated == template else translated % values
    return detail


def translate_errors(errors: Any, gettext: Callable[[str], str]) -> tuple[Any, str | None]:
    """``errors`` with each ``detail`` translated, and the details as one text (``field:
    detail; ...``, as the API writes a problem's detail from its fields), or None when
    ``errors`` is not a list of fields."""
    if not isinstance(errors, list) or not errors:
        return errors, None
    if not all(
        isinstance(e, dict) and isinstance(e.get("field"), str) and isinstance(e.get("detail"), str)
        for e in errors
    ):
        return errors, None
    translated = [{**e, "detail": translate_field(e["detail"], gettext)} for e in errors]
    return translated, "; ".join(f"{e['field']}: {e['detail']}" for e in translated)
