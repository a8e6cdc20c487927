"""``centime simulate``: drive a population's events through the platform's SERVICES.

Each labelled :class:`~centime.risk.types.RiskEvent` (from the risk engine's population
simulator, or from a labelled CSV) is applied as the platform would see it happen: through
the screened use cases of :mod:`centime.usecases` (so the risk screen decides on
it, and REVIEW holds money and opens cases), never around them:

- ``signup``: a customer (or a merchant, see :func:`default_kind`) signs up, screened;
- ``topup`` / ``topup_carrier``: a top-up through the sandbox funding provider with a test
  instrument that succeeds (card or phone bill); its events are processed as the clock
  passes them;
- ``topup_declined``: a top-up with the sandbox's declining card or phone (the platform
  records the decline and tells the screen);
- ``payment``: the payer pays the payee (a merchant);
- ``transfer``: one customer sends money to another.

Parties are created on first sight (a name the events never signed up), at ``kyc_tier``.
The screen is asked about the event as the simulator made it (its devices, IPs and
instruments), with the platform's ids as payer and payee. Payouts and payout-method changes
are counted as ``unsupported`` until the payouts service exists.

Time: the platform's clock (a FakeClock the driver owns) is moved to each event's
timestamp (never backwards), so limits, holds and settlement see the simulated days.

Every event applied is written to the output CSV (docs/risk-operations.md's format) with
the platform's ids and the event's label; what happened to each is counted by outcome.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, TextIO

from centime import usecases
from centime.clock import FakeClock
from centime.limits import PROVIDER_EVENTS_PER_TICK_MAX, SIMULATE_EVENTS_MAX
from centime.money import ASSETS
from centime.platform import parties
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.funding import process_provider_events
from centime.platform.ids import format_id
from centime.platform.review import EXPORT_HEADER, InReview
from centime.providers import SandboxProvider
from centime.providers.sandbox import (
    CARD_DECLINED,
    CARD_SUCCEEDS,
    PHONE_DECLINED,
    PHONE_SUCCEEDS,
)
from centime.risk.simulate import read_csv
from centime.risk.types import RiskEvent
from centime.usecases import PaymentRequest, SignupRequest, TopUpRequest, TransferRequest

__all__ = ["Driver", "SimulationReport", "default_kind", "read_labelled_csv"]

log = logging.getLogger("centime.simulate")

LabelledEvent = tuple[RiskEvent, int]
_PROVIDER_TICK_EVENTS: Final = 200  # provider events are processed at least this often


def default_kind(name: str) -> str:
    """``merchant`` for a name of the simulator's merchants (``mer_...``, ``m...`` followed
    by digits, ``merchant...``), else ``customer``; pass another rule to :class:`Driver`."""
    lowered = name.lower()
    if lowered.startswith(("mer", "merchant", "shop", "store")):
        return "merchant"
    if lowered[:1] == "m" and lowered[1:2].isdigit():
        return "merchant"
    return "customer"


@dataclass
class SimulationReport:
    applied: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return f"{self.applied} events applied: {parts}"


class Driver:
    """Applies events through the services; see the module's note."""

    def __init__(
        self,
        platform: Platform,
        sandbox: SandboxProvider,
        clock: FakeClock,
        *,
        kyc_tier: int = 2,
        kind_of: Callable[[str], str] = default_kind,
    ) -> None:
        self.platform = platform
        self.sandbox = sandbox
        self.clock = clock
        self.kyc_tier = kyc_tier
        self.kind_of = kind_of
        self.ids: dict[str, tuple[str, int]] = {}  # external name -> (kind, platform id)
        self.report = SimulationReport()
        self._since_tick = 0

    # ----------------------------------------------------------------- parties

    def _party(self, name: str, kind: str | None = None) -> tuple[str, int] | None:
        """The platform party behind ``name``, created (unscreened: the events did not sign
        it up) on first sight; None when it cannot be (a refusal)."""
        found = self.ids.get(name)
        if found is not None:
            return found
        kind = kind or self.kind_of(name)
        made: Any
        if kind == "merchant":
            create: Any = parties.create_merchant(self.platform, name[:200], kyc_tier=self.kyc_tier)
        else:
            create = parties.create_customer(self.platform, name[:200], None, self.kyc_tier)
        made = self.platform.execute(create)
        if isinstance(made, Refusal):
            return None
        self.ids[name] = (kind, made.id)
        return self.ids[name]

    def _text(self, party: tuple[str, int]) -> str:
        return format_id("mer" if party[0] == "merchant" else "cus", party[1])

    # ----------------------------------------------------------------- events

    def _advance(self, timestamp_ns: int) -> None:
        now = self.clock.now_ns()
        if timestamp_ns > now:
            self.clock.advance(ns=timestamp_ns - now)

    def _tick(self, force: bool = False) -> None:
        self._since_tick += 1
        if force or self._since_tick >= _PROVIDER_TICK_EVENTS:
            self._since_tick = 0
            while len(process_provider_events(self.platform, self.sandbox)) >= (
                PROVIDER_EVENTS_PER_TICK_MAX
            ):
                pass

    def apply(self, event: RiskEvent) -> RiskEvent | None:
        """Apply one event; the event as the platform saw it (its ids), or None when it was
        not applied (an unsupported type, an unknown asset, a party that cannot exist)."""
        if event.asset not in ASSETS or type(event.amount) is not int or event.amount < 0:
            return self._count(None, "malformed")
        self._advance(event.timestamp_ns)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return self._count(None, "unsupported")
        seen, outcome = handler(self, event)
        self._tick(force=event.type.startswith("topup"))
        return self._count(seen, outcome)

    def _count(self, seen: RiskEvent | None, outcome: str) -> RiskEvent | None:
        self.report.outcomes[outcome] += 1
        if seen is not None:
            self.report.applied += 1
        return seen

    def _signup(self, event: RiskEvent) -> tuple[RiskEvent | None, str]:
        if event.payer in self.ids:
            return None, "duplicate_signup"
        kind = self.kind_of(event.payer)
        now = event._replace(timestamp_ns=self.clock.now_ns())
        signup: Any = usecases.signup_merchant if kind == "merchant" else usecases.signup_customer
        request = SignupRequest("merchant" if kind == "merchant" else "customer")
        made = signup(self.platform, request, event.payer[:200], None, self.kyc_tier, event=now)
        if isinstance(made, Refusal):
            return now, made.code.value
        party_id = made.subject.id if isinstance(made, InReview) else made.id
        self.ids[event.payer] = (kind, party_id)
        seen = now._replace(payer=self._text(self.ids[event.payer]))
        return seen, "in_review" if isinstance(made, InReview) else "done"

    def _topup(self, event: RiskEvent) -> tuple[RiskEvent | None, str]:
        payer = self._party(event.payer, "customer")
        if payer is None or payer[0] != "customer":
            return None, "no_party"
        carrier = event.type == "topup_carrier" or (
            event.type == "topup_declined" and (event.instrument or "").startswith("+")
        )
        declined = event.type == "topup_declined"
        method = "carrier" if carrier else "card"
        instrument = {
            (True, False): PHONE_SUCCEEDS,
            (True, True): PHONE_DECLINED,
            (False, False): CARD_SUCCEEDS,
            (False, True): CARD_DECLINED,
        }[carrier, declined]
        text = self._text(payer)
        seen = event._replace(
            timestamp_ns=self.clock.now_ns(),
            payer=text,
            payee=text,
            type="topup_carrier" if carrier else "topup",
        )
        made = usecases.topup(
            self.platform,
            self.sandbox,
            TopUpRequest(payer[1], event.asset, event.amount, method, instrument),
            event=seen,
        )
        return seen, _outcome(made)

    def _move(self, event: RiskEvent) -> tuple[RiskEvent | None, str]:
        paying = event.type == "payment"  # a merchant; else a transfer to a customer
        payee_kind = "merchant" if paying else "customer"
        payer = self._party(event.payer, "customer")
        payee = self._party(event.payee, payee_kind)
        if payer is None or payee is None or payer[0] != "customer":
            return None, "no_party"
        seen = event._replace(
            timestamp_ns=self.clock.now_ns(), payer=self._text(payer), payee=self._text(payee)
        )
        if payee[0] != payee_kind:
            return None, "no_party"
        move: Any = usecases.pay if paying else usecases.send
        request = (PaymentRequest if paying else TransferRequest)(
            payer[1], payee[1], event.asset, event.amount
        )
        return seen, _outcome(move(self.platform, request, event=seen))

    def run(self, events: Iterable[LabelledEvent], out: IO[str] | None = None) -> SimulationReport:
        """Apply every event in order (at most SIMULATE_EVENTS_MAX), writing those applied
        with their labels to ``out``."""
        writer = csv.writer(out, lineterminator="\n") if out is not None else None
        if writer is not None:
            writer.writerow(EXPORT_HEADER)
        for count, (event, label) in enumerate(events):
            if count >= SIMULATE_EVENTS_MAX:
                log.warning("stopped at %d events (SIMULATE_EVENTS_MAX)", count)
                break
            seen = self.apply(event)
            if seen is not None and writer is not None:
                writer.writerow(
                    [
                        seen.timestamp_ns,
                        seen.type,
                        seen.amount,
                        seen.asset,
                        seen.payer,
                        seen.payee,
                        seen.device or "",
                        seen.ip or "",
                        seen.instrument or "",
                        label,
                    ]
                )
        self._tick(force=True)
        return self.report


def _outcome(made: object) -> str:
    if isinstance(made, Refusal):
        return made.code.value
    if isinstance(made, InReview):
        return "in_review"
    status = getattr(made, "status", None)
    return "declined" if getattr(status, "value", None) == "declined" else "done"


_HANDLERS: Final[dict[str, Callable[[Driver, RiskEvent], tuple[RiskEvent | None, str]]]] = {
    "signup": Driver._signup,
    "topup": Driver._topup,
    "topup_carrier": Driver._topup,
    "topup_declined": Driver._topup,
    "payment": Driver._move,
    "transfer": Driver._move,
}


def read_labelled_csv(lines: TextIO) -> Iterator[tuple[RiskEvent, int]]:
    """The labelled events of a CSV in the risk engine's format (centime.risk.simulate:
    timestamp in ns or ISO 8601, type, amount in the asset's scale, asset, payer, payee,
    optional device, ip, instrument, label); a malformed row raises ValueError naming its
    line."""
    for labelled in read_csv(lines):
        yield labelled.event, labelled.label
