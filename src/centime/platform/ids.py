"""Ids: the ledger's integers and the public prefixed strings the API shows.

Inside, every entity and every ledger record has a positive 63-bit integer id. Outside, ids
are prefixed strings (``cus_``, ``mer_``, ``pay_``...) as payment APIs write them: the prefix
says what the id names, so a payment id pasted where a customer id belongs is refused before
anything is looked up.

New ids are time-ordered (``new_id``, ``new_id_block``: the time in the high bits, like a
UUIDv7 in 63 bits), so the rows a platform writes now land together at the right edge of
each table's B-tree rather than on random pages. Ids that must be the same every time an
operation is retried (the ledger transfers of a payment, the accounts of a wallet) are
derived from what names them (``derive_id``), so a retry meets ``exists`` in the ledger
instead of moving money twice.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from typing import Final

from centime.ledger.units import valid_id
from centime.limits import ID_MAX

__all__ = [
    "LANES",
    "PREFIXES",
    "derive_id",
    "format_id",
    "new_id",
    "new_id_block",
    "parse_id",
    "random_id",
    "set_id_lane",
    "valid_id",
]

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
_PAIRS: Final = tuple(high + low for high in _DIGITS for low in _DIGITS)  # 10 bits each
if _WIDTH != 1 + 2 * 6:
    raise RuntimeError("format_id writes one digit and six pairs")


_TICK_SHIFT: Final = 30  # the time unit: 2^30 ns, about 1.07 s
_LOW_BITS: Final = 31  # below the time: 2^31 ids per unit; (2^62 ns >> 30) << 31 < 2^63
_LOW_MASK: Final = (1 << _LOW_BITS) - 1
_LANE_BITS: Final = 8  # LANES processes with a lane each (one PostgreSQL database)
LANES: Final = 1 << _LANE_BITS
_LANE_SIZE: Final = 1 << (_LOW_BITS - _LANE_BITS)  # 2^23 ids per unit and lane


class _Sequence:
    """One process's ids: strictly increasing, the time unit in the high 32 bits.

    An id is ``unit << 31 | low``, ``unit`` being ``time_ns() >> 30`` (it fits 32 bits
    until 2116). In each unit the process starts at a random ``low`` in the lower half and
    counts up by one, so within a process ids never repeat, and a clock set back or a unit
    overflowing its 2^31 ids only moves on from the last id (still increasing).

    Collisions across processes without lanes (below): two processes' ids of a unit are two
    runs from
    independent uniform starts in 2^30; runs of a and b ids overlap with odds about
    (a + b) / 2^30. Two processes each writing 1,000 ids a second: 1.9e-6 a second (once in
    about six days). Batch decisions take blocks of 8,192 (``new_id_block(13)``) from the
    same run, so a batch of 8,189 payments takes about 16,400 ids (its payments' and its
    decisions'): two processes each writing one such batch a second, about 3e-5 a second
    (once in about nine hours at that sustained rate). Within a process, concurrent batches
    never overlap (the lock below): one process, the SQLite deployment, never collides. A
    collision is refused by the table's key, except where an id is also an idempotency key:
    a payment whose id meets a stored payment of the same customer, merchant and amount is
    answered as that one (``payments.service._replayed``). Ids are keys, not secrets: access
    goes by API key and ownership, never by knowing an id.

    Lanes remove those odds: a process given a lane (``set_id_lane``; on PostgreSQL the
    composition root claims one with an advisory lock, so live processes of one database
    hold distinct lanes) counts only within ``lane << 23`` .. ``+ 2^23`` of each unit, and
    runs of processes of different lanes never meet. A unit's lane holds 8.4 million ids;
    beyond, the process moves on to the next unit (ids stay increasing).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unit = -1
        self._last = 0
        self._range = (0, 1 << _LOW_BITS)  # the low ids this process counts in: no lane

    def reset(self) -> None:
        """After fork: the child draws its own start (else it repeats the parent's ids)
        and has no lane (its parent's lock is not its own)."""
        self._lock = threading.Lock()
        self._unit, self._last = -1, 0
        self._range = (0, 1 << _LOW_BITS)

    def set_lane(self, lane: int | None) -> None:
        if lane is not None and not 0 <= lane < LANES:
            raise ValueError(f"a lane is in 0..{LANES - 1}")
        with self._lock:
            self._range = (0, 1 << _LOW_BITS) if lane is None else (lane * _LANE_SIZE, _LANE_SIZE)
            self._unit = -1  # the next id starts afresh within the range

    def take(self, bits: int) -> int:
        """The first of 2^bits consecutive ids, itself a multiple of 2^bits."""
        mask = (1 << bits) - 1
        unit = time.time_ns() >> _TICK_SHIFT
        with self._lock:
            low_first, size = self._range
            first = self._last + 1
            if unit > self._unit:
                self._unit = unit
                start = low_first + secrets.randbelow(size // 2)  # the upper half: headroom
                first = max(first, unit << _LOW_BITS | start)
            first = (first + mask) & ~mask
            low = first & _LOW_MASK
            if low < low_first:  # ids of before the lane, lower in this unit: skip to it
                first += low_first - low
            elif low + mask >= low_first + size:  # the range of this unit is spent
                first = ((first >> _LOW_BITS) + 1) << _LOW_BITS | low_first
            if first + mask > ID_MAX:
                raise OverflowError("ids are exhausted (after the year 2116)")
            self._last = first + mask
            return first


_SEQUENCE: Final = _Sequence()
os.register_at_fork(after_in_child=_SEQUENCE.reset)


def new_id() -> int:
    """A new id in 1..2^63-1, greater than every id this process made before: the time
    in the high bits, then a random start and a count (odds of collision: ``_Sequence``)."""
    return _SEQUENCE.take(0)


def set_id_lane(lane: int | None) -> None:
    """This process's new ids from now on count in ``lane`` (0..LANES-1) of each time unit,
    or anywhere (None). Lanes held by live processes of one database must be distinct: the
    composition root claims them (``centime.app``)."""
    _SEQUENCE.set_lane(lane)


def random_id() -> int:
    """A uniformly random id in 1..2^63-1, for the few ids that stand in for a capability
    and so must not be guessable from another: a payment link's public URL (anyone holding
    it sees the link), a passkey's user handle."""
    return secrets.randbelow(ID_MAX) + 1


def new_id_block(bits: int) -> int:
    """The first of 2^``bits`` consecutive new ids (``first | i`` for i below 2^bits),
    reserved whole for the caller: no other ``new_id`` of this process falls among them."""
    if not 0 <= bits <= 20:
        raise ValueError("a block is 1 to 2^20 ids")
    return _SEQUENCE.take(bits)


def derive_id(*parts: object) -> int:
    """A stable id in 1..2^63-1 for what ``parts`` name (BLAKE2b of their text)."""
    text = "\x1f".join(str(part) for part in parts).encode()
    value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") & ID_MAX
    return value or 1


def format_id(prefix: str, value: int) -> str:
    """``pay_0000000000042`` for payment 42: fixed width, so ids sort as their numbers."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    # The 13 digits of the low 65 bits, most significant first: one, then six pairs (a
    # table of the 1024 pairs; a digit at a time was a loop of 13 divmods, 3x slower).
    pairs = _PAIRS
    return (
        f"{prefix}_{_DIGITS[(value >> 60) & 31]}{pairs[(value >> 50) & 1023]}"
        f"{pairs[(value >> 40) & 1023]}{pairs[(value >> 30) & 1023]}"
        f"{pairs[(value >> 20) & 1023]}{pairs[(value >> 10) & 1023]}{pairs[value & 1023]}"
    )


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
