"""Assets and exact amounts.

An amount is a Python ``int`` counted in the asset's smallest unit: USD at scale 6 counts
micro-dollars, so ``125`` USD is 0.000125 dollars. Text is the only other form an amount takes
(on the wire, in a form field, on screen); this module converts between the two exactly and
refuses anything that is not an exact decimal within range. Floats are refused everywhere: a
binary float cannot hold 0.1, and a payments system that rounds silently loses money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from centime.limits import (
    AMOUNT_MAX,
    AMOUNT_TEXT_MAX,
    ASSET_CODE_LEN_MAX,
    ASSET_SCALE_MAX,
    ASSETS_MAX,
)

__all__ = [
    "ASSETS",
    "AmountError",
    "Asset",
    "asset_by_code",
    "format_amount",
    "parse_amount",
]


class AmountError(ValueError):
    """Text or a value that is not an acceptable amount; the message says why."""


_ASSET_CODE = re.compile(r"[A-Z][A-Z0-9]{1,11}")


@dataclass(frozen=True, slots=True)
class Asset:
    """A currency or unit of value: its code and how many decimal places one unit splits into.

    ``scale`` 6 means the smallest amount is 10**-6 of a whole unit. The largest amount any
    account may hold is ``AMOUNT_MAX`` units of the scale, whatever the asset.

    ``limit_unit``: the whole units of this asset that one unit of the platform's limits
    stands for. Limits (a KYC tier's daily top-up, say "1000") are written once for every
    asset; a thousand won is not a thousand dollars, so for won one limit unit is 1,000 won.

    ``minor_digits``: the currency's own minor unit (ISO 4217): two for cents, none for yen
    and won. Screens show at least these digits, and a limit is a whole number of minor
    units (whole yen, whole won: a limit of half a yen means nothing to a person).
    """

    code: str
    scale: int
    limit_unit: int = 1
    minor_digits: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not (
            _ASSET_CODE.fullmatch(self.code) and len(self.code) <= ASSET_CODE_LEN_MAX
        ):
            raise ValueError(f"asset code must be 2-12 capitals or digits, got {self.code!r}")
        if type(self.scale) is not int or not 0 <= self.scale <= ASSET_SCALE_MAX:
            raise ValueError(f"asset scale must be an int in 0..{ASSET_SCALE_MAX}")
        if type(self.limit_unit) is not int or self.limit_unit < 1:
            raise ValueError("an asset's limit unit is a positive int")
        if type(self.minor_digits) is not int or self.minor_digits < 0:
            raise ValueError("an asset's minor digits are an int, 0 or more")

    @property
    def units_per_whole(self) -> int:
        """How many of the smallest units make one whole unit (10**scale)."""
        return int(10**self.scale)

    def parse(self, text: str, *, allow_zero: bool = True) -> int:
        return parse_amount(text, self.scale, allow_zero=allow_zero)

    def format(self, amount: int) -> str:
        return format_amount(amount, self.scale)

    def short(self, amount: int) -> str:
        """The exact decimal without the zeros beyond the currency's minor digits:
        ``19.4365`` rather than ``19.436500`` dollars, ``1000`` yen; parses back to
        ``amount``."""
        whole, _, fraction = self.format(amount).partition(".")
        fraction = fraction.rstrip("0").ljust(min(self.minor_digits, self.scale), "0")
        return f"{whole}.{fraction}" if fraction else whole

    @property
    def minor_unit(self) -> int:
        """How many of the smallest units make one minor unit (a cent, a whole yen)."""
        return int(10 ** (self.scale - min(self.minor_digits, self.scale)))

    def limit(self, text: str) -> int:
        """A limit written in limit units (``"1000"``) as an amount of this asset: a whole
        number of its minor units, rounded down (a limit is a most)."""
        amount = min(parse_amount(text, self.scale) * self.limit_unit, AMOUNT_MAX)
        return amount - amount % self.minor_unit


# The assets the platform knows. Micropayments need sub-cent precision, hence scale 6 for
# fiat currencies; JPY and KRW have no minor unit, so scale 4 still gives ten-thousandths of
# a yen or a won (screens show whole won and yen, plus the digits a micro-amount really has;
# limits are whole yen and whole won: a limit unit is a hundred yen and a thousand won, each
# near what one limit unit of dollars buys, so that a tier's daily limit means the same).
ASSETS: Final[dict[str, Asset]] = {
    asset.code: asset
    for asset in (
        Asset("USD", 6),
        Asset("EUR", 6),
        Asset("GBP", 6),
        Asset("JPY", 4, limit_unit=100, minor_digits=0),
        Asset("KRW", 4, limit_unit=1000, minor_digits=0),
    )
}
if len(ASSETS) > ASSETS_MAX:  # one unit's bound on ledger events counts on at most this many
    raise RuntimeError("more assets than limits.ASSETS_MAX: raise it (BATCH_PAYMENTS_MAX follows)")


def asset_by_code(code: str) -> Asset:
    """The known asset with this code; ``KeyError`` names the code when there is none."""
    try:
        return ASSETS[code]
    except KeyError:
        raise KeyError(f"unknown asset {code!r}") from None


# Digits, optionally one point with digits after it. No exponent, no sign, no spaces, no
# thousands separators: those are where parsers disagree, and disagreement costs money.
_DECIMAL = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")


def parse_amount(
    text: str, scale: int, *, allow_zero: bool = True, allow_negative: bool = False
) -> int:
    """Parse a decimal string into an exact integer amount at ``scale``.

    ``parse_amount("0.000125", 6) == 125``. Refuses floats and other non-strings, exponents,
    more decimals than the scale holds (rather than rounding them away), a sign unless
    ``allow_negative``, zero unless ``allow_zero``, and magnitudes above ``AMOUNT_MAX``.
    """
    _check_scale(scale)
    if not isinstance(text, str):
        raise AmountError(f"an amount must be a decimal string, not {type(text).__name__}")
    if len(text) > AMOUNT_TEXT_MAX:
        raise AmountError(f"an amount has at most {AMOUNT_TEXT_MAX} characters")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise AmountError(f"not a plain decimal number: {text!r}")
    fraction = match["fraction"] or ""
    if len(fraction) > scale:
        raise AmountError(f"{text!r} has {len(fraction)} decimals; this asset allows {scale}")
    magnitude: int = int(match["whole"]) * int(10**scale) + int(fraction.ljust(scale, "0") or "0")
    if magnitude > AMOUNT_MAX:
        raise AmountError(f"{text!r} is above the largest amount")
    if match["sign"] and magnitude != 0 and not allow_negative:
        raise AmountError(f"a negative amount is not allowed here: {text!r}")
    if magnitude == 0 and not allow_zero:
        raise AmountError("the amount must not be zero")
    return -magnitude if match["sign"] else magnitude


def format_amount(amount: int, scale: int) -> str:
    """Format an integer amount at ``scale`` as a decimal string with exactly ``scale`` decimals.

    ``format_amount(125, 6) == "0.000125"``; the inverse of :func:`parse_amount`.
    """
    _check_scale(scale)
    if type(amount) is not int:
        raise AmountError(f"an amount must be an int, not {type(amount).__name__}")
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), int(10**scale))
    if scale == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{scale}d}"


def _check_scale(scale: int) -> None:
    if type(scale) is not int or not 0 <= scale <= ASSET_SCALE_MAX:
        raise ValueError(f"a scale is an int in 0..{ASSET_SCALE_MAX}, got {scale!r}")
