"""The ledger's pure core: apply batches of events to account states.

No I/O, no clock, no randomness: a :class:`BatchApplier` starts from a :class:`LedgerView` (the
stored state of everything the batches name, loaded by the shell) and the timestamps the shell
chose, and produces a status for every event plus the :class:`Changes` to commit. The same
inputs give the same outputs, which is what lets the reference-model tests, the crash tests
and both stores agree to the last unit.

Several requests may be applied by one applier (the shell's group commit); each request is a
batch of its own for linked chains, and each sees the effects of the requests before it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeVar, cast

from centime.limits import (
    AMOUNT_MAX,
    ASSET_CODE_LEN_MAX,
    CODE_MAX,
    ID_MAX,
    TIMEOUT_MAX_S,
    USER_DATA_MAX,
)
from centime.money import ASSETS

from .errors import LedgerInvariantError
from .model import (
    ACCOUNT_FLAGS_ALL,
    AMOUNT_POST_FULL,
    TRANSFER_FLAGS_ALL,
    TRANSIENT_TRANSFER_FAILURES,
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountStatus,
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)

__all__ = ["BatchApplier", "Changes", "LedgerInvariantError", "LedgerView", "transfer_names"]

TIMESTAMP_MAX: Final = 2**63 - 1
NS_PER_S: Final = 1_000_000_000

_LINKED: Final = 1
_PENDING: Final = int(TransferFlags.PENDING)
_POST: Final = int(TransferFlags.POST_PENDING)
_VOID: Final = int(TransferFlags.VOID_PENDING)
_BAL_DR: Final = int(TransferFlags.BALANCING_DEBIT)
_BAL_CR: Final = int(TransferFlags.BALANCING_CREDIT)
_CLOSE_DR: Final = int(TransferFlags.CLOSING_DEBIT)
_CLOSE_CR: Final = int(TransferFlags.CLOSING_CREDIT)
_DMNEC: Final = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED: Final = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY: Final = int(AccountFlags.HISTORY)
_CLOSED: Final = int(AccountFlags.CLOSED)

S = CreateTransferStatus
A = CreateAccountStatus
_CREATED: Final = CreateTransferStatus.CREATED
# Records are built with tuple.__new__, skipping the NamedTuple's generated Python-level
# __new__: 0.075 us against 0.19 us a record. The core builds one Transfer per new transfer
# and one Account per changed account at the end of a group (see _Live).
_new: Final = tuple.__new__
_MISSING: Final = object()
_StatusT = TypeVar("_StatusT", bound=Enum)


@dataclass(frozen=True, slots=True)
class LedgerView:
    """The stored state the batches may read: every account, transfer, pending state and
    failed transfer id they name. Anything absent here does not exist in the store."""

    accounts: Mapping[int, Account] = field(default_factory=dict)
    transfers: Mapping[int, Transfer] = field(default_factory=dict)
    pending: Mapping[int, PendingState] = field(default_factory=dict)
    failed: Mapping[int, CreateTransferStatus] = field(default_factory=dict)


@dataclass(slots=True)
class Changes:
    """What one group of batches changed, ready for the store to write in one transaction."""

    accounts_created: list[Account] = field(default_factory=list)
    accounts: dict[int, Account] = field(default_factory=dict)  # final state of every changed one
    transfers: list[Transfer] = field(default_factory=list)  # in timestamp order
    pending: dict[int, PendingState] = field(default_factory=dict)  # new or changed
    failed: dict[int, tuple[CreateTransferStatus, int]] = field(default_factory=dict)
    balances: list[AccountBalance] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.accounts_created or self.accounts or self.transfers or self.failed)


def _well_formed_transfer(t: object) -> bool:
    """Every field has its type and lies in its range (0 is allowed; it is checked later)."""
    if type(t) is not Transfer:
        return False
    # Read as plain objects: compiled, fields declared `int` would be converted on the way in
    # (a bool would pass as an int, None would raise) before their type could be checked.
    fields: tuple[Any, ...] = t
    tid, dr_id, cr_id, amount, asset, code, flags, pending_id, timeout_s, user_data, ts = fields
    return (
        _in_range(tid, ID_MAX)
        and _in_range(dr_id, ID_MAX)
        and _in_range(cr_id, ID_MAX)
        and _in_range(amount, AMOUNT_MAX)
        and _asset_code(asset)
        and _in_range(code, CODE_MAX)
        and (type(flags) is int or type(flags) is TransferFlags)
        and flags >= 0
        and _in_range(pending_id, ID_MAX)
        and _in_range(timeout_s, TIMEOUT_MAX_S)
        and _in_range(user_data, USER_DATA_MAX)
        and type(ts) is int
    )


def transfer_names(events: Sequence[object]) -> tuple[set[int], set[int], set[int]]:
    """The valid transfer, pending and account ids (ints in 1..``ID_MAX``) a batch of
    transfer events names, in one pass. Garbage names nothing (type() first: a malformed
    field may be unhashable); the applier reports it. Here, compiled, because the writer
    runs it over every event of every plain batch (it was 2 ms a group of 8189 as Python)."""
    transfers: set[Any] = set()
    pending: set[Any] = set()
    accounts: set[Any] = set()
    for event in events:
        if type(event) is not Transfer:
            continue
        fields: tuple[Any, ...] = event  # objects: no unboxing and boxing again
        value = fields[0]
        if type(value) is int and 0 < value <= ID_MAX:
            transfers.add(value)
        value = fields[7]
        if type(value) is int and 0 < value <= ID_MAX:
            pending.add(value)
        value = fields[1]
        if type(value) is int and 0 < value <= ID_MAX:
            accounts.add(value)
        value = fields[2]
        if type(value) is int and 0 < value <= ID_MAX:
            accounts.add(value)
    return transfers, pending, accounts


def _well_formed_account(a: object) -> bool:
    if type(a) is not Account:
        return False
    fields: tuple[Any, ...] = a  # plain objects, as in _well_formed_transfer
    aid, asset, code, flags, user_data, *balances_and_timestamp = fields
    return (
        _in_range(aid, ID_MAX)
        and _asset_code(asset)
        and _in_range(code, CODE_MAX)
        and (type(flags) is int or type(flags) is AccountFlags)
        and flags >= 0
        and _in_range(user_data, USER_DATA_MAX)
        and all(type(v) is int for v in balances_and_timestamp)
    )


def _in_range(value: object, high: int) -> bool:
    """An int itself (not a bool, nor any other subclass) from 0 to ``high``."""
    return type(value) is int and 0 <= value <= high


def _asset_code(value: object) -> bool:
    return type(value) is str and len(value) <= ASSET_CODE_LEN_MAX


def _is_linked(event: object) -> bool:
    """Whether the event continues a chain. Only a well-typed, non-negative flags field can
    link: a malformed event (flags=-1 has every bit set) must not swallow its neighbours."""
    if type(event) is Transfer:
        fields: tuple[Any, ...] = event  # cast-free: the flags field, as an object
        flags = fields[6]
    else:
        flags = getattr(event, "flags", 0)
    return (
        isinstance(flags, int)
        and not isinstance(flags, bool)
        and flags > 0
        and bool(flags & _LINKED)
    )


def _transfer_flags_exclusive(flags: int) -> bool:
    """True when the flags ask for two things that cannot both happen."""
    resolving = flags & (_POST | _VOID)
    if resolving == (_POST | _VOID):
        return True
    return bool(resolving and flags & (_PENDING | _BAL_DR | _BAL_CR | _CLOSE_DR | _CLOSE_CR))


class _Live:
    """One account's working state during a group: its flags and four balances, changed in
    place by every event of the group, and made into an :class:`Account` record once, at
    the end (:meth:`BatchApplier.changes`).

    Replacing a frozen record per step (two new ``Account`` tuples per transfer, the old ones
    freed) was most of the compiled core's time: allocation, deallocation and boxing each
    changed balance into a new int object. Compiled, these attributes are native ints.
    """

    __slots__ = ("changed", "cp", "cpo", "created", "dp", "dpo", "flags", "record")

    def __init__(self, record: Account) -> None:
        fields: tuple[Any, ...] = record  # by index: attribute access is a property call
        self.record = record  # as stored (or created): the fields that never change
        # int() on both routes: compiled, the attribute is a native int anyway; as Python
        # an AccountFlags would otherwise survive into the records this builds.
        self.flags: int = int(fields[3])
        self.dp: int = fields[5]
        self.dpo: int = fields[6]
        self.cp: int = fields[7]
        self.cpo: int = fields[8]
        # Written by an event that was not rolled back: the account goes to the store.
        self.changed = False
        self.created = False  # by this group (Changes.accounts_created, not .accounts)

    def account(self) -> Account:
        """The working state as a record (the stored record itself while unchanged)."""
        a: tuple[Any, ...] = self.record
        if not self.changed:
            return self.record
        values = (a[0], a[1], a[2], self.flags, a[4], self.dp, self.dpo, self.cp, self.cpo, a[9])
        account: Account = _new(Account, values)
        return account

    def saved(self) -> tuple[_Live, int, int, int, int, int, bool]:
        """What :meth:`restore` needs to undo what comes next (a chain's undo log)."""
        return (self, self.flags, self.dp, self.dpo, self.cp, self.cpo, self.changed)

    def restore(self, saved: tuple[_Live, int, int, int, int, int, bool]) -> None:
        _, self.flags, self.dp, self.dpo, self.cp, self.cpo, self.changed = saved


def _new_fields_refusal(t: Transfer, flags: int) -> CreateTransferStatus | None:
    """What is wrong with a new (not posting, not voiding) transfer's own fields, before
    any account is read; None when nothing is."""
    # By index, the fields it reads only (compiled, unpacking unboxes every field).
    dr_id, cr_id, amount, asset, code = t[1], t[2], t[3], t[4], t[5]
    pending_id, timeout_s = t[7], t[8]
    if dr_id == 0:
        return S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if cr_id == 0:
        return S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if dr_id == cr_id:
        return S.ACCOUNTS_MUST_BE_DIFFERENT
    if pending_id != 0:
        return S.PENDING_ID_MUST_BE_ZERO
    pending = flags & _PENDING
    if not pending and timeout_s != 0:
        return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if not pending and flags & (_CLOSE_DR | _CLOSE_CR):
        return S.CLOSING_TRANSFER_MUST_BE_PENDING
    if not asset:
        return S.ASSET_MUST_NOT_BE_EMPTY
    if code == 0:
        return S.CODE_MUST_NOT_BE_ZERO
    if amount == 0 and not flags & (_BAL_DR | _BAL_CR):
        return S.AMOUNT_MUST_NOT_BE_ZERO
    return None


def _posting_refusal(dr: _Live, cr: _Live, amount: int) -> CreateTransferStatus | None:
    """Why ``amount`` of a pending transfer cannot be posted between ``dr`` and ``cr``; None
    when it can."""
    # Even the transfer that closed the account cannot be posted: a closed account moves no
    # money; voiding (or the expiry of) the closing transfer reopens it.
    if dr.flags & _CLOSED:
        return S.DEBIT_ACCOUNT_ALREADY_CLOSED
    if cr.flags & _CLOSED:
        return S.CREDIT_ACCOUNT_ALREADY_CLOSED
    # The reserve is released whole and at most that much posted, so the totals cannot grow;
    # only the posted fields can overflow.
    if dr.dpo + amount > AMOUNT_MAX:
        return S.OVERFLOWS_DEBITS_POSTED
    if cr.cpo + amount > AMOUNT_MAX:
        return S.OVERFLOWS_CREDITS_POSTED
    return None


class BatchApplier:
    """Applies requests in order against a :class:`LedgerView`, accumulating :class:`Changes`.

    Pure: it reads nothing but the view and its arguments. Linked chains are applied with an
    undo log, so a failing chain leaves no trace but the failing event's status.
    """

    def __init__(self, view: LedgerView) -> None:
        # Working state: the view's accounts, changed in place by the group's events, and
        # the view's transfers, pending states and failed ids overlaid with the group's.
        self._accounts: dict[int, _Live] = {}
        self._transfers: dict[int, Transfer] = dict(view.transfers)
        self._pending: dict[int, PendingState] = dict(view.pending)
        self._failed: dict[int, CreateTransferStatus] = dict(view.failed)
        self._changes = Changes()
        # (dict, key, previous value or _MISSING), replayed backwards when a chain fails,
        # and the accounts' states before a chain changed them (_Live.saved).
        self._undo: list[tuple[dict[int, Any], int, object]] | None = None
        self._undo_accounts: list[tuple[_Live, int, int, int, int, int, bool]] = []
        self._chain_marks = (0, 0, 0)
        self.load(LedgerView(view.accounts))

    # ----------------------------------------------------------------- public

    def changes(self) -> Changes:
        """Everything applied so far; the changed accounts with their final state."""
        changes = self._changes
        # Keys as objects: compiled, an `int` key is unboxed and boxed again for each lookup.
        working: dict[Any, _Live] = self._accounts
        changes.accounts = {
            account_id: live.account()
            for account_id, live in working.items()
            if live.changed and not live.created
        }
        # An account created and changed in the same group is written once, final.
        changes.accounts_created = [working[a[0]].account() for a in changes.accounts_created]
        return changes

    def load(self, view: LedgerView) -> None:
        """Add stored state for names the applier has not seen yet (a write unit that names
        more accounts or transfers once it has read some). A name already known keeps its
        working state: what earlier events did to it is newer than the store."""
        accounts: dict[Any, _Live] = self._accounts
        for account_id, account in view.accounts.items():
            if account_id not in accounts:
                accounts[account_id] = _Live(account)
        for transfer_id, transfer in view.transfers.items():
            self._transfers.setdefault(transfer_id, transfer)
        for transfer_id, state in view.pending.items():
            self._pending.setdefault(transfer_id, state)
        for transfer_id, status in view.failed.items():
            self._failed.setdefault(transfer_id, status)

    def account(self, account_id: int) -> Account | None:
        """The account's working state (stored state plus what this group did to it)."""
        live = self._accounts.get(account_id)
        return None if live is None else live.account()

    def transfer(self, transfer_id: int) -> Transfer | None:
        return self._transfers.get(transfer_id)

    def pending_state(self, transfer_id: int) -> PendingState | None:
        return self._pending.get(transfer_id)

    def create_accounts(
        self, events: Sequence[Account], timestamp_first: int
    ) -> list[CreateAccountStatus]:
        return self._apply_chains(events, timestamp_first, self._create_account, A)

    def create_transfers(
        self, events: Sequence[Transfer], timestamp_first: int
    ) -> list[CreateTransferStatus]:
        return self._apply_chains(events, timestamp_first, self._create_transfer, S, transfers=True)

    def expire(self, due: Sequence[PendingState], timestamp_first: int) -> int:
        """Expire each pending transfer in ``due`` that is still pending, releasing its reserve.

        Each expiry takes one timestamp from ``timestamp_first`` on, in the order given (the
        shell gives them by expiry time, then id, which makes expiry deterministic). Returns
        how many timestamps were used.
        """
        timestamp = timestamp_first
        for state in due:
            current = self._pending.get(state.transfer_id)
            if current is None or current.status is not PendingStatus.PENDING:
                continue
            pending = self._transfers.get(state.transfer_id)
            if pending is None:
                raise LedgerInvariantError(f"pending state without transfer {state.transfer_id}")
            dr, cr = self._released(pending, posted=0)
            if (dr.flags | cr.flags) & _HISTORY:
                self._record_history(dr, cr, timestamp)
            self._set_pending(
                PendingState(pending.id, PendingStatus.EXPIRED, current.expires_at, timestamp)
            )
            timestamp += 1
        return timestamp - timestamp_first

    # ----------------------------------------------------------------- chains

    def _apply_chains(
        self,
        events: Sequence[Any],
        timestamp_first: int,
        apply_one: Callable[[Any, int], _StatusT],
        statuses: type[_StatusT],
        *,
        transfers: bool = False,
    ) -> list[_StatusT]:
        """Split ``events`` into linked chains and apply each atomically.

        ``exists`` counts as success inside a chain: resubmitting a whole chain that was
        applied answers ``exists`` for each event and changes nothing.
        """
        count = len(events)
        created, exists = statuses["CREATED"], statuses["EXISTS"]
        failed_link = statuses["LINKED_EVENT_FAILED"]
        open_chain = statuses["LINKED_EVENT_CHAIN_OPEN"]
        results: list[_StatusT] = [failed_link] * count
        start = 0
        while start < count:
            end = start
            while end < count and _is_linked(events[end]):
                end += 1
            if end == count:  # the last event of the batch leaves its chain open
                results[count - 1] = open_chain
                break
            if start == end:
                if transfers:  # the hot path: a direct (compiled: native) call
                    one = self._create_transfer(events[start], timestamp_first + start)
                    results[start] = cast(_StatusT, one)
                else:
                    results[start] = apply_one(events[start], timestamp_first + start)
                start += 1
                continue
            self._begin_chain()
            failed_at = -1
            for index in range(start, end + 1):
                status = apply_one(events[index], timestamp_first + index)
                results[index] = status
                if status is not created and status is not exists:
                    failed_at = index
                    break
            if failed_at < 0:
                self._commit_chain()
            else:
                self._rollback_chain()
                for index in range(start, end + 1):
                    if index != failed_at:
                        results[index] = failed_link
                self._remember_failure(
                    events[failed_at], results[failed_at], timestamp_first + failed_at
                )
            start = end + 1
        return results

    def _begin_chain(self) -> None:
        changes = self._changes
        self._undo = []
        self._undo_accounts = []
        self._chain_marks = (
            len(changes.accounts_created),
            len(changes.transfers),
            len(changes.balances),
        )

    def _commit_chain(self) -> None:
        self._undo = None
        self._undo_accounts = []

    def _rollback_chain(self) -> None:
        undo = self._undo
        if undo is None:
            raise LedgerInvariantError("rollback outside a chain")
        # By index: mypyc (1.x-2.4) crashes compiling `for a, b, c in reversed(list)` of tuples.
        for index in range(len(undo) - 1, -1, -1):
            table, key, previous = undo[index]
            if previous is _MISSING:
                del table[key]
            else:
                table[key] = previous
        saved = self._undo_accounts
        for index in range(len(saved) - 1, -1, -1):
            saved[index][0].restore(saved[index])
        self._undo_accounts = []
        created, transfers, balances = self._chain_marks
        changes = self._changes
        del changes.accounts_created[created:]
        del changes.transfers[transfers:]
        del changes.balances[balances:]
        self._undo = None

    def _changing(self, dr: _Live, cr: _Live) -> None:
        """Mark both accounts changed; in a chain, save their state first for undoing."""
        if self._undo is not None:
            self._undo_accounts.append(dr.saved())
            self._undo_accounts.append(cr.saved())
        dr.changed = True
        cr.changed = True

    def _write(self, table: dict[int, Any], key: int, value: object) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def _remember_failure(self, event: object, status: Enum, timestamp: int) -> None:
        """Record a transient failure so that its id stays failed (see the model's note)."""
        transient = isinstance(status, CreateTransferStatus) and (
            status in TRANSIENT_TRANSFER_FAILURES
        )
        if transient and type(event) is Transfer:
            self._failed[event.id] = status  # type: ignore[assignment]
            self._changes.failed[event.id] = (status, timestamp)  # type: ignore[assignment]

    # ----------------------------------------------------------------- accounts

    def _create_account(self, event: object, timestamp: int) -> CreateAccountStatus:
        # `object`, not Account: compiled, a garbage event would raise at the call.
        if not _well_formed_account(event):
            return A.MALFORMED
        a = cast(Account, event)
        if a.flags & ~ACCOUNT_FLAGS_ALL or a.flags & _CLOSED:
            return A.RESERVED_FLAG
        if a.id == 0:
            return A.ID_MUST_NOT_BE_ZERO
        if a.flags & _DMNEC and a.flags & _CMNED:
            return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if a.debits_pending or a.debits_posted or a.credits_pending or a.credits_posted:
            return A.BALANCES_MUST_BE_ZERO
        if a.timestamp != 0:
            return A.TIMESTAMP_MUST_BE_ZERO
        if a.asset not in ASSETS:
            return A.ASSET_NOT_FOUND
        if a.code == 0:
            return A.CODE_MUST_NOT_BE_ZERO
        live = self._accounts.get(a.id)
        if live is not None:
            existing = live.record
            if a.flags != live.flags & ~_CLOSED:
                return A.EXISTS_WITH_DIFFERENT_FLAGS
            if a.user_data != existing.user_data:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA
            if a.asset != existing.asset:
                return A.EXISTS_WITH_DIFFERENT_ASSET
            if a.code != existing.code:
                return A.EXISTS_WITH_DIFFERENT_CODE
            return A.EXISTS
        account = Account(a.id, a.asset, a.code, int(a.flags), a.user_data, 0, 0, 0, 0, timestamp)
        live = _Live(account)
        live.created = True
        self._write(self._accounts, a.id, live)
        self._changes.accounts_created.append(account)
        return A.CREATED

    # ----------------------------------------------------------------- transfers

    def _create_transfer(self, event: object, timestamp: int) -> CreateTransferStatus:
        # `object`, not Transfer: compiled, a garbage event would raise at the call.
        if not _well_formed_transfer(event):
            return S.MALFORMED
        t = cast(Transfer, event)
        # Indexing a NamedTuple is a plain tuple access; its attributes are property calls.
        # The id is kept as the event's own object (Any): compiled, an `int` is unboxed,
        # and every dict lookup with it would box it again, a new int object each time.
        fields: tuple[Any, ...] = t
        tid = fields[0]
        flags: int = t[6]
        if type(flags) is not int:  # a TransferFlags value
            flags = int(flags)
        if flags & ~TRANSFER_FLAGS_ALL:
            return S.RESERVED_FLAG
        if t[10] != 0:
            return S.TIMESTAMP_MUST_BE_ZERO
        if tid == 0:
            return S.ID_MUST_NOT_BE_ZERO
        if flags & (_POST | _VOID) and _transfer_flags_exclusive(flags):
            return S.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if tid in self._failed:
            return S.ID_ALREADY_FAILED
        existing = self._transfers.get(tid)
        if existing is not None:
            pending = self._transfers.get(existing.pending_id) if existing.pending_id else None
            return _compare_existing(t, existing, pending)
        if flags & (_POST | _VOID):
            status = self._post_or_void(t, timestamp)
        else:
            status = self._create_new(t, flags, timestamp)
        if status is not _CREATED and self._undo is None:
            self._remember_failure(t, status, timestamp)
        return status

    def _create_new(self, t: Transfer, flags: int, timestamp: int) -> CreateTransferStatus:
        # The hot path: each field is read once, by index (attribute access on a NamedTuple
        # is a property call each time), and only the fields it needs (compiled, unpacking
        # a record unboxes every field, the unused ones too).
        refusal = _new_fields_refusal(t, flags)
        if refusal is not None:
            return refusal
        fields: tuple[Any, ...] = t
        accounts: dict[Any, _Live] = self._accounts
        dr = accounts.get(fields[1])  # the ids as objects, as in _create_transfer
        if dr is None:
            return S.DEBIT_ACCOUNT_NOT_FOUND
        cr = accounts.get(fields[2])
        if cr is None:
            return S.CREDIT_ACCOUNT_NOT_FOUND
        amount: int = t[3]
        timeout_s: int = t[8]
        pending = flags & _PENDING
        dr_asset: Any = dr.record[1]
        cr_asset: Any = cr.record[1]
        dr_flags, dr_dp, dr_dpo, dr_cpo = dr.flags, dr.dp, dr.dpo, dr.cpo
        cr_flags, cr_dpo, cr_cp, cr_cpo = cr.flags, cr.dpo, cr.cp, cr.cpo
        if dr_asset != cr_asset:
            return S.ACCOUNTS_MUST_HAVE_THE_SAME_ASSET
        if t[4] != dr_asset:
            return S.TRANSFER_MUST_HAVE_THE_SAME_ASSET_AS_ACCOUNTS
        if dr_flags & _CLOSED:
            return S.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr_flags & _CLOSED:
            return S.CREDIT_ACCOUNT_ALREADY_CLOSED
        if flags & _BAL_DR:
            amount = min(amount, max(0, dr_cpo - dr_dpo - dr_dp))
        if flags & _BAL_CR:
            amount = min(amount, max(0, cr_dpo - cr_cpo - cr_cp))
        # Overflow, then the balance limits (TigerBeetle's order). A pending amount is checked
        # against the posted fields too: posting it later must not overflow them.
        if pending:
            if dr_dp + amount > AMOUNT_MAX:
                return S.OVERFLOWS_DEBITS_PENDING
            if cr_cp + amount > AMOUNT_MAX:
                return S.OVERFLOWS_CREDITS_PENDING
        if dr_dpo + amount > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS_POSTED
        if cr_cpo + amount > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS_POSTED
        dr_debits = dr_dp + dr_dpo + amount
        cr_credits = cr_cp + cr_cpo + amount
        if dr_debits > AMOUNT_MAX:
            return S.OVERFLOWS_DEBITS
        if cr_credits > AMOUNT_MAX:
            return S.OVERFLOWS_CREDITS
        if timeout_s and timestamp + timeout_s * NS_PER_S > TIMESTAMP_MAX:
            return S.OVERFLOWS_TIMEOUT
        if dr_flags & _DMNEC and dr_debits > dr_cpo:
            return S.EXCEEDS_CREDITS
        if cr_flags & _CMNED and cr_credits > cr_dpo:
            return S.EXCEEDS_DEBITS
        return self._apply_new(t, flags, amount, timestamp, dr, cr)

    def _apply_new(
        self, t: Transfer, flags: int, amount: int, timestamp: int, dr: _Live, cr: _Live
    ) -> CreateTransferStatus:
        """Store the checked new transfer ``t`` of ``amount`` (after balancing) and move its
        accounts: a pending amount into their pending fields, any other into the posted ones.

        The transfer's fields that pass through unchanged are copied as the objects they are
        (Any): compiled, a field read as `int` is unboxed and boxed again into a new int
        object for most values."""
        tf: tuple[Any, ...] = t
        # The amount recorded: the event's own object unless balancing changed it.
        moved: Any = amount if flags & (_BAL_DR | _BAL_CR) else tf[3]
        self._changing(dr, cr)
        if flags & _CLOSE_DR:
            dr.flags |= _CLOSED
        if flags & _CLOSE_CR:
            cr.flags |= _CLOSED
        if flags & _PENDING:
            dr.dp += amount
            cr.cp += amount
            timeout_s: int = t[8]
            expires_at = timestamp + timeout_s * NS_PER_S if timeout_s else 0
            self._set_pending(PendingState(t[0], PendingStatus.PENDING, expires_at, 0))
        else:
            dr.dpo += amount
            cr.cpo += amount
        record = _new(
            Transfer,
            (tf[0], tf[1], tf[2], moved, tf[4], tf[5], flags, 0, tf[8], tf[9], timestamp),
        )
        self._store_transfer(record, dr, cr)
        return _CREATED

    def _post_or_void(self, t: Transfer, timestamp: int) -> CreateTransferStatus:
        if t.pending_id == 0:
            return S.PENDING_ID_MUST_NOT_BE_ZERO
        if t.pending_id == t.id:
            return S.PENDING_ID_MUST_BE_DIFFERENT
        if t.timeout_s != 0:
            return S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        p = self._transfers.get(t.pending_id)
        if p is None:
            return S.PENDING_TRANSFER_NOT_FOUND
        if not p.flags & _PENDING:
            return S.PENDING_TRANSFER_NOT_PENDING
        if t.debit_account_id and t.debit_account_id != p.debit_account_id:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != p.credit_account_id:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.asset and t.asset != p.asset:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_ASSET
        if t.code and t.code != p.code:
            return S.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        post = bool(t.flags & _POST)
        if t.amount != AMOUNT_POST_FULL and t.amount > p.amount:
            return S.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if post:
            amount = p.amount if t.amount == AMOUNT_POST_FULL else t.amount
        else:
            # A void releases the whole reserve: it may say so (the amount, or FULL) or not (0).
            if t.amount not in (0, AMOUNT_POST_FULL, p.amount):
                return S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
            amount = p.amount
        state = self._pending.get(p.id)
        if state is None:
            raise LedgerInvariantError(f"pending transfer {p.id} has no pending state")
        if state.status is PendingStatus.POSTED:
            return S.PENDING_TRANSFER_ALREADY_POSTED
        if state.status is PendingStatus.VOIDED:
            return S.PENDING_TRANSFER_ALREADY_VOIDED
        if state.status is PendingStatus.EXPIRED or 0 < state.expires_at <= timestamp:
            return S.PENDING_TRANSFER_EXPIRED
        dr, cr = self._accounts_of(p)
        refusal = _posting_refusal(dr, cr, amount) if post else None
        if refusal is not None:
            return refusal
        dr, cr = self._released(p, posted=amount if post else 0)
        record = Transfer(
            t.id,
            p.debit_account_id,
            p.credit_account_id,
            amount,
            p.asset,
            p.code,
            int(t.flags),
            p.id,
            0,
            t.user_data or p.user_data,
            timestamp,
        )
        self._store_transfer(record, dr, cr)
        status = PendingStatus.POSTED if post else PendingStatus.VOIDED
        self._set_pending(PendingState(p.id, status, state.expires_at, timestamp))
        return S.CREATED

    # ----------------------------------------------------------------- state helpers

    def _accounts_of(self, p: Transfer) -> tuple[_Live, _Live]:
        dr = self._accounts.get(p.debit_account_id)
        cr = self._accounts.get(p.credit_account_id)
        if dr is None or cr is None:
            raise LedgerInvariantError(f"pending transfer {p.id} names a missing account")
        return dr, cr

    def _released(self, p: Transfer, *, posted: int) -> tuple[_Live, _Live]:
        """Release the whole reserve of pending transfer ``p`` from its accounts and post
        ``posted`` of it; the two accounts. A closing transfer reopens its account: it can
        only be voided or expire, never posted (a closed account moves no money)."""
        dr, cr = self._accounts_of(p)
        amount = p.amount
        if dr.dp < amount or cr.cp < amount:
            raise LedgerInvariantError(f"reserve of pending transfer {p.id} is not held")
        self._changing(dr, cr)
        if p.flags & _CLOSE_DR:
            dr.flags &= ~_CLOSED
        if p.flags & _CLOSE_CR:
            cr.flags &= ~_CLOSED
        dr.dp -= amount
        dr.dpo += posted
        cr.cp -= amount
        cr.cpo += posted
        return dr, cr

    def _store_transfer(self, record: Transfer, dr: _Live, cr: _Live) -> None:
        """Record the transfer that moved ``dr`` and ``cr`` (changed already, in place)."""
        # The id as an object (Any), by index: see _create_transfer.
        tid = cast(tuple[Any, ...], record)[0]
        if self._undo is None:  # outside a chain nothing needs undoing: write directly
            transfers: dict[Any, Transfer] = self._transfers
            transfers[tid] = record
        else:
            self._write(self._transfers, tid, record)
        self._changes.transfers.append(record)
        if (dr.flags | cr.flags) & _HISTORY:
            self._record_history(dr, cr, record[10])

    def _record_history(self, dr: _Live, cr: _Live, timestamp: int) -> None:
        for live in (dr, cr):
            if live.flags & _HISTORY:
                self._changes.balances.append(
                    AccountBalance(live.record[0], timestamp, live.dp, live.dpo, live.cp, live.cpo)
                )

    def _set_pending(self, state: PendingState) -> None:
        self._write(self._pending, state.transfer_id, state)
        if self._undo is not None:
            self._undo.append(
                (
                    self._changes.pending,
                    state.transfer_id,
                    self._changes.pending.get(state.transfer_id, _MISSING),
                )
            )
        self._changes.pending[state.transfer_id] = state


def _compare_existing(t: Transfer, e: Transfer, pending: Transfer | None) -> CreateTransferStatus:
    """``exists`` when ``t`` is the same event as the stored ``e``, else the first difference.

    For a post or void (``pending`` is the transfer it resolved), the fields ``t`` leaves
    empty are first filled from ``pending``, as they were when ``e`` was created, and then
    compared: a post of ``AMOUNT_POST_FULL`` is the same event only if the whole reserve was
    posted. A balancing transfer matches if its bound covers what moved.
    """
    resolving = t.flags & (_POST | _VOID)
    if resolving and pending is not None:
        t = _filled_from_pending(t, pending)
    differs = _first_difference(t, e, _SAME_BEFORE_AMOUNT)
    if differs is not None:
        return differs
    if t.flags & (_BAL_DR | _BAL_CR):
        if t.amount < e.amount:
            return S.EXISTS_WITH_DIFFERENT_AMOUNT
    elif t.amount != e.amount:
        return S.EXISTS_WITH_DIFFERENT_AMOUNT
    differs = _first_difference(t, e, _SAME_AFTER_AMOUNT)
    return S.EXISTS if differs is None else differs


# The fields a retried transfer shares with the stored one, in the order a difference is
# reported (the amount, with its own rule for balancing transfers, between the two).
_SAME_BEFORE_AMOUNT: Final = (
    ("flags", S.EXISTS_WITH_DIFFERENT_FLAGS),
    ("pending_id", S.EXISTS_WITH_DIFFERENT_PENDING_ID),
    ("timeout_s", S.EXISTS_WITH_DIFFERENT_TIMEOUT),
    ("debit_account_id", S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
    ("credit_account_id", S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
)
_SAME_AFTER_AMOUNT: Final = (
    ("user_data", S.EXISTS_WITH_DIFFERENT_USER_DATA),
    ("asset", S.EXISTS_WITH_DIFFERENT_ASSET),
    ("code", S.EXISTS_WITH_DIFFERENT_CODE),
)


def _first_difference(
    t: Transfer, e: Transfer, fields: tuple[tuple[str, CreateTransferStatus], ...]
) -> CreateTransferStatus | None:
    for name, status in fields:
        if getattr(t, name) != getattr(e, name):
            return status
    return None


def _filled_from_pending(t: Transfer, p: Transfer) -> Transfer:
    """The post or void ``t`` as it was recorded: empty fields taken from the pending
    transfer ``p``, and the amount resolved (a void always releases all of ``p``)."""
    if t.flags & _VOID:
        amount = p.amount if t.amount in (0, AMOUNT_POST_FULL) else t.amount
    else:
        amount = p.amount if t.amount == AMOUNT_POST_FULL else t.amount
    return Transfer(
        t.id,
        t.debit_account_id or p.debit_account_id,
        t.credit_account_id or p.credit_account_id,
        amount,
        t.asset or p.asset,
        t.code or p.code,
        t.flags,
        t.pending_id,
        t.timeout_s,
        t.user_data or p.user_data,
        t.timestamp,
    )
