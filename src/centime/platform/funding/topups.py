"""Top-ups: money coming into a customer's wallet from a card, a bank account or a phone
bill, through a funding provider (:mod:`centime.providers`).

The life of a top-up::

    create_topup:  unit 1 (checks, row ``pending``) -> provider.charge (I/O, no unit open)
                   -> unit 2 (``provider_ref`` recorded, or ``declined`` with the code)
    events:        succeeded -> ``succeeded``: FUNDING_CLEARING -> CUSTOMER_WALLET
                                 (carrier: -> CUSTOMER_RESTRICTED, settles_at_ns set)
                   failed    -> ``failed``: nothing moved
                   settled   -> (carrier) restricted -> wallet, what is left of it
                   chargeback-> ``charged_back``: the customer gives the amount back, any
                                shortfall is booked to CHARGEBACK_LOSSES

A provider that cannot be reached (:class:`ProviderUnavailable`) leaves the top-up
``pending`` with no ``provider_ref``: nothing was credited, and :func:`retry_topup` charges
it again under the same idempotency key (the top-up id), so at most one charge is ever
collected. Money moves only when the provider reports success, so a top-up is credited
entirely or not at all.

Events and their order. Each event is one write unit and is idempotent: the top-up's status
says what was applied, and a second delivery of an event finds it applied and changes
nothing (the ledger transfer ids, derived from (top-up id, event kind, leg), would answer
``exists`` anyway). Events that arrive out of order are applied as far as they imply:

- ``settled`` or ``chargeback`` on a ``pending`` top-up imply that the charge succeeded (the
  carrier cannot settle, nor a payer dispute, money that was never collected): the credit is
  applied first, in the same chain.
- ``succeeded`` or ``failed`` on a top-up that is past ``pending`` contradict what was
  applied; they are ignored (a provider reverses collected money with a chargeback, never a
  failure).
- One chargeback per top-up; a chargeback larger than the top-up is ignored (and logged).

Events apply whatever the customer's status: a frozen customer's card was still charged,
and a chargeback must still take the money back.

Carrier money and settlement. Carrier-billed money sits in CUSTOMER_RESTRICTED until the
carrier settles it; it can pay merchants (the payments service spends restricted money
first) but cannot be sent to people or paid out. Settlement is driven by the provider's
``settled`` event, not by the platform's clock: the carrier paying is the fact that makes the
money safe to release (releasing it on a date the carrier has not honoured would let phone
credit become cash, the lending scheme DESIGN.md forbids). ``settles_at_ns`` (success plus
``carrier_settlement_days``) is the date the customer is told to expect, and lets an
operator find overdue settlements; nothing is released by it.

At settlement of a top-up T, ``min(T.amount - T.charged_back, restricted available)`` moves
from restricted to the wallet. Restricted money is one pool shared by all of a customer's
unsettled carrier top-ups, and spending it on merchants is allowed, so what T contributed may
already be spent; the rule attributes such spending to the money still unsettled, which is
the customer's best reading, and stays safe: each settlement releases at most what the
carrier settled for it, so what the wallet ever got from carrier top-ups never exceeds what
carriers settled.

Chargebacks take the amount first from where the top-up's money sits (restricted while an
unsettled carrier top-up, the wallet otherwise), then from the other of the two, each as far
as its available balance goes (money reserved by holds stays reserved); whatever is still
missing is booked as a loss: CHARGEBACK_LOSSES -> FUNDING_CLEARING.

Limits (checked in unit 1, and the balance again before each retry): the day's top-ups
(UTC day of engine time; every top-up created that day that did not fail or was declined,
pending ones included) plus this one within the tier's ``topup_daily``; the customer's wallet
and restricted balances, plus the top-ups accepted by the provider and still pending, plus
this one within the tier's ``balance_max``. Pending top-ups the provider never accepted do
not count against the balance (they may never be charged); a retry checks again.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from centime.ledger import Account, CreateTransferStatus, Transfer, TransferFlags
from centime.ledger.units import UnitContext
from centime.limits import (
    AMOUNT_MAX,
    ID_MAX,
    PROVIDER_CODE_LEN_MAX,
    PROVIDER_EVENTS_PER_TICK_MAX,
    PROVIDER_MESSAGE_LEN_MAX,
    PROVIDER_REF_LEN_MAX,
    TOPUP_CHARGE_ATTEMPTS_MAX,
)
from centime.money import ASSETS
from centime.providers.funding import (
    Accepted,
    ChargedBack,
    ChargeFailed,
    ChargeRequest,
    ChargeResult,
    ChargeSettled,
    ChargeSucceeded,
    Declined,
    EventFeed,
    FundingProvider,
    Method,
    ProviderEvent,
    ProviderUnavailable,
    event_kind,
    instrument_problem,
)

from ..chart import (
    ENSURE_EVENTS_MAX,
    OPERATOR,
    AccountKind,
    account_id,
    customer_accounts,
    ensure_accounts,
    operator_accounts,
)
from ..config import NS_PER_DAY, TierLimits
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import emit, money
from ..feeds import drain
from ..ids import derive_id, format_id, new_id
from ..pages import Cursor, Page, fetch_by_id, fetch_page, given
from ..parties.service import active_customer
from ..pricing.budget import BudgetCode
from ..pricing.evaluate import topup_bonus
from ..pricing.store import active_rules
from ..risk_labels import LabelIn, record_labels
from ..rows import row_by_id, row_reader, row_update
from .instruments import Vaulted, vault

__all__ = [
    "EventOutcome",
    "EventResult",
    "TopUp",
    "TopUpStatus",
    "TopUpTransferCode",
    "UnexpectedLedgerStatusError",
    "chargeback_split",
    "create_topup",
    "get_topup",
    "handle_event",
    "list_topups",
    "process_provider_events",
    "release_amount",
    "release_settled_restricted",
    "retry_topup",
    "tier_refusal",
    "unsettled_carrier_amount",
]

log = logging.getLogger("centime.topups")


class TopUpStatus(enum.Enum):
    PENDING = "pending"  # waiting for the provider (to accept it, or to report the outcome)
    SUCCEEDED = "succeeded"  # the money arrived and was credited
    DECLINED = "declined"  # the provider refused the charge when asked; nothing collected
    FAILED = "failed"  # the provider accepted, then could not collect; nothing credited
    CHARGED_BACK = "charged_back"  # succeeded, then the payer took (part of) it back


class TopUpTransferCode(enum.IntEnum):
    """The ledger ``code`` of the transfers top-ups make (200-299; payments have 100-199),
    ``user_data``: the top-up id."""

    CREDIT = 200  # FUNDING_CLEARING -> CUSTOMER_WALLET or CUSTOMER_RESTRICTED
    SETTLE = 210  # CUSTOMER_RESTRICTED -> CUSTOMER_WALLET
    CHARGEBACK = 220  # CUSTOMER_RESTRICTED or CUSTOMER_WALLET -> FUNDING_CLEARING
    CHARGEBACK_LOSS = 221  # CHARGEBACK_LOSSES -> FUNDING_CLEARING


class UnexpectedLedgerStatusError(RuntimeError):
    """The ledger refused a transfer the unit computed from balances it had locked: a bug."""


@dataclass(frozen=True, slots=True)
class TopUp:
    """A top-up and what the ledger did for it (amounts in the asset's scale)."""

    id: int
    customer_id: int
    asset: str
    amount: int
    method: Method
    instrument: str  # the provider's token (centime.platform.funding.instruments): never the number
    provider: str
    status: TopUpStatus
    provider_ref: str | None  # None until the provider accepted the charge
    failure_code: str | None
    failure_message: str | None
    attempts: int  # charge calls made
    settles_at_ns: int | None  # carrier: when settlement is expected (once succeeded)
    settled_ns: int | None  # carrier: when the provider reported it settled
    released: int  # moved from restricted to the wallet at settlement
    charged_back: int  # = chargeback_restricted + chargeback_wallet + chargeback_loss
    chargeback_restricted: int
    chargeback_wallet: int
    chargeback_loss: int
    created_ns: int
    updated_ns: int
    # What priced it (centime.platform.pricing): the rule set in force at its success, the
    # bonus rule that applied ("name", or "name:budget_spent" when the promotions budget
    # could not pay it) and the bonus the promotions budget paid into the wallet.
    pricing_version: int | None = None
    bonus_rule: str | None = None
    bonus: int = 0
    instrument_fingerprint: str = ""  # keyed: the same instrument, the same fingerprint
    instrument_last4: str = ""

    @property
    def restricted(self) -> bool:
        """Carrier-billed: credited to the restricted balance until settled."""
        return self.method is Method.CARRIER

    @property
    def awaiting_retry(self) -> bool:
        """The provider never answered: :func:`retry_topup` may charge it again."""
        return self.status is TopUpStatus.PENDING and self.provider_ref is None

    @property
    def credited(self) -> int:
        """What the success credited (0 until it succeeded)."""
        applied = (TopUpStatus.SUCCEEDED, TopUpStatus.CHARGED_BACK)
        return self.amount if self.status in applied else 0


class EventOutcome(enum.Enum):
    APPLIED = "applied"  # the event changed the top-up (and moved money if it says so)
    DUPLICATE = "duplicate"  # already applied: nothing changed
    IGNORED = "ignored"  # contradicts what was applied, or is malformed: nothing changed
    UNKNOWN = "unknown"  # names no top-up of this provider: nothing changed


@dataclass(frozen=True, slots=True)
class EventResult:
    outcome: EventOutcome
    topup: TopUp | None
    detail: str = ""


_COLUMNS: Final = (
    "id, customer_id, asset, amount, method, instrument, provider, status, provider_ref, "
    "failure_code, failure_message, attempts, settles_at_ns, settled_ns, released, "
    "charged_back, chargeback_restricted, chargeback_wallet, chargeback_loss, created_ns, "
    "updated_ns, pricing_version, bonus_rule, bonus, instrument_fingerprint, instrument_last4"
)
# Transfers one event submits at most: the implied credit and its bonus, three chargeback
# legs and the bonus's clawback.
_EVENT_TRANSFERS_MAX: Final = 6
_NOT_COUNTED: Final = (TopUpStatus.FAILED.value, TopUpStatus.DECLINED.value)


_read_topup = row_reader(TopUp, _COLUMNS)


def _topup(row: Sequence[Any]) -> TopUp:
    # The instrument's fingerprint and last four may be NULL (columns added later): "".
    return _read_topup((*row[:-2], row[-2] or "", row[-1] or ""))


# ------------------------------------------------------------------ pure decisions


def check_request(
    asset: object, amount: object, method: object, instrument: object
) -> tuple[Method, None] | tuple[None, Refusal]:
    """The method, or why the request cannot be charged at all (before any lookup);
    ``instrument`` None: already vaulted, its shape was checked then."""
    if type(asset) is not str or asset not in ASSETS:
        return None, Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if type(amount) is not int or not 0 < amount <= AMOUNT_MAX:
        return None, Refusal(Code.INVALID_AMOUNT, "a top-up is a positive integer amount")
    try:
        chosen = method if isinstance(method, Method) else Method(method)
    except ValueError:
        names = ", ".join(m.value for m in Method)
        return None, Refusal(Code.INVALID_REQUEST, f"method must be one of {names}")
    problem = None if instrument is None else instrument_problem(chosen, instrument)
    if problem is not None:
        return None, Refusal(Code.INVALID_REQUEST, problem)
    return chosen, None


def tier_refusal(
    tier: TierLimits, asset: str, day_total: int, balance: int, amount: int
) -> Refusal | None:
    """Whether a top-up of ``amount`` fits the tier: ``day_total`` is what the day's
    counted top-ups already add up to, ``balance`` the customer's money plus accepted
    pending top-ups (see the module's note on limits)."""
    daily = tier.topup_daily_amount(asset)
    if day_total + amount > daily:
        left = max(0, daily - day_total)
        return Refusal(
            Code.TIER_LIMIT_EXCEEDED,
            f"the daily top-up limit is {ASSETS[asset].format(daily)} {asset}; "
            f"{ASSETS[asset].format(left)} {asset} left today",
        )
    balance_max = tier.balance_max_amount(asset)
    if balance + amount > balance_max:
        return Refusal(
            Code.TIER_LIMIT_EXCEEDED,
            f"the balance may not exceed {ASSETS[asset].format(balance_max)} {asset}",
        )
    return None


def chargeback_split(
    amount: int, first_available: int, second_available: int
) -> tuple[int, int, int]:
    """(from the first account, from the second, loss): take what is there, in order."""
    first = min(amount, max(0, first_available))
    second = min(amount - first, max(0, second_available))
    return first, second, amount - first - second


def release_amount(topup_amount: int, charged_back: int, restricted_available: int) -> int:
    """What a carrier top-up's settlement moves from restricted to the wallet (module note)."""
    return max(0, min(topup_amount - charged_back, restricted_available))


def _bounded_text(text: object, length_max: int) -> str:
    """A provider's code or message as the platform stores it (cut at ``length_max``)."""
    return (text if type(text) is str else repr(text))[:length_max]


def _event_problem(event: ProviderEvent) -> str | None:
    """What is wrong with an event's fields (None: well formed)."""
    ref = event.provider_ref
    if type(ref) is not str or not 0 < len(ref) <= PROVIDER_REF_LEN_MAX:
        return f"provider_ref must be text of 1-{PROVIDER_REF_LEN_MAX} characters"
    if type(event.topup_id) is not int or not 0 < event.topup_id <= ID_MAX:
        return "topup_id must be a positive id"
    if isinstance(event, ChargedBack) and (type(event.amount) is not int or event.amount <= 0):
        return "a chargeback amount is a positive integer"
    return None


# ------------------------------------------------------------------ inside units


def _load(ctx: UnitContext, topup_id: int) -> TopUp | None:
    return row_by_id(ctx.fetch, "topups", _COLUMNS, topup_id, _topup)


# Every field that changes over a top-up's life, stamped with the time of the change.
_save = row_update(
    TopUp,
    "topups",
    "status, provider_ref, failure_code, failure_message, attempts, settles_at_ns, settled_ns,"
    " released, charged_back, chargeback_restricted, chargeback_wallet, chargeback_loss,"
    " updated_ns, pricing_version, bonus_rule, bonus",
    stamp_ns="updated_ns",
)


def _insert(ctx: UnitContext, topup: TopUp) -> None:
    ctx.execute(
        "INSERT INTO topups (id, customer_id, asset, amount, method, instrument, provider,"
        " status, attempts, restricted, created_ns, updated_ns, instrument_fingerprint,"
        " instrument_last4) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            topup.id,
            topup.customer_id,
            topup.asset,
            topup.amount,
            topup.method.value,
            topup.instrument,
            topup.provider,
            topup.status.value,
            topup.attempts,
            int(topup.restricted),
            topup.created_ns,
            topup.updated_ns,
            topup.instrument_fingerprint,
            topup.instrument_last4,
        ),
    )


def _day_total(ctx: UnitContext, customer_id: int, asset: str) -> int:
    """The amounts of the customer's top-ups in ``asset`` created on today's UTC day that
    did not fail and were not declined."""
    day_start_ns = ctx.now_ns - ctx.now_ns % NS_PER_DAY
    rows = ctx.fetch(
        "SELECT COALESCE(SUM(amount), 0) FROM topups WHERE customer_id = ? AND asset = ?"
        " AND created_ns >= ? AND created_ns < ? AND status NOT IN (?, ?)",
        (customer_id, asset, day_start_ns, day_start_ns + NS_PER_DAY, *_NOT_COUNTED),
    )
    return int(rows[0][0])  # PostgreSQL sums BIGINT as an exact numeric


def _balance(ctx: UnitContext, customer_id: int, asset: str, excluding: int) -> int:
    """The customer's wallet and restricted balances plus the accepted, pending top-ups
    (other than ``excluding``)."""
    ids = [
        account_id(AccountKind.CUSTOMER_WALLET, customer_id, asset),
        account_id(AccountKind.CUSTOMER_RESTRICTED, customer_id, asset),
    ]
    held = sum(a.balance for a in ctx.accounts(ids).values())
    rows = ctx.fetch(
        "SELECT COALESCE(SUM(amount), 0) FROM topups WHERE customer_id = ? AND asset = ?"
        " AND status = ? AND provider_ref IS NOT NULL AND id <> ?",
        (customer_id, asset, TopUpStatus.PENDING.value, excluding),
    )
    return held + int(rows[0][0])


def _same_request(a: TopUp, b: TopUp) -> bool:
    return (a.customer_id, a.asset, a.amount, a.method, a.instrument_fingerprint, a.provider) == (
        b.customer_id,
        b.asset,
        b.amount,
        b.method,
        b.instrument_fingerprint,
        b.provider,
    )


def _create_unit(platform: Platform, draft: TopUp) -> Operation[tuple[TopUp, bool] | Refusal]:
    """Checks and records a new top-up; (top-up, whether it is new). A top-up that exists
    under the draft's id is returned as it is when it is the same request."""

    def unit(ctx: UnitContext) -> tuple[TopUp, bool] | Refusal:
        existing = _load(ctx, draft.id)
        if existing is not None:
            if not _same_request(existing, draft):
                return Refusal(Code.INVALID_REQUEST, "another top-up has this id")
            return existing, False
        customer = active_customer(ctx, draft.customer_id)
        if isinstance(customer, Refusal):
            return customer
        tier = platform.config.tiers[customer.kyc_tier]
        refusal = tier_refusal(
            tier,
            draft.asset,
            _day_total(ctx, draft.customer_id, draft.asset),
            _balance(ctx, draft.customer_id, draft.asset, excluding=draft.id),
            draft.amount,
        )
        if refusal is not None:
            return refusal
        topup = dataclasses.replace(draft, created_ns=ctx.now_ns, updated_ns=ctx.now_ns)
        _insert(ctx, topup)
        return topup, True

    return Operation(unit, 0)


def _retry_unit(
    platform: Platform, topup_id: int, provider: str
) -> Operation[tuple[TopUp, bool] | Refusal]:
    """Checks a retry and counts the attempt; (top-up, whether to charge it)."""

    def unit(ctx: UnitContext) -> tuple[TopUp, bool] | Refusal:
        topup = _load(ctx, topup_id)
        if topup is None:
            return Refusal(Code.TOPUP_NOT_FOUND, "no such top-up")
        if topup.status is not TopUpStatus.PENDING:
            return Refusal(Code.TOPUP_NOT_PENDING, f"the top-up is {topup.status.value}")
        if topup.provider_ref is not None:  # accepted: the outcome will come as an event
            return topup, False
        if topup.provider != provider:
            return Refusal(Code.INVALID_REQUEST, f"the top-up is {topup.provider}'s")
        if topup.attempts >= TOPUP_CHARGE_ATTEMPTS_MAX:
            return Refusal(
                Code.PROVIDER_UNAVAILABLE,
                f"the provider did not answer {topup.attempts} times; the top-up waits for"
                " its report",
            )
        customer = active_customer(ctx, topup.customer_id)
        if isinstance(customer, Refusal):
            return customer
        balance = _balance(ctx, topup.customer_id, topup.asset, excluding=topup.id)
        balance_max = platform.config.tiers[customer.kyc_tier].balance_max_amount(topup.asset)
        if balance + topup.amount > balance_max:
            return Refusal(Code.TIER_LIMIT_EXCEEDED, "the balance limit would be exceeded")
        return _save(ctx, dataclasses.replace(topup, attempts=topup.attempts + 1)), True

    return Operation(unit, 0)


def _answer_unit(topup_id: int, result: ChargeResult) -> Operation[TopUp]:
    """Records the provider's answer to a charge."""

    def unit(ctx: UnitContext) -> TopUp:
        topup = _load(ctx, topup_id)
        if topup is None:
            raise LookupError(f"top-up {topup_id} vanished between its units")
        if isinstance(result, Accepted):
            if topup.provider_ref is None:
                return _save(ctx, dataclasses.replace(topup, provider_ref=result.provider_ref))
            if topup.provider_ref != result.provider_ref:
                log.error(
                    "provider %s answered top-up %d with ref %r, it had %r; keeping the first",
                    topup.provider,
                    topup.id,
                    result.provider_ref,
                    topup.provider_ref,
                )
            return topup
        if topup.status is TopUpStatus.PENDING and topup.provider_ref is None:
            declined = dataclasses.replace(
                topup,
                status=TopUpStatus.DECLINED,
                failure_code=_bounded_text(result.code, PROVIDER_CODE_LEN_MAX),
                failure_message=_bounded_text(result.message, PROVIDER_MESSAGE_LEN_MAX),
            )
            _tell(ctx, topup, declined)
            return _save(ctx, declined)
        log.error("provider %s declined top-up %d after accepting it", topup.provider, topup.id)
        return topup

    return Operation(unit, 0)


# ------------------------------------------------------------------ charging (I/O at the edge)


def _charge(platform: Platform, provider: FundingProvider, topup: TopUp) -> TopUp:
    """Calls the provider (no unit open) and records its answer in a unit of its own."""
    request = ChargeRequest(
        topup.id, topup.customer_id, topup.asset, topup.amount, topup.method, topup.instrument
    )
    try:
        result = provider.charge(request)
    except ProviderUnavailable as error:
        log.warning("top-up %d: provider %s unavailable: %s", topup.id, provider.name, error)
        return topup  # pending, no provider_ref: retriable
    if isinstance(result, Accepted) and not (
        type(result.provider_ref) is str and 0 < len(result.provider_ref) <= PROVIDER_REF_LEN_MAX
    ):
        raise ValueError(f"provider {provider.name} answered a malformed provider_ref")
    if not isinstance(result, Accepted | Declined):
        raise TypeError(f"provider {provider.name} answered {type(result).__name__}")
    return platform.execute(_answer_unit(topup.id, result))


def create_topup(
    platform: Platform,
    provider: FundingProvider,
    customer_id: int,
    asset: str,
    amount: int,
    method: Method | str,
    instrument: str | Vaulted,
    topup_id: int | None = None,
) -> TopUp | Refusal:
    """Top up a customer's wallet: record it, charge the provider, record the answer.

    ``instrument`` as the customer gave it (vaulted here, before anything is recorded:
    centime.platform.funding.instruments), or already vaulted (an approved review's plan).

    Returns the top-up: ``pending`` (accepted, or the provider was unavailable: then
    ``awaiting_retry``) or ``declined`` (``failure_code`` is the provider's); a Refusal,
    with nothing recorded, when the request or the customer's limits do not allow it.

    ``topup_id`` (default: a new id) makes the call idempotent: the API derives it from the
    request's Idempotency-Key, so a client that retries after a timeout gets the same
    top-up (charged again only if the provider never answered), never a second one.
    """
    vaulted = _vaulted(platform, provider, asset, amount, method, instrument)
    if isinstance(vaulted, Refusal):
        return vaulted
    chosen, kept = vaulted
    if topup_id is not None and (type(topup_id) is not int or not 0 < topup_id <= ID_MAX):
        return Refusal(Code.INVALID_REQUEST, "topup_id must be a positive id")
    draft = TopUp(
        topup_id or new_id(),
        customer_id,
        asset,
        amount,
        chosen,
        kept.token,
        provider.name,
        TopUpStatus.PENDING,
        None,
        None,
        None,
        1,
        None,
        None,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        instrument_fingerprint=kept.fingerprint,
        instrument_last4=kept.last4,
    )
    created = platform.execute(_create_unit(platform, draft))
    if isinstance(created, Refusal):
        return created
    topup, new = created
    if new:
        return _charge(platform, provider, topup)
    return retry_topup(platform, provider, topup.id) if topup.awaiting_retry else topup


def _vaulted(
    platform: Platform,
    provider: FundingProvider,
    asset: object,
    amount: object,
    method: object,
    instrument: str | Vaulted,
) -> tuple[Method, Vaulted] | Refusal:
    """The request's method and its instrument vaulted, or why it cannot be charged."""
    given = None if isinstance(instrument, Vaulted) else instrument
    chosen, refusal = check_request(asset, amount, method, given)
    if refusal is not None or chosen is None:
        return refusal or Refusal(Code.INVALID_REQUEST, "bad top-up")
    if isinstance(instrument, Vaulted):
        return chosen, instrument
    try:
        return chosen, vault(platform, provider, chosen, instrument)
    except ProviderUnavailable as error:
        log.warning("provider %s unavailable to vault an instrument: %s", provider.name, error)
        return Refusal(Code.PROVIDER_UNAVAILABLE, "the funding provider is unavailable")


def retry_topup(platform: Platform, provider: FundingProvider, topup_id: int) -> TopUp | Refusal:
    """Charge again a pending top-up the provider never answered for (same idempotency key:
    the provider collects at most once). A top-up the provider accepted is returned as it
    is; its outcome comes as an event."""
    checked = platform.execute(_retry_unit(platform, topup_id, provider.name))
    if isinstance(checked, Refusal):
        return checked
    topup, charge = checked
    return _charge(platform, provider, topup) if charge else topup


# ------------------------------------------------------------------ events


def _transfer(topup: TopUp, leg: str, debit: int, credit: int, amount: int, code: int) -> Transfer:
    transfer_id = derive_id("topup", topup.id, leg)
    return Transfer(transfer_id, debit, credit, amount, topup.asset, int(code), 0, 0, 0, topup.id)


def _submit_chain(ctx: UnitContext, transfers: list[Transfer]) -> None:
    """Submit ``transfers`` as one linked chain; each must be created."""
    if not transfers:
        return
    linked = int(TransferFlags.LINKED)
    chain = [t._replace(flags=t.flags | linked) for t in transfers[:-1]] + [transfers[-1]]
    statuses = ctx.create_transfers(chain)
    for transfer, status in zip(chain, statuses, strict=True):
        if status is not CreateTransferStatus.CREATED:
            raise UnexpectedLedgerStatusError(f"transfer {transfer.id}: {status.value}")


class _Books:
    """A customer's two accounts and the operator's, as a unit sees them, and the chain an
    event builds on them (amounts computed before anything is submitted)."""

    def __init__(self, ctx: UnitContext, topup: TopUp) -> None:
        asset, owner = topup.asset, topup.customer_id
        ensure_accounts(ctx, operator_accounts(asset) + customer_accounts(owner, asset))
        self.wallet = account_id(AccountKind.CUSTOMER_WALLET, owner, asset)
        self.restricted = account_id(AccountKind.CUSTOMER_RESTRICTED, owner, asset)
        self.clearing = account_id(AccountKind.FUNDING_CLEARING, OPERATOR, asset)
        self.promotions = account_id(AccountKind.PROMOTIONS, OPERATOR, asset)
        self.losses = account_id(AccountKind.CHARGEBACK_LOSSES, OPERATOR, asset)
        found: dict[int, Account] = ctx.accounts([self.wallet, self.restricted, self.promotions])
        # What a debit could take from each, as the chain proceeds.
        self.available = {
            i: found[i].available for i in (self.wallet, self.restricted, self.promotions)
        }
        self.chain: list[Transfer] = []

    def move(self, transfer: Transfer) -> None:
        if transfer.amount == 0:
            return
        self.chain.append(transfer)
        for account, sign in ((transfer.debit_account_id, -1), (transfer.credit_account_id, 1)):
            if account in self.available:
                self.available[account] += sign * transfer.amount


def _credit(books: _Books, topup: TopUp, now_ns: int, days: int) -> TopUp:
    """The success: the money arrives in the wallet (restricted, for carrier money)."""
    target = books.restricted if topup.restricted else books.wallet
    books.move(
        _transfer(
            topup, "succeeded", books.clearing, target, topup.amount, TopUpTransferCode.CREDIT
        )
    )
    settles_at_ns = now_ns + days * NS_PER_DAY if topup.restricted else None
    return dataclasses.replace(topup, status=TopUpStatus.SUCCEEDED, settles_at_ns=settles_at_ns)


def _bonus(ctx: UnitContext, books: _Books, topup: TopUp) -> TopUp:
    """The top-up bonus of the rule set in force, paid by the promotions budget into the
    wallet in the success's chain; skipped (and recorded so) when the budget cannot pay it
    whole: a bonus never overdraws the budget and is never paid in part."""
    rules = active_rules(ctx)
    earned = topup_bonus(rules, topup.asset, topup.amount, topup.method.value)
    if earned is None:
        return dataclasses.replace(topup, pricing_version=rules.version)
    bonus, rule = earned
    if books.available[books.promotions] < bonus:
        return dataclasses.replace(
            topup, pricing_version=rules.version, bonus_rule=f"{rule.name}:budget_spent"
        )
    books.move(
        _transfer(topup, "bonus", books.promotions, books.wallet, bonus, BudgetCode.TOPUP_BONUS)
    )
    return dataclasses.replace(
        topup, pricing_version=rules.version, bonus_rule=rule.name, bonus=bonus
    )


def _claw_back_bonus(books: _Books, topup: TopUp, charged_back: int) -> None:
    """A charged-back top-up's bonus goes back to the promotions budget in the same share
    (``bonus * charged_back // amount``, rounded down: the customer keeps the fraction), as
    far as the wallet still holds it; what the customer already spent of it stays spent (a
    cost of the promotion, like a chargeback loss)."""
    if topup.bonus <= 0:
        return
    share = topup.bonus * charged_back // topup.amount
    take = min(share, max(books.available[books.wallet], 0))
    books.move(
        _transfer(
            topup,
            "bonus.clawback",
            books.wallet,
            books.promotions,
            take,
            BudgetCode.TOPUP_BONUS_CLAWBACK,
        )
    )


def _settle(books: _Books, topup: TopUp, now_ns: int) -> TopUp:
    released = release_amount(topup.amount, topup.charged_back, books.available[books.restricted])
    books.move(
        _transfer(
            topup, "settled", books.restricted, books.wallet, released, TopUpTransferCode.SETTLE
        )
    )
    return dataclasses.replace(topup, settled_ns=now_ns, released=released)


def _charge_back(books: _Books, topup: TopUp, amount: int) -> TopUp:
    unsettled = topup.restricted and topup.settled_ns is None
    first, second = (
        (books.restricted, books.wallet) if unsettled else (books.wallet, books.restricted)
    )
    take_first, take_second, loss = chargeback_split(
        amount, books.available[first], books.available[second]
    )
    code = TopUpTransferCode.CHARGEBACK
    books.move(_transfer(topup, "chargeback.first", first, books.clearing, take_first, code))
    books.move(_transfer(topup, "chargeback.second", second, books.clearing, take_second, code))
    books.move(
        _transfer(
            topup,
            "chargeback.loss",
            books.losses,
            books.clearing,
            loss,
            TopUpTransferCode.CHARGEBACK_LOSS,
        )
    )
    from_restricted = take_first if first == books.restricted else take_second
    _claw_back_bonus(books, topup, amount)
    return dataclasses.replace(
        topup,
        status=TopUpStatus.CHARGED_BACK,
        charged_back=amount,
        chargeback_restricted=from_restricted,
        chargeback_wallet=take_first + take_second - from_restricted,
        chargeback_loss=loss,
    )


def _apply(
    ctx: UnitContext, platform: Platform, topup: TopUp, event: ProviderEvent
) -> tuple[EventOutcome, TopUp, str]:
    """What ``event`` does to ``topup`` (the rules of the module's note); submits the chain."""
    status = topup.status
    pending = status is TopUpStatus.PENDING
    days = platform.config.carrier_settlement_days
    if status in (TopUpStatus.DECLINED, TopUpStatus.FAILED):
        same = isinstance(event, ChargeFailed) and status is TopUpStatus.FAILED
        return (EventOutcome.DUPLICATE if same else EventOutcome.IGNORED), topup, status.value
    if isinstance(event, ChargeFailed):
        if not pending:
            return EventOutcome.IGNORED, topup, f"a failure after {status.value}"
        failed = dataclasses.replace(
            topup,
            status=TopUpStatus.FAILED,
            failure_code=_bounded_text(event.code, PROVIDER_CODE_LEN_MAX),
        )
        return EventOutcome.APPLIED, failed, ""
    if isinstance(event, ChargeSucceeded) and not pending:
        return EventOutcome.DUPLICATE, topup, status.value
    if isinstance(event, ChargeSettled):
        if not topup.restricted:
            return EventOutcome.IGNORED, topup, "only carrier top-ups settle"
        if topup.settled_ns is not None:
            return EventOutcome.DUPLICATE, topup, "already settled"
    if isinstance(event, ChargedBack):
        if status is TopUpStatus.CHARGED_BACK:
            return EventOutcome.DUPLICATE, topup, "already charged back"
        if event.amount > topup.amount:
            return EventOutcome.IGNORED, topup, "a chargeback above the top-up's amount"
    books = _Books(ctx, topup)
    if pending:  # success, or what a settlement or chargeback implies
        topup = _credit(books, topup, ctx.now_ns, days)
        topup = _bonus(ctx, books, topup)
    if isinstance(event, ChargeSettled):
        topup = _settle(books, topup, ctx.now_ns)
    elif isinstance(event, ChargedBack):
        topup = _charge_back(books, topup, event.amount)
    _submit_chain(ctx, books.chain)
    return EventOutcome.APPLIED, topup, ""


def _topup_data(topup: TopUp) -> dict[str, object]:
    asset = ASSETS[topup.asset]
    return {
        "id": format_id("top", topup.id),
        "customer_id": format_id("cus", topup.customer_id),
        "amount": money(topup.amount, asset),
        "method": topup.method.value,
        "status": topup.status.value,
        "charged_back": money(topup.charged_back, asset),
        "failure_code": topup.failure_code,
    }


def _tell(ctx: UnitContext, before: TopUp, after: TopUp) -> None:
    """The outbox events of a top-up's change of status, for its customer (written whether
    or not anyone listens: top-ups are few, and the outbox is their record for customer
    notifications; merchants' endpoints never hear of a customer's top-ups)."""
    if before.status is after.status:
        return
    owner, data = after.customer_id, _topup_data(after)
    if after.status in (TopUpStatus.DECLINED, TopUpStatus.FAILED):
        emit(ctx, "topup.failed", owner, data)
        return
    if before.status is TopUpStatus.PENDING:  # succeeded (perhaps charged back at once)
        emit(ctx, "topup.succeeded", owner, data)
    if after.status is TopUpStatus.CHARGED_BACK:
        emit(ctx, "topup.charged_back", owner, data)


def _ref_taken(ctx: UnitContext, event: ProviderEvent) -> bool:
    rows = ctx.fetch(
        "SELECT id FROM topups WHERE provider = ? AND provider_ref = ? AND id <> ?",
        (event.provider, event.provider_ref, event.topup_id),
    )
    return bool(rows)


def _event_unit(platform: Platform, event: ProviderEvent) -> Operation[EventResult]:
    def unit(ctx: UnitContext) -> EventResult:
        topup = _load(ctx, event.topup_id)
        if topup is None or topup.provider != event.provider:
            return EventResult(EventOutcome.UNKNOWN, None, "no such top-up of this provider")
        if topup.provider_ref is not None and topup.provider_ref != event.provider_ref:
            return EventResult(EventOutcome.IGNORED, topup, "another charge's reference")
        if topup.provider_ref is None and _ref_taken(ctx, event):
            return EventResult(EventOutcome.IGNORED, topup, "another top-up's reference")
        outcome, changed, detail = _apply(ctx, platform, topup, event)
        if outcome is not EventOutcome.APPLIED:
            return EventResult(outcome, topup, detail)
        # A charge accepted behind a timeout is learnt of here.
        changed = dataclasses.replace(changed, provider_ref=event.provider_ref)
        _tell(ctx, topup, changed)
        return EventResult(outcome, _save(ctx, changed), detail)

    return Operation(unit, ENSURE_EVENTS_MAX + _EVENT_TRANSFERS_MAX)


def handle_event(platform: Platform, event: ProviderEvent) -> EventResult:
    """Apply one provider event in one write unit; idempotent (see the module's note)."""
    problem = _event_problem(event)
    if problem is not None:
        log.error("malformed %s event %r: %s", event_kind(event), event.event_id, problem)
        return EventResult(EventOutcome.IGNORED, None, problem)
    result = platform.execute(_event_unit(platform, event))
    if (
        result.outcome is EventOutcome.APPLIED
        and result.topup is not None
        and (result.topup.status is TopUpStatus.CHARGED_BACK)
    ):
        _label_charged_back(platform, result.topup)
    if result.outcome in (EventOutcome.IGNORED, EventOutcome.UNKNOWN):
        log.warning(
            "%s event %r for top-up %d %s: %s",
            event_kind(event),
            event.event_id,
            event.topup_id,
            result.outcome.value,
            result.detail,
        )
    return result


def _label_charged_back(platform: Platform, topup: TopUp) -> None:
    """A chargeback is a fraud label on the top-up's event (the risk engine's label
    feedback: centime.platform.risk_labels); stored once per top-up."""
    payer = format_id("cus", topup.customer_id)
    stored = record_labels(
        platform,
        [LabelIn("chargeback", f"topup:{topup.id}", topup.created_ns, payer, payer, "fraud")],
    )
    if isinstance(stored, Refusal):
        log.warning("top-up %d charged back, its label not stored: %s", topup.id, stored.detail)


def process_provider_events(
    platform: Platform, feed: EventFeed, limit: int = PROVIDER_EVENTS_PER_TICK_MAX
) -> list[EventResult]:
    """Handle up to ``limit`` due events of ``feed``, each in its own unit, acknowledging
    each once handled. An event whose unit raised stays unacknowledged and comes again."""
    limit = max(0, min(limit, PROVIDER_EVENTS_PER_TICK_MAX))
    due = feed.due_events(platform.clock.now_ns(), limit)
    return drain(due, partial(handle_event, platform), feed.acknowledge, event_kind, log)


# ------------------------------------------------------------------ reads


def unsettled_carrier_amount(ctx: UnitContext, customer_id: int, asset: str) -> int:
    """Carrier-billed money of the customer the carrier has not settled yet (and did not
    take back): the most the restricted balance may rightly hold. Money that comes back to
    the customer (a refund) refills the restricted balance only up to it; above it, the
    carrier has paid, and the money is the customer's to send."""
    rows = ctx.fetch(
        "SELECT COALESCE(SUM(amount - charged_back), 0) FROM topups"
        " WHERE customer_id = ? AND asset = ? AND method = ? AND settled_ns IS NULL"
        " AND status IN (?, ?)",
        (
            customer_id,
            asset,
            Method.CARRIER.value,
            TopUpStatus.SUCCEEDED.value,
            TopUpStatus.CHARGED_BACK.value,
        ),
    )
    return int(rows[0][0])


# Ledger events of release_settled_restricted: the wallet account, the transfer.
RELEASE_SETTLED_EVENTS_MAX: Final = 2


def release_settled_restricted(
    ctx: UnitContext, customer_id: int, asset: str, transfer_id: int
) -> int:
    """Move to the wallet the restricted money the carrier has already paid for: the
    restricted balance above the unsettled carrier amount, as far as no hold reserves it
    (one transfer, ``transfer_id``); returns how much. For money that comes back to the
    restricted balance after its settlement could not release it: a hold released or
    expired after the carrier settled. At most RELEASE_SETTLED_EVENTS_MAX events."""
    restricted_id = account_id(AccountKind.CUSTOMER_RESTRICTED, customer_id, asset)
    restricted = ctx.accounts([restricted_id]).get(restricted_id)
    if restricted is None:
        return 0
    unsettled = unsettled_carrier_amount(ctx, customer_id, asset)
    excess = min(restricted.balance - unsettled, restricted.available)
    if excess <= 0:
        return 0
    wallet = customer_accounts(customer_id, asset)[0]
    ensure_accounts(ctx, [wallet])
    move = Transfer(
        transfer_id,
        restricted_id,
        wallet.id,
        excess,
        asset,
        int(TopUpTransferCode.SETTLE),
        0,
        0,
        0,
        customer_id,
    )
    (status,) = ctx.create_transfers([move])
    if status is not CreateTransferStatus.CREATED:
        raise UnexpectedLedgerStatusError(f"releasing settled money: {status.value}")
    return excess


def get_topup(platform: Platform, topup_id: int) -> TopUp | None:
    return fetch_by_id(platform, "topups", _COLUMNS, topup_id, _topup)


def list_topups(
    platform: Platform,
    customer_id: int | None = None,
    cursor: Cursor | None = None,
    limit: int = 100,
) -> Page[TopUp]:
    """Top-ups newest first (keyset on (created_ns, id), :mod:`.pages`), of one customer
    (None: all of them, the operator's view); ``limit`` is bounded by LIST_LIMIT_MAX."""
    filters = given(customer_id=customer_id)
    return fetch_page(platform, "topups", _COLUMNS, filters, cursor, limit, _topup)
