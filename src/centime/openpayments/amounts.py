"""Open Payments amounts (``{value, assetCode, assetScale}``) and centime's exact integers.

An amount on the wire is an unsigned 64-bit integer as a decimal string, in an asset and a
scale. It maps to a centime amount only when the asset is one of ours AND the scale is that
asset's scale: a client that believes USD has scale 2 is refused, never rescaled (the wallet
address says which scale it speaks). Values above what a ledger account holds are refused.
No float is involved anywhere: the value is parsed from its digits.
"""

from __future__ import annotations

import re
from typing import Any, Final

from centime.limits import AMOUNT_MAX
from centime.money import ASSETS

from .errors import OpError

__all__ = ["UINT64_MAX", "amount_json", "parse_amount", "parse_amount_for"]

UINT64_MAX: Final = 2**64 - 1
_DIGITS: Final = re.compile(r"0|[1-9][0-9]{0,19}")


def amount_json(value: int, asset: str) -> dict[str, Any]:
    """The wire form of ``value`` units of ``asset`` at its scale."""
    if type(value) is not int or not 0 <= value <= AMOUNT_MAX:
        raise ValueError("an amount on the wire is an int in 0..AMOUNT_MAX")
    return {"value": str(value), "assetCode": asset, "assetScale": ASSETS[asset].scale}


def parse_amount(raw: object, field: str, *, positive: bool = True) -> tuple[str, int]:
    """``(asset, value)`` of a wire amount, or OpError 400 ``invalid_request`` naming the
    field: not an object, unknown keys, a value that is not a uint64 string, an asset we do
    not hold, a scale that is not the asset's, zero when ``positive``."""
    if not isinstance(raw, dict) or set(raw) != {"value", "assetCode", "assetScale"}:
        raise OpError(400, "invalid_request", f"{field}: value, assetCode and assetScale")
    value, code, scale = raw["value"], raw["assetCode"], raw["assetScale"]
    if type(value) is not str or not _DIGITS.fullmatch(value) or int(value) > UINT64_MAX:
        raise OpError(400, "invalid_request", f"{field}.value: an unsigned 64-bit integer string")
    asset = ASSETS.get(code) if type(code) is str else None
    if asset is None:
        raise OpError(400, "invalid_request", f"{field}.assetCode: not an asset of this wallet")
    if type(scale) is not int or scale != asset.scale:
        raise OpError(
            400, "invalid_request", f"{field}.assetScale: {asset.code} has scale {asset.scale} here"
        )
    amount = int(value)
    if amount > AMOUNT_MAX:
        raise OpError(400, "invalid_request", f"{field}.value: above the largest amount")
    if positive and amount == 0:
        raise OpError(400, "invalid_request", f"{field}.value: must not be zero")
    return asset.code, amount


def parse_amount_for(raw: object, field: str, asset: str) -> int:
    """The value of a wire amount that must be in the wallet's ``asset``."""
    code, amount = parse_amount(raw, field)
    if code != asset:
        raise OpError(400, "invalid_request", f"{field}: the wallet address holds {asset}")
    return amount
