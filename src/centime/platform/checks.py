"""The checks every context applies to what a caller gives before money moves: an amount
of a known asset, a bounded text. Here, in the kernel, so that any context checks the same
way without importing another (pricing's promotions budget and the payments alike)."""

from __future__ import annotations

from centime.limits import AMOUNT_MAX
from centime.money import ASSETS

from .errors import Code, Refusal

__all__ = ["check_amount", "check_text"]


def check_amount(asset: object, amount: object) -> Refusal | None:
    """Why ``amount`` of ``asset`` cannot move, or None: a known asset, an int 1..AMOUNT_MAX."""
    if type(asset) is not str or asset not in ASSETS:
        return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if type(amount) is not int or not 1 <= amount <= AMOUNT_MAX:
        return Refusal(Code.INVALID_AMOUNT, f"the amount must be an integer in 1..{AMOUNT_MAX}")
    return None


def check_text(name: str, value: object, length_max: int) -> Refusal | None:
    """Why ``value`` cannot be the ``name`` text, or None: None, or at most ``length_max``
    characters."""
    if value is not None and (type(value) is not str or len(value) > length_max):
        return Refusal(Code.INVALID_REQUEST, f"{name} is text of at most {length_max} characters")
    return None
