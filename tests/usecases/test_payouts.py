"""Payouts as use cases: a malformed request is refused before anything is asked or
written; a free payout is paid as its service pays it; an instant one is screened once,
on the quote's amount to the method's fingerprint, with the person's step-up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from centime import usecases
from centime.clock import FakeClock
from centime.limits import ID_MAX
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.payouts import Payout, PayoutAsk, PayoutStatus, Quote, quote_instant_payout
from centime.providers.payout_sandbox import SandboxPayoutRail
from centime.risk.types import Action

from ..platform.payout_world import install_rail, paid_merchant
from ..platform.world import snapshot
from ..risk.screens import ScriptedScreen, decision

USD = "USD"


@pytest.fixture
def rail(platform: Platform, clock: FakeClock) -> SandboxPayoutRail:
    return install_rail(platform, clock)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"asset": "XXX"}, Code.UNKNOWN_ASSET),
        ({"amount": 0}, Code.INVALID_AMOUNT),
        ({"amount": ID_MAX + 1}, Code.INVALID_AMOUNT),
        ({"payout_id": 0}, Code.INVALID_REQUEST),
    ],
)
def test_a_malformed_payout_is_refused_and_changes_nothing(
    platform: Platform,
    clock: FakeClock,
    rail: SandboxPayoutRail,
    change: dict[str, object],
    code: Code,
) -> None:
    shop, _ = paid_merchant(platform, clock)
    request = replace(usecases.PayoutRequest(shop.id, USD, 1_000_000), **change)
    before = snapshot(platform)
    refused = usecases.pay_out(platform, request)
    assert isinstance(refused, Refusal) and refused.code is code
    assert snapshot(platform) == before


def test_a_free_payout_is_paid_once_under_its_id(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, method = paid_merchant(platform, clock)
    request = usecases.PayoutRequest(shop.id, USD, 10_000_000, payout_id=77)
    made = usecases.pay_out(platform, request)
    assert isinstance(made, Payout), made
    assert (made.id, made.amount, made.fee, made.method_id) == (77, 10_000_000, 0, method.id)
    assert made.status is PayoutStatus.PENDING
    assert usecases.pay_out(platform, request) == made
    assert rail.sends(77) == 1


def _quote(platform: Platform, merchant_id: int) -> Quote:
    made = platform.execute(quote_instant_payout(platform, PayoutAsk(merchant_id, USD, 20_000_000)))
    assert isinstance(made, Quote), made
    return made


def test_an_instant_payout_is_screened_once_with_the_step_up(
    platform: Platform, clock: FakeClock, rail: SandboxPayoutRail
) -> None:
    shop, method = paid_merchant(platform, clock)
    quoted = _quote(platform, shop.id)
    screen = ScriptedScreen(lambda event: decision(Action.STEP_UP, "new_payout_account"))
    platform.screen = screen
    request = usecases.InstantPayoutRequest(shop.id, quoted.id)
    needs = usecases.pay_out(platform, request, usecases.Origin(ip="203.0.113.9"))
    assert isinstance(needs, Refusal) and needs.code is Code.STEP_UP_REQUIRED
    [asked] = screen.asked
    assert (asked.type, asked.amount, asked.asset) == ("payout_instant", 20_000_000, USD)
    assert (asked.payer, asked.payee) == (format_id("mer", shop.id), method.fingerprint)
    stepped = usecases.Origin(stepped_up_at_ns=clock.now_ns())
    paid = usecases.pay_out(platform, request, stepped)
    assert isinstance(paid, Payout) and paid.quote_id == quoted.id
    again = usecases.pay_out(platform, request)  # paid already: not asked again
    assert isinstance(again, Payout) and again.id == paid.id
    assert len(screen.asked) == 2
    assert rail.sends(paid.id) == 1


def test_an_unknown_quote_is_not_screened(platform: Platform, clock: FakeClock) -> None:
    screen = ScriptedScreen()
    platform.screen = screen
    for quote_id in (0, ID_MAX + 1, 12345):
        refused = usecases.pay_out(platform, usecases.InstantPayoutRequest(1, quote_id))
        assert isinstance(refused, Refusal) and refused.code is Code.QUOTE_NOT_FOUND
    assert screen.asked == []
