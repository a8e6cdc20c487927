"""What every resource's wire shares: request and response bases, money, times, problems and
the text and id forms of request fields (the rules: :mod:`centime.wire`)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from centime.limits import (
    AMOUNT_MAX,
    ASSET_SCALE_MAX,
    DESCRIPTION_LEN_MAX,
    REFERENCE_LEN_MAX,
    TIMEOUT_MAX_S,
)
from centime.money import ASSETS

__all__ = [
    "AMOUNT_PATTERN",
    "ASSET_PATTERN",
    "ID_DIGITS",
    "KYC_TIER_MAX",
    "NS_PER_S",
    "TEXT_PATTERN",
    "Cursor",
    "CustomerId",
    "Description",
    "FieldError",
    "Health",
    "Input",
    "MandateId",
    "MerchantId",
    "Money",
    "Output",
    "Problem",
    "Reference",
    "ScopeName",
    "Status",
    "TimeoutS",
    "WireError",
    "extended",
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


# gc=False on the wire's structs: a body holds text, numbers, lists and other structs, never
# a cycle, so the garbage collector need not track them; untracked, the ~16,000 structs a
# batch of 8189 payments decodes (and as many it answers) add nothing to the collections
# they would otherwise trigger and lengthen (a full one of the server: 0.2-0.5 s here).
class Input(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """A request body: unknown fields refused."""


class Output(Struct, kw_only=True, gc=False):
    """A response body."""


Wider = TypeVar("Wider", bound=Output)


def extended(base: Output, wider: type[Wider], **more: Any) -> Wider:
    """``base`` as the ``wider`` type that adds fields to it (a new key with its secret, a
    case with its evidence): its own fields copied, the added ones from ``more``."""
    return wider(**{name: getattr(base, name) for name in base.__struct_fields__}, **more)


class WireError(ValueError):
    """A field that decoded but is not acceptable: ``code`` is the problem code (a
    ``centime.platform.errors.Code`` value), ``field`` the path of the field."""

    def __init__(self, code: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.field = field
        self.detail = detail


# ------------------------------------------------------------------ money


class Money(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
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


# Free text (names, emails, descriptions, references, notes) may not hold NUL: PostgreSQL
# text cannot store it (the insert failed with a 500 there, and worked on SQLite).
TEXT_PATTERN: Final = r"^[^\x00]*$"
Cursor = str | None

# Public ids in request bodies: the prefix and 13 Crockford base32 digits
# (centime.platform.ids), so that the OpenAPI document shows the form.
# 13 digits hold 65 bits and an id is below 2^63, so the first digit is 0-7: the pattern
# says so, else the document would allow ids the server refuses.
ID_DIGITS: Final = "[0-7][0-9a-hjkmnp-tv-z]{12}$"
CustomerId = Annotated[str, Meta(pattern=f"^cus_{ID_DIGITS}")]
MerchantId = Annotated[str, Meta(pattern=f"^mer_{ID_DIGITS}")]
MandateId = Annotated[str, Meta(pattern=f"^man_{ID_DIGITS}")]
Description = Annotated[str, Meta(max_length=DESCRIPTION_LEN_MAX, pattern=TEXT_PATTERN)]
Reference = Annotated[str, Meta(max_length=REFERENCE_LEN_MAX, pattern=TEXT_PATTERN)]

# ``ge=1``, not ``gt=0``: Litestar drops a bound of 0 from the document (see KycTier).
TimeoutS = Annotated[int, Meta(ge=1, le=TIMEOUT_MAX_S)]
