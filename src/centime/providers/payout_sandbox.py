"""The sandbox payout rail: behaves like a real bank rail, in process and deterministic.

It registers accounts and accepts or rejects a payout at once, then reports what happens to
it as events that fall due on the clock it is given (the platform's, so tests drive it with
a fake clock). Standard payouts arrive after ``standard_paid_s`` (a day), instant ones after
``instant_paid_s``.

=========================  ============================================================
account number             outcome
=========================  ============================================================
GB82WEST12345698765432     payouts are paid
GB33BUKB20201555555555     payouts are accepted, then fail: ``account_closed``
GB94BARC10201530093459     payouts are paid, then returned ``return_after_s`` later:
                           ``returned_by_bank``
GB24DECL00000000000000     payouts are rejected at once: ``account_blocked``
GB00REJECT000000000000     the account is refused at registration: ``invalid_account``
anything else well formed  payouts are paid
=========================  ============================================================

Failure modes for tests (:meth:`SandboxPayoutRail.fail_next`): ``DOWN`` raises
:class:`ProviderUnavailable` before doing anything; ``TIMEOUT_AFTER_ACCEPT`` accepts the
payout and schedules its events, then raises, as when the answer is lost on the way back.
Either way, sending the same payout again answers as the first acceptance did: the payout id
is the idempotency key, and a payout id is paid at most once, however often it is sent.

The sandbox keeps account numbers (a real rail keeps them in its vault); what it answers
the platform is a token, a keyed fingerprint and the last four characters. Given a
:class:`RailJournal` (``centime serve`` and ``centime demo`` pass the database's,
:mod:`centime.platform.payouts.sandbox_rail`), it writes its records (accounts, payouts decided,
events planned and not yet acknowledged) there as a real rail keeps its own, and starts
from them: a restarted server still knows the accounts and pays what was in flight.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from centime.clock import Clock
from centime.limits import (
    PROVIDER_EVENTS_PER_TICK_MAX,
    SANDBOX_CHARGES_MAX,
    SANDBOX_EVENTS_MAX,
)

from .funding import ProviderUnavailable
from .payouts import (
    AccountRegistered,
    AccountRejected,
    PayoutAccepted,
    PayoutEvent,
    PayoutFailed,
    PayoutPaid,
    PayoutRejected,
    PayoutRequest,
    PayoutResult,
    PayoutReturned,
    account_number_problem,
    holder_name_problem,
    normalized_account_number,
)
from .sandbox import BANK_FAILS_LATER, BANK_SUCCEEDS, Outage, SandboxCommon

__all__ = [
    "ACCOUNT_FAILS",
    "ACCOUNT_REFUSED",
    "ACCOUNT_REJECTS_PAYOUTS",
    "ACCOUNT_RETURNS",
    "ACCOUNT_SUCCEEDS",
    "RailJournal",
    "RailRecords",
    "SandboxPayoutConfig",
    "SandboxPayoutRail",
]

# The funding sandbox's bank accounts, the same in both directions: the good one, and the
# closed one whose top-ups and payouts both fail ``account_closed``.
ACCOUNT_SUCCEEDS: Final = BANK_SUCCEEDS
ACCOUNT_FAILS: Final = BANK_FAILS_LATER
ACCOUNT_RETURNS: Final = "GB94BARC10201530093459"
ACCOUNT_REJECTS_PAYOUTS: Final = "GB24DECL00000000000000"
ACCOUNT_REFUSED: Final = "GB00REJECT000000000000"

_NS_PER_S: Final = 1_000_000_000
_EVENTS_PER_PAYOUT_MAX: Final = 2  # paid, then returned
_ACCOUNTS_MAX: Final = 100_000


@dataclass(frozen=True, slots=True)
class SandboxPayoutConfig:
    name: str = "sandbox-payouts"
    standard_paid_s: int = 86_400
    instant_paid_s: int = 30
    return_after_s: int = 3 * 86_400
    # The key of the fingerprints (a real rail's is its secret; the sandbox's is public).
    fingerprint_key: bytes = b"centime-sandbox-payouts"


@dataclass
class RailRecords:
    """What a rail starts from: accounts (token -> number) and payouts decided (oldest
    first). Its events stay in the journal (:meth:`RailJournal.due`)."""

    accounts: dict[str, str] = field(default_factory=dict)
    payouts: list[tuple[PayoutRequest, PayoutResult]] = field(default_factory=list)


class RailJournal(Protocol):
    """Where the sandbox rail keeps its records (called under the rail's lock, outside any
    platform unit). Several processes may share one (``serve --no-worker`` and ``worker``
    on PostgreSQL): what one rail recorded, the others find there."""

    def load(self) -> RailRecords: ...

    def find_account(self, token: str) -> str | None: ...

    def find_payout(self, payout_id: int) -> tuple[PayoutRequest, PayoutResult] | None: ...

    def due(self, now_ns: int, limit: int) -> list[PayoutEvent]: ...

    def waiting(self) -> int: ...

    def record_account(self, token: str, number: str) -> None: ...

    def record_payout(
        self,
        request: PayoutRequest,
        result: PayoutResult,
        events: list[tuple[int, PayoutEvent]],
    ) -> None: ...

    def acknowledge(self, event_ids: list[str]) -> None: ...


class SandboxPayoutRail(SandboxCommon[SandboxPayoutConfig, PayoutEvent]):
    """The in-process payout rail (a :class:`~centime.providers.payouts.PayoutProvider`
    and its :class:`~centime.providers.payouts.PayoutEventFeed`). Thread-safe.
    :meth:`fail_next` fails registrations and sends."""

    def __init__(
        self,
        clock: Clock,
        config: SandboxPayoutConfig | None = None,
        journal: RailJournal | None = None,
    ) -> None:
        super().__init__(clock, config or SandboxPayoutConfig(), "evt_sbxpo")
        self._accounts: dict[str, str] = {}  # token -> normalized number
        self._payouts: OrderedDict[int, tuple[PayoutRequest, PayoutResult]] = OrderedDict()
        self._sends: dict[int, int] = {}  # payout id -> send calls that reached the rail
        self._journal = journal
        self._planned: list[tuple[int, PayoutEvent]] = []  # by the send being decided
        if journal is not None:
            records = journal.load()
            self._accounts.update(records.accounts)
            for request, result in records.payouts:
                self._payouts[request.payout_id] = (request, result)
            # Its events stay in the journal: due ones are read from there.

    def sends(self, payout_id: int) -> int:
        """How many send calls for this payout reached the rail (tests: resends happen)."""
        with self._lock:
            return self._sends.get(payout_id, 0)

    @property
    def events_waiting(self) -> int:
        with self._lock:
            return self._journal.waiting() if self._journal is not None else len(self._events)

    # ------------------------------------------------------------------ accounts

    def _fingerprint(self, number: str) -> str:
        key = self.config.fingerprint_key
        return hashlib.blake2b(number.encode(), key=key, digest_size=16).hexdigest()

    def register_account(
        self, holder_name: str, account_number: str
    ) -> AccountRegistered | AccountRejected:
        problem = account_number_problem(account_number) or holder_name_problem(holder_name)
        if problem is not None:
            return AccountRejected("invalid_account", problem)
        number = normalized_account_number(account_number)
        with self._lock:
            outage = self._outages.take(self.name)
            if number == ACCOUNT_REFUSED:
                result: AccountRegistered | AccountRejected = AccountRejected(
                    "invalid_account", "The bank does not know this account."
                )
            else:
                fingerprint = self._fingerprint(number)
                token = f"ba_sbx_{fingerprint[:24]}"
                if token not in self._accounts and len(self._accounts) >= _ACCOUNTS_MAX:
                    raise ProviderUnavailable(f"{self.name}: overloaded (accounts full)")
                if self._journal is not None and self._accounts.get(token) != number:
                    self._journal.record_account(token, number)
                self._accounts[token] = number
                result = AccountRegistered(token, fingerprint, number[-4:])
        if outage is Outage.TIMEOUT_AFTER_ACCEPT:
            raise ProviderUnavailable(f"{self.name}: timed out waiting for the answer")
        return result

    # ------------------------------------------------------------------ payouts

    def send(self, request: PayoutRequest) -> PayoutResult:
        with self._lock:
            outage = self._outages.take(self.name)
            self._sends[request.payout_id] = self._sends.get(request.payout_id, 0) + 1
            result = self._send_locked(request)
        if outage is Outage.TIMEOUT_AFTER_ACCEPT:
            raise ProviderUnavailable(f"{self.name}: timed out waiting for the answer")
        return result

    def _send_locked(self, request: PayoutRequest) -> PayoutResult:
        self._planned = []
        known = self._payouts.get(request.payout_id)
        if known is None and self._journal is not None:  # decided by another process
            known = self._journal.find_payout(request.payout_id)
        if known is not None:
            first, result = known
            if first != request:
                return PayoutRejected("idempotency_key_reused", "Another payout used this id.")
            return result
        number = self._accounts.get(request.account_token)
        if number is None and self._journal is not None:  # registered by another process
            number = self._journal.find_account(request.account_token)
        decided: PayoutResult
        if type(request.amount) is not int or request.amount <= 0:
            decided = PayoutRejected("invalid_amount", "The amount must be a positive integer.")
        elif number is None:
            decided = PayoutRejected("unknown_account", "No account has this token.")
        elif number == ACCOUNT_REJECTS_PAYOUTS:
            decided = PayoutRejected("account_blocked", "The account takes no payouts.")
        else:
            waiting = self._journal.waiting() if self._journal is not None else len(self._events)
            if waiting + _EVENTS_PER_PAYOUT_MAX > SANDBOX_EVENTS_MAX:
                raise ProviderUnavailable(f"{self.name}: overloaded (event queue full)")
            decided = PayoutAccepted(f"sbxpo_{request.payout_id:016x}")
            self._schedule(request, decided.provider_ref, number)
        if self._journal is not None:  # the journal is the event queue
            self._journal.record_payout(request, decided, self._planned)
        else:
            for due_ns, event in self._planned:
                self._events.push_event(due_ns, event)
        self._planned = []
        self._payouts[request.payout_id] = (request, decided)
        while len(self._payouts) > SANDBOX_CHARGES_MAX:
            self._payouts.popitem(last=False)
        return decided

    def _schedule(self, request: PayoutRequest, ref: str, number: str) -> None:
        """Plan the payout's events (pushed once the decision is recorded). Their ids name
        the payout and the outcome, so they stay unique across restarts."""
        config = self.config
        delay_s = config.instant_paid_s if request.instant else config.standard_paid_s
        due_ns = self._clock.now_ns() + delay_s * _NS_PER_S
        payout_id, name = request.payout_id, self.name
        prefix = f"evt_sbxpo_{payout_id:016x}"
        if number == ACCOUNT_FAILS:
            failed = PayoutFailed(name, f"{prefix}_failed", payout_id, ref, "account_closed")
            self._planned.append((due_ns, failed))
            return
        self._planned.append((due_ns, PayoutPaid(name, f"{prefix}_paid", payout_id, ref)))
        if number == ACCOUNT_RETURNS:
            returned = PayoutReturned(
                name, f"{prefix}_returned", payout_id, ref, "returned_by_bank"
            )
            self._planned.append((due_ns + config.return_after_s * _NS_PER_S, returned))

    # ------------------------------------------------------------------ events

    def due_payout_events(
        self, now_ns: int, limit: int = PROVIDER_EVENTS_PER_TICK_MAX
    ) -> list[PayoutEvent]:
        limit = max(0, min(limit, PROVIDER_EVENTS_PER_TICK_MAX))
        with self._lock:
            if self._journal is not None:
                return self._journal.due(now_ns, limit)
            return self._events.due(now_ns, limit)

    def acknowledge_payout_events(self, event_ids: Iterable[str]) -> None:
        ids = list(event_ids)
        with self._lock:
            if self._journal is None:
                self._events.acknowledge(ids)
            elif ids:
                self._journal.acknowledge(ids)
