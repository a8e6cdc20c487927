"""The instant-payout fee: dynamic discounting, as one pure integer function.

A merchant's earnings are paid out for free on its schedule; taking them earlier costs a fee
that grows with how many days early the money is taken (the day before its scheduled date
costs less than a week before), between a floor and a cap::

    days   = min(max(days_early, 0), days_max)
    raw    = ceil(amount * day_bp * days / 10_000)
    floor  = ceil(amount * floor_bp / 10_000)
    cap    = ceil(amount * cap_bp / 10_000)
    fee    = min(fixed + min(max(raw, floor), cap), amount)
    net    = amount - fee                      (what arrives at the bank)

Rounding: each basis-point product is divided by 10 000 rounding *up* (a fee is never short
by a fraction of a unit), so the net is rounded down and the sub-unit remainder goes to fee
revenue; at most one unit per bp term. The fee never exceeds the amount (``net >= 0``), and
``fee + net == amount`` exactly: no unit is created or lost. The fee is non-decreasing in
``days_early`` and in ``amount``.

The parameters are a frozen value (:class:`InstantFeeParams`, amounts in the asset's scale):
the platform's configuration provides them today (``PayoutConfig.instant``), versioned pricing
rules can provide them later without touching this function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["BP_DENOMINATOR", "InstantFeeParams", "ceil_bp", "instant_payout_fee", "params_problem"]

BP_DENOMINATOR: Final = 10_000
BP_MAX: Final = 10_000  # 100%
DAYS_MAX: Final = 366


@dataclass(frozen=True, slots=True)
class InstantFeeParams:
    day_bp: int  # basis points of the amount per day taken early
    floor_bp: int  # the least fee, bp of the amount (plus ``fixed``)
    cap_bp: int  # the most fee, bp of the amount (plus ``fixed``)
    fixed: int  # added to every fee, in the asset's scale
    days_max: int  # days early beyond this cost as this many


def params_problem(params: InstantFeeParams) -> str | None:
    """Why ``params`` cannot price a payout (None: they can)."""
    for name in ("day_bp", "floor_bp", "cap_bp"):
        value = getattr(params, name)
        if type(value) is not int or not 0 <= value <= BP_MAX:
            return f"{name} must be an integer in 0..{BP_MAX}"
    if params.floor_bp > params.cap_bp:
        return "floor_bp must not exceed cap_bp"
    if type(params.fixed) is not int or params.fixed < 0:
        return "fixed must be a non-negative integer"
    if type(params.days_max) is not int or not 0 <= params.days_max <= DAYS_MAX:
        return f"days_max must be an integer in 0..{DAYS_MAX}"
    return None


def ceil_bp(amount: int, bp: int) -> int:
    """``amount * bp / 10_000`` rounded up (exact integer arithmetic)."""
    return -(-(amount * bp) // BP_DENOMINATOR)


def instant_payout_fee(amount: int, days_early: int, params: InstantFeeParams) -> int:
    """The fee of paying ``amount`` out ``days_early`` days before its scheduled date (the
    module's formula). ``amount`` is a non-negative integer in the asset's scale."""
    if type(amount) is not int or amount < 0:
        raise ValueError("amount is a non-negative integer")
    if type(days_early) is not int:
        raise ValueError("days_early is an integer")
    problem = params_problem(params)
    if problem is not None:
        raise ValueError(problem)
    days = min(max(days_early, 0), params.days_max)
    raw = ceil_bp(amount, params.day_bp * days)
    variable = min(max(raw, ceil_bp(amount, params.floor_bp)), ceil_bp(amount, params.cap_bp))
    return min(params.fixed + variable, amount)
