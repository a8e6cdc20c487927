"""Ids: the ledger's integers and the public prefixed strings the API shows.

Inside, every entity and every ledger record has a positive 63-bit integer id. Outside, ids
are prefixed strings (``cus_``, ``mer_``, ``pay_``...) as payment APIs write them: the prefix
says what the id names, so a payment id pasted where a customer id belongs is refused before
anything is looked up.

New ids are random (``new_id``); ids that must be the same every time an operation is retried
(the ledger transfers of a payment, the accounts of a wallet) are derived from what names
them (``derive_id``), so a retry meets ``exists`` in the ledger instead of moving money twice.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from centime.ledger.units import valid_id
from centime.limits import ID_MAX

__all__ = ["PREFIXES", "derive_id", "format_id", "new_id", "parse_id", "valid_id"]

# Every prefix the platform hands out, and what it names.
PREFIXES: Final = {
    "cus": "customer",
    "mer": "merchant",
    "opr": "operator",
    "acct": "ledger account",
    "top": "top-up",
    "pay": "payment",
    "hold": "metered hold",
    "tr": "transfer between customers",
    "ref": "refund",
    "key": "API key",
    "bat": "payment batch",
    "man": "mandate",
    "evt": "outbox event",
    "promo": "promotion code",  # pricing
    "case": "risk review case",
    "rsk": "risk decision",
    # webhooks
    "we": "webhook endpoint",
    "wd": "webhook delivery",
    "wa": "webhook delivery attempt",
    # Payouts.
    "po": "payout",
    "pm": "payout method (a merchant's bank account)",
    "quo": "instant-payout quote",
    # Web (issue 6).
    "plink": "payment link",
}

_DIGITS: Final = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_WIDTH: Final = 13  # 13 base32 digits hold 65 bits
_VALUE: Final = {c: i for i, c in enumerate(_DIGITS)}


def new_id() -> int:
    """A random id in 1..2^63-1. Two of a billion ids collide with odds of about 1 in 18
    billion, and every insert is keyed, so a collision is refused, never merged."""
    return secrets.randbelow(ID_MAX) + 1


def derive_id(*parts: object) -> int:
    """A stable id in 1..2^63-1 for what ``parts`` name (BLAKE2b of their text)."""
    text = "\x1f".join(str(part) for part in parts).encode()
    value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") & ID_MAX
    return value or 1


def format_id(prefix: str, value: int) -> str:
    """``pay_0000000000042`` for payment 42: fixed width, so ids sort as their numbers."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digits = []
    for _ in range(_WIDTH):
        value, digit = divmod(value, 32)
        digits.append(_DIGITS[digit])
    return f"{prefix}_{''.join(reversed(digits))}"


def parse_id(prefix: str, text: object) -> int | None:
    """The integer behind a public id with this prefix, or None for anything else."""
    if type(text) is not str or len(text) != len(prefix) + 1 + _WIDTH:
        return None
    head, _, digits = text.partition("_")
    if head != prefix:
        return None
    value = 0
    for char in digits:
        digit = _VALUE.get(char)
        if digit is None:
            return None
        value = value * 32 + digit
    return value if 0 < value <= ID_MAX else None
