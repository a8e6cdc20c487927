"""Mandates: a customer's consent that a merchant may charge it, up to a bound per day.

A merchant may take a customer's money on its own initiative (an API call with the
merchant's key: a payment, a metered hold) only under a mandate the customer granted: an
active mandate of that customer to that merchant in that asset, whose charges of the day
(the UTC day of the engine clock) plus this one stay within ``amount_max_daily``. The
customer may revoke it at any time; revocation is final.

The day's total is kept on the mandate row (``spent_today`` for ``day``) rather than summed
from payments, so a charge costs one row read and one row write. A hold counts with its
authorized amount when it is authorized (the consent is about what may be taken, and an
authorization may be captured whole); its capture does not count again, and what a capture
or a release leaves uncaptured is not given back. Refunds do not give anything back either.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from centime.ledger.errors import OverlapLostError
from centime.ledger.units import UnitContext
from centime.limits import AMOUNT_MAX, SQL_IN_CHUNK
from centime.money import ASSETS

from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import money
from ..events.webhooks import notify
from ..ids import format_id, new_id
from ..pages import Cursor, Page, given
from ..parties.service import Merchant, active_customer, active_merchant
from ..rows import Table

__all__ = [
    "Mandate",
    "MandateStatus",
    "active_parties",
    "add_mandate_charges",
    "charge_day",
    "charge_under_mandate",
    "create_mandate",
    "get_mandate",
    "group_charged",
    "list_mandates",
    "load_mandates",
    "revoke_mandate",
    "save_mandate_charges",
    "utc_day",
]


class MandateStatus(enum.Enum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Mandate:
    """The customer's consent that the merchant charges it in ``asset``, up to
    ``amount_max_daily`` per UTC day; while active (revoking it is final)."""

    id: int
    customer_id: int
    merchant_id: int
    asset: str
    amount_max_daily: int
    status: MandateStatus
    spent_today: int  # charged on ``day`` (a UTC day number: engine ns // ns per day)
    day: int
    created_ns: int
    revoked_ns: int | None

    def spent_on(self, day: int) -> int:
        """What was charged under the mandate on ``day``."""
        return self.spent_today if self.day == day else 0


_MANDATES: Final = Table(Mandate, "mandates")
# Mandates written by one statement (3 parameters each: under every store's bound).
MANDATE_ROWS_MAX: Final = SQL_IN_CHUNK // 4


def utc_day(now_ns: int) -> int:
    """The UTC day number of an engine time (days since 1970-01-01)."""
    return now_ns // NS_PER_DAY


# ------------------------------------------------------------------ the rule (pure)


def charge_under_mandate(
    mandate: Mandate | None,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount: int,
    spent_today: int,
) -> int | Refusal:
    """The mandate's day total once ``amount`` is charged under it (``spent_today`` was
    charged so far today), or why it may not be. A mandate of another customer, merchant or
    asset is "not found": a merchant learns nothing of mandates that are not its own."""
    if (
        mandate is None
        or mandate.customer_id != customer_id
        or mandate.merchant_id != merchant_id
        or mandate.asset != asset
    ):
        return Refusal(Code.MANDATE_NOT_FOUND, "no such mandate of this customer to you")
    if mandate.status is MandateStatus.REVOKED:
        return Refusal(Code.MANDATE_REVOKED, "the customer revoked the mandate")
    spent = spent_today + amount
    if spent > mandate.amount_max_daily:
        return Refusal(Code.MANDATE_LIMIT_EXCEEDED, "the mandate's daily amount would be passed")
    return spent


# ------------------------------------------------------------------ inside units


def load_mandates(ctx: UnitContext, mandate_ids: Collection[int]) -> dict[int, Mandate]:
    """The mandates among ``mandate_ids`` (one query per SQL_IN_CHUNK ids)."""
    ids = sorted({i for i in mandate_ids if type(i) is int})
    found: dict[int, Mandate] = {}
    for start in range(0, len(ids), SQL_IN_CHUNK):
        chunk = ids[start : start + SQL_IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in ctx.fetch(
            f"SELECT {_MANDATES.columns} FROM mandates WHERE id IN ({marks})", chunk
        ):
            mandate = _MANDATES.read(row)
            found[mandate.id] = mandate
    return found


def charge_day(ctx: UnitContext, mandate: Mandate | None, day: int) -> int:
    """The UTC day a charge under ``mandate`` counts on: the unit's ``day``, or the
    mandate's own when it is later. A mandate's day never goes back: were a unit on day D to
    write its total after a charge of day D+1, it would reset D+1's total and count D's
    without the charges already made on D (the limit passed on both days). In a group that
    overlaps other processes' (it read its clock before another process, whose clock was on
    the next day, charged the mandate) that is a lost race: the group runs again alone, on
    a fresh reading of the clock (``OverlapLostError``). Running alone, only a clock behind
    the one that wrote the row (another host's) can find a later day: the charge then
    counts on that day, with what was charged on it."""
    if mandate is None or mandate.day <= day:
        return day
    if ctx.overlapping:
        raise OverlapLostError("another process charged the mandate on a later day")
    return mandate.day


def save_mandate_charges(ctx: UnitContext, charges: Mapping[int, tuple[int, int]]) -> None:
    """Write each mandate's new day total: ``charges`` maps a mandate id to (``spent_today``,
    ``day``). A row whose day is already later than ``day`` is left alone and the group
    runs again (``OverlapLostError``): a day never goes back (:func:`charge_day`).

    One statement per MANDATE_ROWS_MAX mandates (a batch of payments names one mandate per
    customer: hundreds), each row guarded as before (``day <= ?``) and the ids written
    returned: an id missing from them (the row's day moved on, or no such row) is the lost
    race. Two groups never write one mandate at once (it is written only under its
    customer's account lock, or by a group running alone), so the order in which one
    statement takes the rows' locks deadlocks nothing."""
    rows = sorted(charges.items())
    for start in range(0, len(rows), MANDATE_ROWS_MAX):
        chunk = rows[start : start + MANDATE_ROWS_MAX]
        values = ",".join(["(?, ?, ?)"] * len(chunk))
        params = [p for mandate_id, (amount, day) in chunk for p in (mandate_id, amount, day)]
        written = ctx.fetch(
            "UPDATE mandates SET spent_today = v.column2, day = v.column3"
            f" FROM (VALUES {values}) AS v"
            " WHERE mandates.id = v.column1 AND mandates.day <= v.column3"
            " RETURNING mandates.id",
            params,
        )
        if len(written) != len(chunk):
            raise OverlapLostError("a mandate's day moved on before its charge was written")


def add_mandate_charges(ctx: UnitContext, added: Mapping[int, tuple[int, int]]) -> None:
    """In a group that overlaps other processes': add ``added`` (a mandate id to (what the
    unit charged under it, the day it counts on)) to each mandate's day total at the
    group's end, with the other units' charges, under its limit as stored then.

    The unit decided on the day total it read unlocked; another process may have charged
    the mandate since. Charges only grow a day's total, so every refusal the unit made
    stands, and its acceptances stand exactly when the stored total plus all the group
    added stays within the limit (each one's total was at most the last one's): the guard
    of the one statement. A row it does not write (the limit would pass, or the day moved
    on) is a lost race: the group runs again alone (``OverlapLostError``). The rows are
    locked in id order first, so that two groups charging the same mandates never
    deadlock."""
    state = ctx.group_state
    charges: dict[int, tuple[int, int]] | None = state.get(_GROUP_CHARGES)
    if charges is None:
        charges = state[_GROUP_CHARGES] = {}
        group_charges = charges
        ctx.at_end(lambda: _add_charges(ctx, group_charges))
    for mandate_id, (amount, day) in added.items():
        before, before_day = charges.get(mandate_id, (0, day))
        if before_day != day:  # units of one group share a clock: never, but never merge days
            raise OverlapLostError("a mandate charged on two days in one group")
        charges[mandate_id] = (before + amount, day)


_GROUP_CHARGES: Final = "mandate_charges"


def group_charged(ctx: UnitContext, mandate_id: int, day: int) -> int:
    """What the group's earlier units charged under the mandate on ``day`` and left to be
    added at its end (:func:`add_mandate_charges`): a later unit counts it on the day total
    it read, as the merchant's volume counts the earlier units' payments."""
    charges: dict[int, tuple[int, int]] = ctx.group_state.get(_GROUP_CHARGES, {})
    amount, charged_day = charges.get(mandate_id, (0, day))
    return amount if charged_day == day else 0


def _add_charges(ctx: UnitContext, charges: Mapping[int, tuple[int, int]]) -> None:
    """The statements of :func:`add_mandate_charges`, MANDATE_ROWS_MAX rows each."""
    rows = sorted(charges.items())
    for start in range(0, len(rows), MANDATE_ROWS_MAX):
        chunk = rows[start : start + MANDATE_ROWS_MAX]
        ids = [mandate_id for mandate_id, _ in chunk]
        marks = ",".join("?" * len(ids))
        ctx.fetch(f"SELECT id FROM mandates WHERE id IN ({marks}) ORDER BY id FOR UPDATE", ids)
        values = ",".join(["(?, ?, ?)"] * len(chunk))
        params = [p for mandate_id, (amount, day) in chunk for p in (mandate_id, amount, day)]
        day_total = "CASE WHEN mandates.day = v.column3 THEN mandates.spent_today ELSE 0 END"
        written = ctx.fetch(
            f"UPDATE mandates SET spent_today = {day_total} + v.column2, day = v.column3"
            f" FROM (VALUES {values}) AS v"
            " WHERE mandates.id = v.column1 AND mandates.day <= v.column3"
            f" AND {day_total} + v.column2 <= mandates.amount_max_daily"
            " RETURNING mandates.id",
            params,
        )
        if len(written) != len(chunk):
            raise OverlapLostError("a mandate's limit or day moved before its charges were added")


def active_parties(ctx: UnitContext, customer_id: int, merchant_id: int) -> Merchant | Refusal:
    """The merchant, when both it and the customer may move money now (the customer's
    refusal first): what a mandate, a hold and its capture need."""
    customer = active_customer(ctx, customer_id)
    if isinstance(customer, Refusal):
        return customer
    return active_merchant(ctx, merchant_id)


# ------------------------------------------------------------------ operations


def create_mandate(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    asset: str,
    amount_max_daily: int,
    mandate_id: int | None = None,
) -> Operation[Mandate | Refusal]:
    """The customer allows the merchant to charge it up to ``amount_max_daily`` per day."""
    refusal_in: Refusal | None = None
    if asset not in ASSETS:
        refusal_in = Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    elif type(amount_max_daily) is not int or not 1 <= amount_max_daily <= AMOUNT_MAX:
        refusal_in = Refusal(Code.INVALID_AMOUNT, "amount_max_daily is a positive amount")
    new = new_id() if mandate_id is None else mandate_id

    def unit(ctx: UnitContext) -> Mandate | Refusal:
        merchant = refusal_in or active_parties(ctx, customer_id, merchant_id)
        if isinstance(merchant, Refusal):
            return merchant
        existing = load_mandates(ctx, [new]).get(new)
        if existing is not None:
            same = (existing.customer_id, existing.merchant_id, existing.asset) == (
                customer_id,
                merchant_id,
                asset,
            ) and existing.amount_max_daily == amount_max_daily
            if same:
                return existing  # a retry of this very request
            return Refusal(Code.INVALID_REQUEST, "mandate_id names another mandate")
        mandate = Mandate(
            new,
            customer_id,
            merchant_id,
            asset,
            amount_max_daily,
            MandateStatus.ACTIVE,
            0,
            utc_day(ctx.now_ns),
            ctx.now_ns,
            None,
        )
        _MANDATES.insert(ctx, mandate)
        _tell(ctx, "mandate.created", mandate)
        return mandate

    return Operation(unit, 0)


def revoke_mandate(
    platform: Platform, mandate_id: int, customer_id: int | None = None
) -> Operation[Mandate | Refusal]:
    """Withdraw the consent (the customer's; ``customer_id`` given: only its own mandate).
    Revoking a revoked mandate answers it as it is."""

    def unit(ctx: UnitContext) -> Mandate | Refusal:
        mandate = load_mandates(ctx, [mandate_id]).get(mandate_id)
        if mandate is None or (customer_id is not None and mandate.customer_id != customer_id):
            return Refusal(Code.MANDATE_NOT_FOUND, "no such mandate")
        if mandate.status is MandateStatus.REVOKED:
            return mandate
        ctx.execute(
            "UPDATE mandates SET status = ?, revoked_ns = ? WHERE id = ?",
            (MandateStatus.REVOKED.value, ctx.now_ns, mandate_id),
        )
        revoked = Mandate(
            mandate.id,
            mandate.customer_id,
            mandate.merchant_id,
            mandate.asset,
            mandate.amount_max_daily,
            MandateStatus.REVOKED,
            mandate.spent_today,
            mandate.day,
            mandate.created_ns,
            ctx.now_ns,
        )
        _tell(ctx, "mandate.revoked", revoked)
        return revoked

    return Operation(unit, 0)


def _tell(ctx: UnitContext, event_type: str, mandate: Mandate) -> None:
    """The mandate's event, for its merchant (when it listens)."""
    notify(
        ctx,
        event_type,
        mandate.merchant_id,
        {
            "id": format_id("man", mandate.id),
            "customer_id": format_id("cus", mandate.customer_id),
            "merchant_id": format_id("mer", mandate.merchant_id),
            "amount_max_daily": money(mandate.amount_max_daily, ASSETS[mandate.asset]),
            "status": mandate.status.value,
        },
    )


# ------------------------------------------------------------------ reads


def get_mandate(
    platform: Platform,
    mandate_id: int,
    customer_id: int | None = None,
    merchant_id: int | None = None,
) -> Mandate | None:
    """The mandate, or None (also when it is not the given customer's or merchant's)."""
    owners = given(customer_id=customer_id, merchant_id=merchant_id)
    return _MANDATES.by_id(platform, mandate_id, owners)


def list_mandates(
    platform: Platform,
    customer_id: int | None = None,
    merchant_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[Mandate]:
    """Mandates newest first, of a customer and/or to a merchant."""
    filters = given(customer_id=customer_id, merchant_id=merchant_id)
    return _MANDATES.page(platform, filters, cursor, limit)
