"""A brand-new customer making ordinary payments is allowed by the SHIPPED engine (default
rules and model), through the screened services, at realistic times of day: sign up, top up
by card, pay a creator a few cents to a few dollars, send a friend $2.50; the creator takes an
instant payout. With model 2026-12-06.1 the payments to the new creator were reviewed or
blocked (scores 34-51) and the $2.50 transfer reviewed (issue 13): its training population
had no legitimate newcomer paying a creator who had just joined."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pytest

from centime import usecases
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.funding import TopUp
from centime.platform.parties import Customer, Merchant
from centime.platform.review import InReview, decide
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.risk.engine import build_engine
from centime.risk.types import Action, Decision, RiskEvent, Screen
from centime.seed import CARD_OK, await_success

MIDNIGHT_NS: Final = 1_796_601_600 * 1_000_000_000  # 2026-12-07T00:00Z, a Monday
HOUR_NS: Final = 3_600 * 1_000_000_000
WEB_IP: Final = "203.0.113.7"  # the web wallet sends the client's IP, no device


class Recording:
    """The engine, every decision kept with its event."""

    def __init__(self, inner: Screen) -> None:
        self.inner = inner
        self.seen: list[tuple[RiskEvent, Decision]] = []

    def decide(self, event: RiskEvent) -> Decision:
        decision = self.inner.decide(event)
        self.seen.append((event, decision))
        return decision

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        return [self.decide(event) for event in events]

    def observe(self, event: RiskEvent) -> None:
        self.inner.observe(event)


@pytest.fixture(params=[3, 9, 15, 21], ids=lambda h: f"{h:02d}h")
def clock(request: pytest.FixtureRequest) -> FakeClock:
    return FakeClock(MIDNIGHT_NS + int(request.param) * HOUR_NS)


def _sign_up(platform: Platform, name: str) -> Customer:
    made = usecases.signup_customer(
        platform, usecases.SignupRequest("customer"), name, origin=usecases.Origin(ip=WEB_IP)
    )
    assert isinstance(made, Customer), made
    return made


def _journey(
    platform: Platform, clock: FakeClock, sandbox: SandboxProvider, creator: Merchant, dollars: int
) -> None:
    """One newcomer's first minutes, a little time passing between steps."""
    person = _sign_up(platform, f"Newcomer {dollars}")
    clock.advance(90)
    made = usecases.topup(
        platform,
        sandbox,
        usecases.TopUpRequest(person.id, "USD", dollars * 1000000, Method.CARD.value, CARD_OK),
        usecases.Origin(ip=WEB_IP),
    )
    assert isinstance(made, TopUp), made
    await_success(platform, sandbox, [made.id])
    for micros in (50_000, 120_000, 250_000, 1_000_000, 5_000_000):  # $0.05 .. $5
        clock.advance(40)
        paid = usecases.pay(
            platform,
            usecases.PaymentRequest(person.id, creator.id, "USD", micros),
            usecases.Origin(ip=WEB_IP),
        )
        assert not isinstance(paid, Refusal | InReview), paid
    friend = _sign_up(platform, f"Friend of {dollars}")
    clock.advance(60)
    sent = usecases.send(
        platform,
        usecases.TransferRequest(person.id, friend.id, "USD", 2500000, note="lunch"),
        usecases.Origin(ip=WEB_IP),
    )
    assert not isinstance(sent, Refusal | InReview), sent


def test_a_newcomers_ordinary_journey_is_allowed(platform: Platform, clock: FakeClock) -> None:
    engine = build_engine(clock=clock)
    assert engine.model is not None and engine.model.policy is not None
    recording = Recording(engine)
    platform.screen = recording
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=0, carrier_confirm_s=0))
    platform.providers.funding["sandbox"] = sandbox
    creator = usecases.signup_merchant(
        platform,
        usecases.SignupRequest("merchant"),
        "A new creator",
        origin=usecases.Origin(ip=WEB_IP),
    )
    assert isinstance(creator, Merchant), creator
    for dollars in (10, 20, 50):
        _journey(platform, clock, sandbox, creator, dollars)
    clock.advance(600)
    # The creator's first instant payout of what it earned (as its use case asks the screen).
    origin = usecases.Origin(ip=WEB_IP)
    decide(
        platform.screen,
        usecases.instant_payout_event(
            creator.id, "USD", 15_000_000, "acct-fingerprint-1", clock.now_ns(), origin
        ),
    )
    types = {event.type for event, _ in recording.seen}
    assert {"signup", "topup", "payment", "transfer", "payout_instant"} <= types
    for event, decision in recording.seen:
        what = (event.type, event.amount, decision.score, decision.reasons)
        assert decision.action is Action.ALLOW, what
