"""Instant payouts: earnings paid out now, for a fee priced by how early they are taken.

First a quote (:func:`quote_instant_payout`): the amount taken from the earnings, the fee
(:func:`centime.platform.payout_fees.instant_payout_fee` with the configured parameters), the
net that arrives, the scheduled date the payout is early against and how many days early,
and when the quote expires (``PayoutConfig.quote_valid_s``). It is stored, so what the
merchant was shown is what is honoured.

Days early: from today (UTC) to the merchant's next scheduled payout date in the asset, on
or after today (from tomorrow when today's run has paid already); a merchant without a
schedule in the asset is priced at ``days_max``.

Then the confirmation (:func:`confirm_quote`, screened by centime.usecases.payouts): within
the validity, the payout is made with exactly the quote's amount and fee (QUOTE_EXPIRED
after it, nothing changed). The payout's id is derived from the quote's, and the quote
records it: a quote confirmed twice answers the same payout, paid once. The fee is a
pending transfer to fee revenue linked to the payout's reserve (:mod:`.service`): earned
when the payout is paid, given back when it fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from centime.ledger.units import UnitContext
from centime.limits import PAYOUT_QUOTES_PER_MERCHANT_DAY_MAX

from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..ids import derive_id, format_id, new_id, valid_id
from ..pages import given
from ..payout_config import PayoutConfig
from ..payout_fees import InstantFeeParams, instant_payout_fee
from ..pricing.store import active_rules
from ..rows import Table
from .methods import get_payout_method
from .schedules import day_of, load_schedule, next_payout_date, scheduled_payout_id
from .service import (
    PAYOUT_RESERVE_EVENTS_MAX,
    Payout,
    PayoutAsk,
    PayoutKind,
    check_payout_request,
    load_payout,
    payable_method,
    reserve_unit,
)

__all__ = [
    "Quote",
    "confirm_quote",
    "days_early",
    "get_quote",
    "instant_payout_id",
    "payout_account",
    "quote_instant_payout",
]


@dataclass(frozen=True, slots=True)
class Quote:
    id: int
    merchant_id: int
    method_id: int
    asset: str
    amount: int
    fee: int
    days_early: int
    scheduled_date: str | None  # YYYY-MM-DD; None: the merchant has no schedule
    expires_ns: int
    payout_id: int | None  # once confirmed
    created_ns: int

    @property
    def net(self) -> int:
        return self.amount - self.fee


_QUOTES: Final = Table(Quote, "payout_quotes")


def instant_payout_id(quote_id: int) -> int:
    return derive_id("payout.instant", quote_id)


def days_early(
    ctx: UnitContext, merchant_id: int, asset: str, days_max: int
) -> tuple[int, dt.date | None]:
    """(days early, the scheduled date) of a payout taken now (module note)."""
    schedule = load_schedule(ctx, merchant_id, asset)
    if schedule is None:
        return days_max, None
    today = day_of(ctx.now_ns)
    first = today
    paid_today = ctx.fetch(
        "SELECT 1 FROM payouts WHERE id = ?",
        (scheduled_payout_id(merchant_id, asset, today),),
    )
    if paid_today:
        first = today + dt.timedelta(days=1)
    scheduled = next_payout_date(schedule, first)
    return (scheduled - today).days, scheduled


def _quotes_today(ctx: UnitContext, merchant_id: int) -> int:
    day_start_ns = ctx.now_ns - ctx.now_ns % NS_PER_DAY
    rows = ctx.fetch(
        "SELECT COUNT(*) FROM payout_quotes WHERE merchant_id = ? AND created_ns >= ?",
        (merchant_id, day_start_ns),
    )
    return int(rows[0][0])


def quote_instant_payout(
    platform: Platform, ask: PayoutAsk, quote_id: int | None = None
) -> Operation[Quote | Refusal]:
    """Price the instant payout asked (its amount taken from the earnings) and store the
    quote. Refused as the payout itself would be now (tier, limit, lock, method, funds), or
    PAYOUT_TOO_SMALL when the fee would take it all."""
    merchant_id, asset, amount = ask.merchant_id, ask.asset, ask.amount
    refusal_in = check_payout_request(asset, amount)
    if refusal_in is None and quote_id is not None and not valid_id(quote_id):
        refusal_in = Refusal(Code.INVALID_REQUEST, "quote_id must be a positive id")
    new = new_id() if quote_id is None else quote_id
    config = platform.config.payouts

    def unit(ctx: UnitContext) -> Quote | Refusal:
        if refusal_in is not None:
            return refusal_in
        existing = _load(ctx, new)
        if existing is not None:
            same = (existing.merchant_id, existing.asset, existing.amount)
            if same != (merchant_id, asset, amount):
                return Refusal(Code.INVALID_REQUEST, "quote_id names another quote")
            return existing
        method = payable_method(ctx, platform, ask)
        if isinstance(method, Refusal):
            return method
        if _quotes_today(ctx, merchant_id) >= PAYOUT_QUOTES_PER_MERCHANT_DAY_MAX:
            return Refusal(
                Code.QUOTE_LIMIT_REACHED,
                f"at most {PAYOUT_QUOTES_PER_MERCHANT_DAY_MAX} quotes a day",
            )
        days, scheduled = days_early(ctx, merchant_id, asset, config.instant.days_max)
        fee = instant_payout_fee(amount, days, fee_params(ctx, config, asset))
        if fee >= amount:
            return Refusal(Code.PAYOUT_TOO_SMALL, "the fee would take all of the amount")
        quote = Quote(
            new,
            merchant_id,
            method.id,
            asset,
            amount,
            fee,
            days,
            None if scheduled is None else scheduled.isoformat(),
            ctx.now_ns + config.quote_valid_s * 1_000_000_000,
            None,
            ctx.now_ns,
        )
        _QUOTES.insert(ctx, quote)
        return quote

    return Operation(unit, 0)


def fee_params(ctx: UnitContext, config: PayoutConfig, asset: str) -> InstantFeeParams:
    """The instant-payout discounting in force: the published pricing rules' when they set it
    (``instant_payout`` of centime.platform.pricing), else the configuration's. The rules
    name basis points only: no fixed part, and the configuration's ``days_max``."""
    rules = active_rules(ctx).instant_payout
    if rules is None:
        return config.instant.params(asset)
    return InstantFeeParams(
        rules.fee_bp_per_day, rules.fee_bp_floor, rules.fee_bp_cap, 0, config.instant.days_max
    )


def _load(ctx: UnitContext, quote_id: int) -> Quote | None:
    return _QUOTES.load(ctx.fetch, quote_id)


def confirm_quote(
    platform: Platform, merchant_id: int, quote_id: int
) -> Operation[Payout | Refusal]:
    """Reserve the quote's payout, exactly as quoted (module note): the payout is then sent
    (:func:`~centime.platform.payouts.service.send_requested`). The risk screen's gate is
    put around it by the use case (centime.usecases.payouts), which asks the screen first."""

    def unit(ctx: UnitContext) -> Payout | Refusal:
        quote = _load(ctx, quote_id) if valid_id(quote_id) else None
        if quote is None or quote.merchant_id != merchant_id:
            return Refusal(Code.QUOTE_NOT_FOUND, "no such quote")
        if quote.payout_id is not None:
            used = load_payout(ctx, quote.payout_id)
            if used is None:
                raise LookupError(f"quote {quote_id} names a payout that does not exist")
            return used
        if ctx.now_ns >= quote.expires_ns:
            return Refusal(Code.QUOTE_EXPIRED, "the quote has expired; ask for a new one")
        draft = Payout(
            instant_payout_id(quote.id),
            merchant_id,
            quote.asset,
            quote.amount,
            quote.fee,
            PayoutKind.INSTANT,
            quote.method_id,
            quote_id=quote.id,
        )
        made = reserve_unit(ctx, platform, draft)
        if isinstance(made, Payout):
            ctx.execute("UPDATE payout_quotes SET payout_id = ? WHERE id = ?", (made.id, quote.id))
        return made

    return Operation(unit, PAYOUT_RESERVE_EVENTS_MAX)


def payout_account(platform: Platform, quote: Quote) -> str:
    """What the risk screen knows the quote's payout account by: its method's keyed
    fingerprint (the method's id when the method is gone)."""
    method = get_payout_method(platform, quote.method_id, quote.merchant_id)
    return method.fingerprint if method is not None else format_id("pm", quote.method_id)


def get_quote(platform: Platform, quote_id: int, merchant_id: int | None = None) -> Quote | None:
    owners = given(merchant_id=merchant_id)
    return _QUOTES.by_id(platform, quote_id, owners)
