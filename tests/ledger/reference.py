"""A reference model of the ledger, written from the semantics, for the property tests.

Deliberately simple and slow: plain dicts of accounts, transfers, pending states and failed
ids; a linked chain is applied to the live state after a deep copy of it and, when it fails,
the copy is put back. It imports the data model (events, flags, statuses) and the limits, and
nothing of ``centime.ledger.core``: it is meant to be read against docs/ledger.md and
TigerBeetle's documentation, not against the engine's code.

Where the project's documents leave a behaviour open, the model follows TigerBeetle
(``src/state_machine.zig``), which DESIGN.md adopts:

- a void may name an amount: 0 or ``AMOUNT_POST_FULL`` mean the whole reserve, an amount
  above the reserve is ``exceeds_pending_transfer_amount`` and one below it
  ``pending_transfer_has_different_amount``;
- a new pending transfer is refused with ``overflows_debits_posted`` (``_credits_posted``)
  when posting it in full later could overflow the posted field;
- a closed account refuses everything but voids (and expiries) of pending transfers: posting
  the very transfer that closed it is refused too;
- resubmitting a post or void compares the event *after* filling its empty fields from the
  pending transfer (accounts, asset, code, ``user_data``; the amount when it is
  ``AMOUNT_POST_FULL``, or 0 for a void) with the stored record.

Engine time: every group (one ``create_*`` call with at least one event, or a sweep) first
expires the due pending transfers (``expires_at <= now``, by expiry time then id), then hands
out one timestamp per expiry and per event, the first being ``max(now, last + 1)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from centime.ledger.model import (
    AMOUNT_POST_FULL,
    TRANSIENT_TRANSFER_FAILURES,
    Account,
    AccountFlags,
    CreateAccountStatus,
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from centime.limits import (
    AMOUNT_MAX,
    ASSET_CODE_LEN_MAX,
    CODE_MAX,
    EXPIRY_SWEEP_MAX,
    ID_MAX,
    TIMEOUT_MAX_S,
    USER_DATA_MAX,
)
from centime.money import ASSETS

__all__ = ["ReferenceLedger", "TraceEntry"]

S = CreateTransferStatus
A = CreateAccountStatus

TIMESTAMP_MAX = 2**63 - 1
NS_PER_S = 1_000_000_000

LINKED = 1 << 0
DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
CLOSED = int(AccountFlags.CLOSED)
ACCOUNT_FLAGS_KNOWN = sum(int(f) for f in AccountFlags)

PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)
BAL_DR = int(TransferFlags.BALANCING_DEBIT)
BAL_CR = int(TransferFlags.BALANCING_CREDIT)
CLOSE_DR = int(TransferFlags.CLOSING_DEBIT)
CLOSE_CR = int(TransferFlags.CLOSING_CREDIT)
TRANSFER_FLAGS_KNOWN = sum(int(f) for f in TransferFlags)


@dataclass
class _Account:
    id: int
    asset: str
    code: int
    flags: int  # as created, without CLOSED
    user_data: int
    timestamp: int
    closed: bool = False
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def value(self) -> Account:
        return Account(
            id=self.id,
            asset=self.asset,
            code=self.code,
            flags=self.flags | (CLOSED if self.closed else 0),
            user_data=self.user_data,
            debits_pending=self.debits_pending,
            debits_posted=self.debits_posted,
            credits_pending=self.credits_pending,
            credits_posted=self.credits_posted,
            timestamp=self.timestamp,
        )


@dataclass(frozen=True)
class TraceEntry:
    """What the model decided for one event it evaluated (chains not yet taken into account),
    and the pending transfer it resolved against, if any."""

    index: int
    event: object
    status: Enum
    pending: Transfer | None = None


@dataclass
class _State:
    accounts: dict[int, _Account] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)  # stored records
    pending: dict[int, PendingState] = field(default_factory=dict)
    failed: dict[int, CreateTransferStatus] = field(default_factory=dict)


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_flags(value: object, flag_type: type) -> bool:
    return (type(value) is int or type(value) is flag_type) and value >= 0  # type: ignore[operator]


def _in_range(value: object, high: int) -> bool:
    return type(value) is int and 0 <= value <= high


def _linked(event: object) -> bool:
    """Whether the event continues a chain: its flags field is an int (or the IntFlag), not
    negative (-1 has every bit set; it is malformed, not a request to link), with the bit."""
    flags = getattr(event, "flags", 0)
    well_formed = isinstance(flags, int) and not isinstance(flags, bool) and flags >= 0
    return well_formed and bool(flags & LINKED)


class ReferenceLedger:
    """The whole ledger in memory. ``create_accounts`` / ``create_transfers`` / ``sweep`` take
    the engine clock's ``now_ns`` and behave as one group of the engine each."""

    def __init__(self) -> None:
        self.state = _State()
        self.last_timestamp = 0
        self.trace: list[TraceEntry] = []

    # ------------------------------------------------------------------ queries

    def account(self, account_id: int) -> Account | None:
        found = self.state.accounts.get(account_id)
        return found.value() if found else None

    def transfer(self, transfer_id: int) -> Transfer | None:
        return self.state.transfers.get(transfer_id)

    def pending_state(self, transfer_id: int) -> PendingState | None:
        return self.state.pending.get(transfer_id)

    def copy(self) -> ReferenceLedger:
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ groups

    def create_accounts(self, events: list[Any], now_ns: int) -> list[CreateAccountStatus]:
        if not events:
            return []
        first = self._begin_group(now_ns, len(events))
        return self._apply_batch(events, first, self._create_account, A)  # type: ignore[return-value]

    def create_transfers(self, events: list[Any], now_ns: int) -> list[CreateTransferStatus]:
        self.trace = []
        if not events:
            return []
        first = self._begin_group(now_ns, len(events))
        return self._apply_batch(events, first, self._create_transfer, S)  # type: ignore[return-value]

    def sweep(self, now_ns: int) -> None:
        self._begin_group(now_ns, 0)

    def _begin_group(self, now_ns: int, events: int) -> int:
        """Expire what is due and return the timestamp of the group's first event."""
        due = sorted(
            (state.expires_at, state.transfer_id)
            for state in self.state.pending.values()
            if state.status is PendingStatus.PENDING and 0 < state.expires_at <= now_ns
        )[:EXPIRY_SWEEP_MAX]
        count = len(due) + events
        if count == 0:
            return 0
        first = max(now_ns, self.last_timestamp + 1)
        self.last_timestamp = first + count - 1
        for offset, (_, transfer_id) in enumerate(due):
            self._expire(transfer_id, first + offset)
        return first + len(due)

    def _expire(self, transfer_id: int, timestamp: int) -> None:
        p = self.state.transfers[transfer_id]
        state = self.state.pending[transfer_id]
        self._release(p, posted=0, reopen=True)
        self.state.pending[transfer_id] = PendingState(
            transfer_id, PendingStatus.EXPIRED, state.expires_at, timestamp
        )

    # ------------------------------------------------------------------ chains

    def _apply_batch(
        self, events: list[Any], first: int, apply_one: Any, statuses: type[Enum]
    ) -> list[Enum]:
        ok = {statuses["CREATED"], statuses["EXISTS"]}
        results: list[Enum] = [statuses["LINKED_EVENT_FAILED"]] * len(events)
        start = 0
        while start < len(events):
            end = start
            while end < len(events) and _linked(events[end]):
                end += 1
            if end == len(events):  # open chain: nothing of it is applied
                results[-1] = statuses["LINKED_EVENT_CHAIN_OPEN"]
                break
            saved = copy.deepcopy(self.state)
            failed_at = -1
            for index in range(start, end + 1):
                results[index] = apply_one(index, events[index], first + index)
                if results[index] not in ok:
                    failed_at = index
                    break
            if failed_at >= 0:
                self.state = saved
                for index in range(start, end + 1):
                    if index != failed_at:
                        results[index] = statuses["LINKED_EVENT_FAILED"]
                self._remember_failure(events[failed_at], results[failed_at])
            start = end + 1
        return results

    def _remember_failure(self, event: object, status: Enum) -> None:
        if status in TRANSIENT_TRANSFER_FAILURES and type(event) is Transfer:
            self.state.failed[event.id] = status  # type: ignore[assignment]

    # ------------------------------------------------------------------ accounts

    def _create_account(self, _index: int, a: Any, timestamp: int) -> CreateAccountStatus:
        if not (
            type(a) is Account
            and _in_range(a.id, ID_MAX)
            and type(a.asset) is str
            and len(a.asset) <= ASSET_CODE_LEN_MAX
            and _in_range(a.code, CODE_MAX)
            and _is_flags(a.flags, AccountFlags)
            and _in_range(a.user_data, USER_DATA_MAX)
            and all(
                _is_int(v)
                for v in (
                    a.debits_pending,
                    a.debits_posted,
                    a.credits_pending,
                    a.credits_posted,
                    a.timestamp,
                )
            )
        ):
            return A.MALFORMED
        flags = int(a.flags)
        if flags & ~ACCOUNT_FLAGS_KNOWN or flags & CLOSED:
            return A.RESERVED_FLAG
        if a.id == 0:
            return A.ID_MUST_NOT_BE_ZERO
        if flags & DMNEC and flags & CMNED:
            return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted) != (
            0,
            0,
            0,
            0,
        ):
            return A.BALANCES_MUST_BE_ZERO
        if a.timestamp != 0:
            return A.TIMESTAMP_MUST_BE_ZERO
        if a.asset not in ASSETS:
            return A.ASSET_NOT_FOUND
        if a.code == 0:
            return A.CODE_MUST_NOT_BE_ZERO
        existing = self.state.accounts.get(a.id)
        if existing is not None:
            if flags != existing.flags:
                return A.EXISTS_WITH_DIFFERENT_FLAGS
            if a.user_data != existing.user_data:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA
            if a.asset != existing.asset:
                return A.EXISTS_WITH_DIFFERENT_ASSET
            if a.code != existing.code:
                return A.EXISTS_WITH_DIFFERENT_CODE
            return A.EXISTS
        self.state.accounts[a.id] = _Account(a.id, a.asset, a.code, flags, a.user_data, timestamp)
        return A.CREATED

    # ------------------------------------------------------------------ transfers

    def _create_transfer(self, index: int, t: Any, timestamp: int) -> CreateTransferStatus:
        self._pending_seen: Transfer | None = None
        status = self._transfer_status(t, timestamp)
        self.trace.append(TraceEntry(index, t, status, self._pending_seen))
        return status

    def _transfer_status(self, t: Any, timestamp: int) -> CreateTransferStatus:
        if not (
            type(t) is Transfer
            and _in_range(t.id, ID_MAX)
            and _in_range(t.debit_account_id, ID_MAX)
            and _in_range(t.credit_account_id, ID_MAX)
            and _in_range(t.amount, AMOUNT_MAX)
            and type(t.asset) is str
            and len(t.asset) <= ASSET_CODE_LEN_MAX
            and _in_range(t.code, CODE_MAX)
            and _is_flags(t.flags, TransferFlags)
            and _in_range(t.pending_id, ID_MAX)
            and _in_range(t.timeout_s, TIMEOUT_MAX_S)
            and _in_range(t.user_data, USER_DATA_MAX)
            and _is_int(t.timestamp)
        ):
            return S.MALFORMED
        flags = int(t.flags)
        if flags & ~TRANSFER_FLAGS_KNOWN:
            return S.RESERVED_FLAG
        if t.timestamp != 0:
            return S.TIMESTAMP_MUST_BE_ZERO
        if t.id == 0:
            return S.ID_MUST_NOT_BE_ZERO
        resolving = flags & (POST | VOID)
        if resolving == POST | VOID or (
            resolving and flags & (PENDING | BAL_DR | BAL_CR | CLOSE_DR | CLOSE_CR)
        ):
            return S.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if t.id in self.state.failed:
            return S.ID_ALREADY_FAILED
        existing = self.state.transfers.get(t.id)
        if existing is not None:
            return self._compare(t, flags, existing)
        if resolving:
            return self._post_or_void(t, flags, timestamp)
        return self._new_transfer(t, flags, timestamp)

    def _compare(self, t: Transfer, flags: int, e: Transfer) -> CreateTransferStatus:
        if flags != e.flags:
            return S.EXISTS_WITH_DIFFERENT_FLAGS
        if t.pending_id != e.pending_id:
            return S.EXISTS_WITH_DIFFERENT_PENDING_ID
        if t.timeout_s != e.timeout_s:
            return S.EXISTS_WITH_DIFFERENT_TIMEOUT
        if flags & (POST | VOID):
            # Fill what the event left empty from the pending transfer, then compare.
            p = self.state.transfers[t.pending_id]
            self._pending_seen = p
            resolved = Transfer(
                id=t.id,
                debit_account_id=t.debit_account_id or p.debit_account_id,
                credit_account_id=t.credit_account_id or p.credit_account_id,
                amount=self._resolved_amount(t, flags, p),
                asset=t.asset or p.asset,
                code=t.code or p.code,
                user_data=t.user_data or p.user_data,
            )
            same_amount = resolved.amount == e.amount
        else:
            resolved = t
            if flags & (BAL_DR | BAL_CR):  # the amount is a bound: it must cover what moved
                same_amount = t.amount >= e.amount
            else:
                same_amount = t.amount == e.amount
        if resolved.debit_account_id != e.debit_account_id:
            return S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
        if resolved.credit_account_id != e.credit_account_id:
            return S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
        if not same_amount:
            return S.EXISTS_WITH_DIFFERENT_AMOUNT
        if resolved.user_data != e.user_data:
            return S.EXISTS_WITH_DIFFERENT_USER_DATA
        if resolved.asset != e.asset:
            return S.EXISTS_WITH_DIFFERENT_ASSET
        if resolved.code != e.code:
            return S.EXISTS_WITH_DIFFERENT_CODE
        return S.EXISTS

    @staticmethod
    def _resolved_amount(t: Transfer, flags: int, p: Transfer) -> int:
        if flags & POST:
            return p.amount if t.amount == AMOUNT_POST_FULL else t.amount
        return p.amount if t.amount in (0, AMOUNT_POST_FULL) else t.amount

    def _post_or_void(self, t: Transfer, flags: int, timestamp: int) -> CreateTransferStatus:
        if t.pending_id == 0:
            return S.PENDING_ID_MUST_NOT_BE_ZERO
        if t.pending_id == t.id:
            return S.PENDING_ID_MUST_BE_DIFFERENT
        if t.timeout_s != 0:  # docs/ledger.md: in this branch, right after the one above
            return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        p = self.state.transfers.get(t.pending_id)
        if p is None:
            return S.PENDING_TRANSFER_NOT_FOUND
        self._pending_seen = p
        if not p.flags & PENDING:
            return S.PENDING_TRANSFER_NOT_PENDING
        if t.debit_account_id not in (0, p.debit_account_id):
            return S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id not in (0, p.credit_account_id):
            return S.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.asset not in ("", p.asset):
            return S.PENDING_TRANSFER_HAS_DIFFERENT_ASSET
        if t.code not in (0, p.code):
            return S.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        amount = self._resolved_amount(t, flags, p)
        if amount > p.amount:
            return S.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if flags & VOID and amount < p.amount:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
        state = self.state.pending[p.id]
        if state.status is PendingStatus.POSTED:
            return S.PENDING_TRANSFER_ALREADY_POSTED
        if state.status is PendingStatus.VOIDED:
            return S.PENDING_TRANSFER_ALREADY_VOIDED
        if state.status is PendingStatus.EXPIRED or 0 < state.expires_at <= timestamp:
            return S.PENDING_TRANSFER_EXPIRED
        dr = self.state.accounts[p.debit_account_id]
        cr = self.state.accounts[p.credit_account_id]
        post = bool(flags & POST)
        if post and dr.closed:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED
        if post and cr.closed:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED
        if post and dr.debits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS_POSTED
        if post and cr.credits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS_POSTED
        self._release(p, posted=amount if post else 0, reopen=not post)
        self.state.transfers[t.id] = Transfer(
            id=t.id,
            debit_account_id=p.debit_account_id,
            credit_account_id=p.credit_account_id,
            amount=amount,
            asset=p.asset,
            code=p.code,
            flags=flags,
            pending_id=p.id,
            timeout_s=0,
            user_data=t.user_data or p.user_data,
            timestamp=timestamp,
        )
        self.state.pending[p.id] = PendingState(
            p.id,
            PendingStatus.POSTED if post else PendingStatus.VOIDED,
            state.expires_at,
            timestamp,
        )
        return S.CREATED

    def _release(self, p: Transfer, *, posted: int, reopen: bool) -> None:
        dr = self.state.accounts[p.debit_account_id]
        cr = self.state.accounts[p.credit_account_id]
        dr.debits_pending -= p.amount
        cr.credits_pending -= p.amount
        dr.debits_posted += posted
        cr.credits_posted += posted
        if reopen and p.flags & CLOSE_DR:
            dr.closed = False
        if reopen and p.flags & CLOSE_CR:
            cr.closed = False

    def _new_transfer(self, t: Transfer, flags: int, timestamp: int) -> CreateTransferStatus:
        pending = bool(flags & PENDING)
        if t.debit_account_id == 0:
            return S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.credit_account_id == 0:
            return S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.debit_account_id == t.credit_account_id:
            return S.ACCOUNTS_MUST_BE_DIFFERENT
        if t.pending_id != 0:
            return S.PENDING_ID_MUST_BE_ZERO
        if t.timeout_s != 0 and not pending:
            return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if flags & (CLOSE_DR | CLOSE_CR) and not pending:
            return S.CLOSING_TRANSFER_MUST_BE_PENDING
        if t.asset == "":
            return S.ASSET_MUST_NOT_BE_EMPTY
        if t.code == 0:
            return S.CODE_MUST_NOT_BE_ZERO
        if t.amount == 0 and not flags & (BAL_DR | BAL_CR):
            return S.AMOUNT_MUST_NOT_BE_ZERO
        dr = self.state.accounts.get(t.debit_account_id)
        if dr is None:
            return S.DEBIT_ACCOUNT_NOT_FOUND
        cr = self.state.accounts.get(t.credit_account_id)
        if cr is None:
            return S.CREDIT_ACCOUNT_NOT_FOUND
        if dr.asset != cr.asset:
            return S.ACCOUNTS_MUST_HAVE_THE_SAME_ASSET
        if t.asset != dr.asset:
            return S.TRANSFER_MUST_HAVE_THE_SAME_ASSET_AS_ACCOUNTS
        if dr.closed:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.closed:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED
        amount = t.amount
        if flags & BAL_DR:
            amount = min(amount, max(0, dr.credits_posted - dr.debits_posted - dr.debits_pending))
        if flags & BAL_CR:
            amount = min(amount, max(0, cr.debits_posted - cr.credits_posted - cr.credits_pending))
        if pending and dr.debits_pending + amount > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS_PENDING
        if pending and cr.credits_pending + amount > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS_PENDING
        if dr.debits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS_POSTED
        if cr.credits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS_POSTED
        if dr.debits_pending + dr.debits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS
        if cr.credits_pending + cr.credits_posted + amount > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS
        if t.timeout_s and timestamp + t.timeout_s * NS_PER_S > TIMESTAMP_MAX:
            return S.OVERFLOWS_TIMEOUT
        if dr.flags & DMNEC and dr.debits_pending + dr.debits_posted + amount > dr.credits_posted:
            return S.EXCEEDS_CREDITS
        if cr.flags & CMNED and cr.credits_pending + cr.credits_posted + amount > cr.debits_posted:
            return S.EXCEEDS_DEBITS
        if pending:
            dr.debits_pending += amount
            cr.credits_pending += amount
            expires_at = timestamp + t.timeout_s * NS_PER_S if t.timeout_s else 0
            self.state.pending[t.id] = PendingState(t.id, PendingStatus.PENDING, expires_at, 0)
        else:
            dr.debits_posted += amount
            cr.credits_posted += amount
        if flags & CLOSE_DR:
            dr.closed = True
        if flags & CLOSE_CR:
            cr.closed = True
        self.state.transfers[t.id] = Transfer(
            id=t.id,
            debit_account_id=t.debit_account_id,
            credit_account_id=t.credit_account_id,
            amount=amount,
            asset=t.asset,
            code=t.code,
            flags=flags,
            pending_id=0,
            timeout_s=t.timeout_s,
            user_data=t.user_data,
            timestamp=timestamp,
        )
        return S.CREATED
