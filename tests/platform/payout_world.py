"""Test helpers for payouts: a platform with the sandbox rail, a merchant with earnings and a
bank account whose lock has run out."""

from __future__ import annotations

from centime import usecases
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.parties import Merchant
from centime.platform.payments import Payment, PaymentRequest, create_payment
from centime.platform.payouts import Payout, PayoutMethod, add_payout_method
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS, SandboxPayoutRail

from .world import customer, fund, merchant

__all__ = ["confirm", "earn", "install_rail", "paid_merchant", "with_method"]


def install_rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    rail = SandboxPayoutRail(clock)
    platform.providers.payout_rails[rail.name] = rail
    return rail


def earn(platform: Platform, merchant_id: int, amount: int, asset: str = "USD") -> Payment:
    """A customer pays the merchant ``amount`` (the merchant earns it less its fee)."""
    payer = customer(platform, tier=2)
    fund(platform, payer.id, asset, amount)
    paid = platform.execute(
        create_payment(platform, PaymentRequest(payer.id, merchant_id, asset, amount))
    )
    assert not isinstance(paid, Refusal), paid
    return paid


def with_method(
    platform: Platform, clock: FakeClock, merchant_id: int, number: str = ACCOUNT_SUCCEEDS
) -> PayoutMethod:
    """A payout method whose lock has run out (the clock moves past it)."""
    method = add_payout_method(platform, merchant_id, "Ada Lovelace", number)
    assert isinstance(method, PayoutMethod), method
    clock.advance(platform.config.payouts.payout_method_lock_s + 1)
    return method


def paid_merchant(
    platform: Platform, clock: FakeClock, earned: int = 100_000_000, number: str = ACCOUNT_SUCCEEDS
) -> tuple[Merchant, PayoutMethod]:
    """A merchant (fee 0) that earned ``earned`` USD units and has a payout method."""
    made = merchant(platform, fee_bp=0)
    earn(platform, made.id, earned)
    return made, with_method(platform, clock, made.id, number)


def confirm(
    platform: Platform, merchant_id: int, quote_id: int, stepped_up_at_ns: int | None = None
) -> Payout | Refusal:
    """The quote paid out through its use case (screened), as the API and the dashboard
    pay it (``stepped_up_at_ns``: the person's last step-up)."""
    request = usecases.InstantPayoutRequest(merchant_id, quote_id)
    return usecases.pay_out(platform, request, usecases.Origin(stepped_up_at_ns=stepped_up_at_ns))
