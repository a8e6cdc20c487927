"""The sandbox funding provider: behaves like a real one, in process and deterministic.

It accepts or declines a charge at once, then reports what happens to it as events that fall
due on the clock it is given (the platform's, so tests drive it with a fake clock):

=====================  =================================================================
card instrument        outcome
=====================  =================================================================
4242424242424242       succeeds after ``card_confirm_s``
4000000000000002       declined at once: ``card_declined``
4000000000009995       declined at once: ``insufficient_funds``
4000000000000259       succeeds, then is charged back in full ``chargeback_after_s`` later
4000000000000119       accepted, then fails after ``card_confirm_s``: ``processing_error``
any other number       succeeds when it passes the Luhn check, else declined ``invalid_number``
=====================  =================================================================

=========================  =============================================================
bank_transfer instrument   outcome
=========================  =============================================================
GB33BUKB20201555555555     accepted, then fails after ``bank_confirm_s``: ``account_closed``
GB82WEST12345698765432     succeeds after ``bank_confirm_s`` (a day)
anything else              the same
=========================  =============================================================

===================  ===================================================================
carrier phone        outcome
===================  ===================================================================
+15555550100         succeeds after ``carrier_confirm_s``; the carrier settles
                     ``carrier_settlement_days`` after that
+15555550101         declined at once: ``carrier_limit_exceeded``
+15555550102         succeeds, then is charged back in full ``chargeback_after_s`` later,
                     before settlement; never settles
+15555550103         accepted, then fails after ``carrier_confirm_s``:
                     ``carrier_billing_failed``
any other number     like +15555550100
===================  ===================================================================

Failure modes for tests (:meth:`SandboxProvider.fail_next`): ``DOWN`` raises
:class:`ProviderUnavailable` before doing anything (connection refused, a 503);
``TIMEOUT_AFTER_ACCEPT`` accepts the charge and schedules its events, then raises, as when an
answer is lost on the way back. Either way, charging the same top-up again answers as the
first acceptance did (the top-up id is the idempotency key).

Vaulting (:meth:`SandboxProvider.vault`, :func:`sandbox_token`) is stateless, so tokens
survive a restart: the token is ``tok_sbx_`` and 24 hex digits of an HMAC of the
instrument under the sandbox's key (public, as a sandbox's is; a real provider's vault is
its secret), with ``bad_`` after the prefix for a card number that fails the Luhn check.
The outcomes above apply to the tokens of those instruments; ``charge`` also takes the
instrument itself (it vaults it first).

Events are delivered at least once: :meth:`due_events` hands out every due event that was not
acknowledged, on every call. The provider's reference for a charge is derived from the top-up
id (``sbx_`` and 16 hex digits), so it is the same however often the charge is sent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

from centime.clock import Clock
from centime.limits import (
    PROVIDER_EVENTS_PER_TICK_MAX,
    SANDBOX_CHARGES_MAX,
    SANDBOX_EVENTS_MAX,
)

from .event_queue import E, EventQueue
from .funding import (
    Accepted,
    ChargedBack,
    ChargeFailed,
    ChargeRequest,
    ChargeResult,
    ChargeSettled,
    ChargeSucceeded,
    Declined,
    InstrumentToken,
    Method,
    ProviderEvent,
    ProviderUnavailable,
    StatementLine,
    instrument_problem,
)

__all__ = [
    "BANK_FAILS_LATER",
    "BANK_SUCCEEDS",
    "CARD_CHARGED_BACK",
    "CARD_DECLINED",
    "CARD_FAILS_LATER",
    "CARD_INSUFFICIENT_FUNDS",
    "CARD_SUCCEEDS",
    "PHONE_CHARGED_BACK",
    "PHONE_DECLINED",
    "PHONE_FAILS_LATER",
    "PHONE_SUCCEEDS",
    "Outage",
    "SandboxConfig",
    "SandboxProvider",
    "luhn_valid",
    "sandbox_token",
]

CARD_SUCCEEDS: Final = "4242424242424242"
CARD_DECLINED: Final = "4000000000000002"
CARD_INSUFFICIENT_FUNDS: Final = "4000000000009995"
CARD_CHARGED_BACK: Final = "4000000000000259"
CARD_FAILS_LATER: Final = "4000000000000119"
BANK_SUCCEEDS: Final = "GB82WEST12345698765432"
BANK_FAILS_LATER: Final = "GB33BUKB20201555555555"
PHONE_SUCCEEDS: Final = "+15555550100"
PHONE_DECLINED: Final = "+15555550101"
PHONE_CHARGED_BACK: Final = "+15555550102"
PHONE_FAILS_LATER: Final = "+15555550103"

_NS_PER_S: Final = 1_000_000_000
_EVENTS_PER_CHARGE_MAX: Final = 3  # succeeded, then chargeback or settled


class Outage(enum.Enum):
    DOWN = "down"  # nothing happens; the caller gets ProviderUnavailable
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"  # accepted, but the answer is lost


class Outages:
    """A sandbox's planned outage: the next ``count`` calls fail as its mode says. Not
    thread-safe by itself: both sandboxes call it under their own lock."""

    __slots__ = ("_left", "_mode")

    def __init__(self) -> None:
        self._mode: Outage | None = None
        self._left = 0

    def plan(self, count: int, mode: Outage) -> None:
        """The next ``count`` calls fail as ``mode`` says (0 ends an outage)."""
        if type(count) is not int or count < 0:
            raise ValueError("count is a non-negative int")
        self._mode, self._left = (mode if count else None), count

    def take(self, name: str) -> Outage | None:
        """This call's outage (one fewer left), or None; DOWN raises ProviderUnavailable at
        once (nothing happens); TIMEOUT_AFTER_ACCEPT is the caller's to raise after acting."""
        mode = self._mode
        if mode is not None:
            self._left -= 1
            if self._left == 0:
                self._mode = None
            if mode is Outage.DOWN:
                raise ProviderUnavailable(f"{name}: service unavailable")
        return mode


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_Config = TypeVar("_Config", bound=_Named)


class SandboxCommon(Generic[_Config, E]):
    """What both sandboxes (funding, payouts) are made of: a clock, a named configuration,
    one lock over their state, a queue of events (ids prefixed ``event_prefix``) and a
    planned outage."""

    def __init__(self, clock: Clock, config: _Config, event_prefix: str) -> None:
        self._clock = clock
        self.config = config
        self._lock = threading.Lock()
        self._events: EventQueue[E] = EventQueue(event_prefix)
        self._outages = Outages()

    @property
    def name(self) -> str:
        return self.config.name

    def fail_next(self, count: int, mode: Outage = Outage.DOWN) -> None:
        """Make the next ``count`` calls fail as ``mode`` says (0 ends an outage)."""
        with self._lock:
            self._outages.plan(count, mode)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Delays of the sandbox's events. ``chargeback_after_s`` counts from success and is
    shorter than the carrier settlement, so a carrier chargeback comes before settlement."""

    name: str = "sandbox"
    card_confirm_s: int = 2
    bank_confirm_s: int = 86_400
    carrier_confirm_s: int = 5
    chargeback_after_s: int = 3 * 86_400
    carrier_settlement_days: int = 30


class _Plan(enum.Enum):
    SUCCEED = "succeed"
    SUCCEED_THEN_CHARGEBACK = "succeed_then_chargeback"
    FAIL_LATER = "fail_later"


_TOKEN_PREFIX: Final = "tok_sbx_"
_TOKEN_KEY: Final = b"centime-sandbox-funding"  # public: a sandbox's


def sandbox_token(method: Method, instrument: str) -> str:
    """The sandbox's token of an instrument (its own tokens are answered as they are)."""
    if instrument.startswith(_TOKEN_PREFIX):
        return instrument
    plain = "".join(instrument.split())
    digest = hmac.new(_TOKEN_KEY, f"{method.value}\x1f{plain}".encode(), hashlib.sha256)
    bad = method is Method.CARD and not luhn_valid(plain)
    return f"{_TOKEN_PREFIX}{'bad_' if bad else ''}{digest.hexdigest()[:24]}"


# (method, instrument) -> what happens; anything not listed succeeds (cards: when valid).
_DECLINES: Final = {
    (Method.CARD, CARD_DECLINED): Declined("card_declined", "The card was declined."),
    (Method.CARD, CARD_INSUFFICIENT_FUNDS): Declined(
        "insufficient_funds", "The card has insufficient funds."
    ),
    (Method.CARRIER, PHONE_DECLINED): Declined(
        "carrier_limit_exceeded", "The phone bill's spending limit is reached."
    ),
}
_PLANS: Final = {
    (Method.CARD, CARD_CHARGED_BACK): _Plan.SUCCEED_THEN_CHARGEBACK,
    (Method.CARD, CARD_FAILS_LATER): _Plan.FAIL_LATER,
    (Method.BANK_TRANSFER, BANK_FAILS_LATER): _Plan.FAIL_LATER,
    (Method.CARRIER, PHONE_CHARGED_BACK): _Plan.SUCCEED_THEN_CHARGEBACK,
    (Method.CARRIER, PHONE_FAILS_LATER): _Plan.FAIL_LATER,
}
_T = TypeVar("_T")
_FAILURE_CODES: Final = {
    Method.CARD: "processing_error",
    Method.BANK_TRANSFER: "account_closed",
    Method.CARRIER: "carrier_billing_failed",
}


def luhn_valid(number: str) -> bool:
    """Whether ``number`` (12-19 digits) passes the Luhn check of card numbers."""
    if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19):
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _by_token(table: dict[tuple[Method, str], _T]) -> dict[tuple[Method, str], _T]:
    return {(m, sandbox_token(m, i)): value for (m, i), value in table.items()}


_TOKEN_DECLINES: Final = _by_token(_DECLINES)
_TOKEN_PLANS: Final = _by_token(_PLANS)


def _decide(request: ChargeRequest) -> Declined | _Plan:
    """What the sandbox does with a charge (pure)."""
    if type(request.amount) is not int or request.amount <= 0:
        return Declined("invalid_amount", "The amount must be a positive integer.")
    token = request.instrument
    if type(token) is not str or not token.startswith(_TOKEN_PREFIX):
        if instrument_problem(request.method, token) is not None:
            return Declined("invalid_instrument", "The instrument is malformed.")
        token = sandbox_token(request.method, token)
    key = (request.method, token)
    declined = _TOKEN_DECLINES.get(key)
    if declined is not None:
        return declined
    if token.startswith(_TOKEN_PREFIX + "bad_"):
        return Declined("invalid_number", "The card number is not valid.")
    return _TOKEN_PLANS.get(key, _Plan.SUCCEED)


class SandboxProvider(SandboxCommon[SandboxConfig, ProviderEvent]):
    """The in-process provider (a :class:`~centime.providers.funding.FundingProvider` and
    its :class:`~centime.providers.funding.EventFeed`). Thread-safe: request threads
    charge while the event loop pulls events. :meth:`fail_next` fails charges."""

    def __init__(self, clock: Clock, config: SandboxConfig | None = None) -> None:
        super().__init__(clock, config or SandboxConfig(), "evt_sbx")
        self._charges: OrderedDict[int, tuple[ChargeRequest, ChargeResult]] = OrderedDict()
        self._statement: deque[StatementLine] = deque()

    @property
    def events_waiting(self) -> int:
        """Events queued or handed out and not acknowledged."""
        with self._lock:
            return len(self._events)

    # ------------------------------------------------------------------ charging

    def vault(self, method: Method, instrument: str) -> InstrumentToken:
        """The instrument's token (stateless: see the module's docstring) and its last four
        characters (none for a token given)."""
        if instrument.startswith(_TOKEN_PREFIX):
            return InstrumentToken(instrument, "")
        return InstrumentToken(sandbox_token(method, instrument), "".join(instrument.split())[-4:])

    def charge(self, request: ChargeRequest) -> ChargeResult:
        with self._lock:
            outage = self._outages.take(self.name)
            result = self._charge_locked(request)
        if outage is Outage.TIMEOUT_AFTER_ACCEPT:
            raise ProviderUnavailable(f"{self.name}: timed out waiting for the answer")
        return result

    def _charge_locked(self, request: ChargeRequest) -> ChargeResult:
        known = self._charges.get(request.topup_id)
        if known is not None:
            first, result = known
            if first != request:
                return Declined("idempotency_key_reused", "Another charge used this top-up id.")
            return result
        plan = _decide(request)
        if isinstance(plan, Declined):
            self._remember(request, plan)
            return plan
        if len(self._events) + _EVENTS_PER_CHARGE_MAX > SANDBOX_EVENTS_MAX:
            raise ProviderUnavailable(f"{self.name}: overloaded (event queue full)")
        accepted = Accepted(f"sbx_{request.topup_id:016x}")
        self._schedule(request, accepted.provider_ref, plan)
        self._remember(request, accepted)
        return accepted

    def _remember(self, request: ChargeRequest, result: ChargeResult) -> None:
        self._charges[request.topup_id] = (request, result)
        while len(self._charges) > SANDBOX_CHARGES_MAX:
            self._charges.popitem(last=False)  # the oldest key is forgotten first

    def _schedule(self, request: ChargeRequest, ref: str, plan: _Plan) -> None:
        config = self.config
        confirm_s = {
            Method.CARD: config.card_confirm_s,
            Method.BANK_TRANSFER: config.bank_confirm_s,
            Method.CARRIER: config.carrier_confirm_s,
        }[request.method]
        now_ns = self._clock.now_ns()
        confirmed_ns = now_ns + confirm_s * _NS_PER_S
        topup_id, name = request.topup_id, self.name
        if plan is _Plan.FAIL_LATER:
            code = _FAILURE_CODES[request.method]
            self._push(confirmed_ns, lambda e: ChargeFailed(name, e, topup_id, ref, code))
            return
        self._push(confirmed_ns, lambda e: ChargeSucceeded(name, e, topup_id, ref))
        asset, amount = request.asset, request.amount
        self._book(StatementLine(name, "succeeded", topup_id, ref, amount, asset, confirmed_ns))
        if plan is _Plan.SUCCEED_THEN_CHARGEBACK:
            back_ns = confirmed_ns + config.chargeback_after_s * _NS_PER_S
            self._push(back_ns, lambda e: ChargedBack(name, e, topup_id, ref, amount))
            self._book(StatementLine(name, "charged_back", topup_id, ref, amount, asset, back_ns))
        elif request.method is Method.CARRIER:
            settle_s = config.carrier_settlement_days * 86_400
            self._push(
                confirmed_ns + settle_s * _NS_PER_S,
                lambda e: ChargeSettled(name, e, topup_id, ref),
            )

    def _book(self, line: StatementLine) -> None:
        self._statement.append(line)
        while len(self._statement) > SANDBOX_CHARGES_MAX:
            self._statement.popleft()  # the statement of a long-gone day is forgotten

    def statement(self, start_ns: int, end_ns: int) -> list[StatementLine]:
        """What the sandbox collected and gave back in ``[start_ns, end_ns)`` (up to now:
        a movement planned for later has not happened yet)."""
        end_ns = min(end_ns, self._clock.now_ns() + 1)
        with self._lock:
            return [line for line in self._statement if start_ns <= line.at_ns < end_ns]

    def _push(self, due_ns: int, make: Callable[[str], ProviderEvent]) -> None:
        self._events.push(due_ns, make)

    # ------------------------------------------------------------------ events

    def due_events(
        self, now_ns: int, limit: int = PROVIDER_EVENTS_PER_TICK_MAX
    ) -> list[ProviderEvent]:
        """Up to ``limit`` due, unacknowledged events, oldest first (again on every call
        until acknowledged)."""
        limit = max(0, min(limit, PROVIDER_EVENTS_PER_TICK_MAX))
        with self._lock:
            return self._events.due(now_ns, limit)

    def acknowledge(self, event_ids: Iterable[str]) -> None:
        with self._lock:
            self._events.acknowledge(event_ids)
