"""The platform fee of a payment and the part of it a refund gives back. Pure integer math.

A merchant's fee is basis points of each payment plus a fixed part, both per merchant
(:func:`centime.platform.parties.service.merchant_fee`). Amounts are integers in the asset's
scale, so every division names its rounding and where the remainder goes:

- The fee rounds *down*: the fraction of a unit below the basis-point share stays with the
  merchant. The fee never exceeds the payment (a one-unit payment with a fixed fee pays at
  most that one unit in fees).
- A refund returns the fee in proportion to what has been refunded so far, rounding the
  *cumulative* returned fee down: after refunds totalling R of a payment A with fee F, the
  returned fee is exactly ``F * R // A``. Each refund returns the difference, so the sum
  over any sequence of partial refunds is exact (no unit lost or created by rounding each
  refund separately), the platform keeps the fraction while the payment is only partly
  refunded, and a full refund returns the whole fee.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BP_PER_WHOLE", "fee_returned", "payment_fee"]

BP_PER_WHOLE: Final = 10_000  # basis points in 100%


def payment_fee(amount: int, fee_bp: int, fee_fixed: int) -> int:
    """``amount * fee_bp // 10_000 + fee_fixed``, at most ``amount``.

    The basis-point part rounds down (the merchant keeps the remainder).
    """
    if amount < 0 or fee_bp < 0 or fee_fixed < 0:
        raise ValueError("amount, fee_bp and fee_fixed are never negative")
    return min(amount * fee_bp // BP_PER_WHOLE + fee_fixed, amount)


def fee_returned(fee: int, amount: int, refunded_before: int, refund_amount: int) -> int:
    """The part of ``fee`` a refund of ``refund_amount`` returns, when ``refunded_before``
    of the payment's ``amount`` was refunded already.

    Rounding: the cumulative returned fee is ``fee * refunded_total // amount`` (rounded
    down); this refund returns what that adds. Never negative, never more than the fee in
    total, exactly the fee once everything is refunded.
    """
    if not 0 <= fee <= amount or amount <= 0:
        raise ValueError("a fee is within 0..amount of a positive payment")
    if refunded_before < 0 or refund_amount < 0 or refunded_before + refund_amount > amount:
        raise ValueError("refunds are never negative and never more than the payment")
    after = fee * (refunded_before + refund_amount) // amount
    before = fee * refunded_before // amount
    return after - before
