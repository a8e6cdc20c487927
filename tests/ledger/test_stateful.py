"""The ledger against its reference model, step by step, with hypothesis' stateful testing.

A ``RuleBasedStateMachine`` submits random batches of accounts and transfers (plain, pending
with timeouts, posts of part or all, voids, balancing, closing, linked chains that succeed,
fail or stay open, resubmissions of earlier events unchanged and changed, references to
missing accounts and pending transfers, amounts next to ``AMOUNT_MAX``, garbage), several
requests at once (which the writer may merge into one group), moves a fake clock (forwards
and backwards; it starts either in 2023 or a few months before the largest timestamp) and
sweeps expiries, and restarts the engine, to the system under test and to
``tests/ledger/reference.py`` side by side. After every step every status, every account,
every transfer record and every pending state must be identical, and ``store.check()`` must
find nothing. Accounts come from a pool of seven ids; transfers mostly take fresh ids, but one
in five reuses an earlier id and about a quarter of the events are earlier events sent again,
unchanged or with one field changed, so that ``exists*`` and ``id_already_failed`` are common.

Two systems run the same machine: the real ``Ledger`` over both stores (SQLite and
PostgreSQL), and the pure core (``BatchApplier``) over an in-memory store, which is fast
enough to explore many more histories.

The first runs found five places where the engine departed from TigerBeetle's semantics
(resubmitted posts compared before filling their empty fields, a closing transfer that could
be posted, two status orders); they are fixed and pinned by tests in ``test_core.py``.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from centime.clock import FakeClock
from centime.ledger.core import Changes
from centime.ledger.engine import Ledger
from centime.ledger.model import (
    AMOUNT_POST_FULL,
    Account,
    AccountFlags,
    CreateTransferStatus,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from centime.limits import AMOUNT_MAX, COMMIT_WAIT_MAX_S, EXPIRY_SWEEP_MAX, ID_MAX, TIMEOUT_MAX_S
from centime.store import open_store

from ..flags import (
    BAL_CR,
    BAL_DR,
    CLOSE_CR,
    CLOSE_DR,
    CMNED,
    DMNEC,
    HISTORY,
    LINKED,
    NS,
    PENDING,
    POST,
    VOID,
)
from .cores import CORE_PARAMS
from .reference import ReferenceLedger

TIMESTAMP_MAX = 2**63 - 1
CLOCK_STARTS = (1_700_000_000_000_000_000, TIMESTAMP_MAX - 10**16)

CLOSED = int(AccountFlags.CLOSED)

# Accounts 1-5 are created first (5 in USD or EUR), 7 may be created later, 6 never is.
ACCOUNT_IDS = [1, 2, 3, 4, 5, 6, 7]

# ----------------------------------------------------------------------------- events
#
# Events are drawn one at a time by the machine, which knows the model's state: a post or void
# names a pending transfer that exists (or one created earlier in the same batch) far more
# often than chance would, and new transfers mostly take fresh ids, so that failed ids do not
# swallow the run. About one event in five is broken on purpose, one rule at a time.

BIG_AMOUNTS = [AMOUNT_MAX, AMOUNT_MAX - 1, AMOUNT_MAX - 7, AMOUNT_MAX // 2, AMOUNT_MAX // 2 + 1]
ACCOUNT_FLAG_CHOICES = [0, 0, DMNEC, DMNEC, CMNED, HISTORY, DMNEC | HISTORY, CMNED | HISTORY]
TRANSFER_KINDS = [
    *["plain"] * 3,
    *["pending"] * 3,
    "balancing",
    *["post"] * 3,
    *["void"] * 2,
    *["again"] * 2,
    *["changed"] * 2,
    "junk",
]
NEW_FAULTS = [
    "dr_zero",
    "cr_zero",
    "same_accounts",
    "pending_id",
    "timeout",
    "closing",
    "no_asset",
    "other_asset",
    "no_code",
    "no_amount",
    "dr_missing",
    "cr_missing",
    "reserved_flag",
    "exclusive",
    "timestamp",
    "id_zero",
]
RESOLVE_FAULTS = [
    "no_pending_id",
    "own_id",
    "timeout",
    "wrong_dr",
    "wrong_cr",
    "wrong_asset",
    "wrong_code",
    "exclusive",
    "id_zero",
]
ACCOUNT_FAULTS = [
    "balance",
    "timestamp",
    "float",
    "object",
    "closed",
    "reserved",
    "exclusive",
    "no_code",
    "no_id",
    "unknown_asset",
]
MISSING_ACCOUNT = 6  # never created

JUNK_TRANSFERS = [
    Transfer(1, 1, 2, -1, "USD", 1),
    Transfer(2, 1, 2, 1.5, "USD", 1),  # type: ignore[arg-type]
    Transfer(True, 1, 2, 1, "USD", 1),  # type: ignore[arg-type]
    Transfer(3, 1, 2, 1, None, 1),  # type: ignore[arg-type]
    Transfer(4, 1, 2, AMOUNT_MAX + 1, "USD", 1),
    Transfer(5, 1, 2, 1, "USD", 1, flags=LINKED, timeout_s=TIMEOUT_MAX_S + 1),
    Transfer(6, 1, 2, 1, "USD", 1, flags=LINKED | PENDING, user_data=[1]),  # type: ignore[arg-type]
    Transfer(ID_MAX + 1, 1, 2, 1, "USD", 1),
    Transfer(7, 1, 2, 1, "USD" * 5, 1),
    Transfer(9, 1, 2, 1, "USD", 1, flags=-1),  # malformed: links nothing
    (8, 1, 2, 1, "USD", 1, 0, 0, 0, 0, 0),
    None,
    "tr_1",
]

CHANGEABLE: dict[str, st.SearchStrategy[Any]] = {
    "amount": st.one_of(st.integers(0, 20), st.sampled_from([AMOUNT_POST_FULL, *BIG_AMOUNTS])),
    "user_data": st.sampled_from([0, 1, 2]),
    "debit_account_id": st.sampled_from([0, 1, 2, 3, 4, 5]),
    "credit_account_id": st.sampled_from([0, 1, 2, 3, 4, 5]),
    "code": st.sampled_from([0, 1, 2]),
    "asset": st.sampled_from(["", "USD", "EUR"]),
    "timeout_s": st.sampled_from([0, 1, 2]),
    "pending_id": st.sampled_from([0, 1, 2, 3]),
    "flags": st.sampled_from([0, LINKED, PENDING, POST, VOID, BAL_DR, PENDING | CLOSE_CR]),
}


def _fault(t: Transfer, fault: str) -> Any:
    """``t`` broken in one way (or two, where one fault implies another)."""
    flags = int(t.flags)
    broken: dict[str, Any] = {
        "dr_zero": {"debit_account_id": 0},
        "cr_zero": {"credit_account_id": 0},
        "same_accounts": {"credit_account_id": t.debit_account_id},
        "pending_id": {"pending_id": 1},
        "timeout": {"timeout_s": 1, "flags": flags & ~PENDING if flags & PENDING else flags},
        "closing": {"flags": (flags | CLOSE_DR) & ~PENDING},
        "no_asset": {"asset": ""},
        "other_asset": {"asset": "EUR"},
        "no_code": {"code": 0},
        "no_amount": {"amount": 0},
        "dr_missing": {"debit_account_id": MISSING_ACCOUNT},
        "cr_missing": {"credit_account_id": MISSING_ACCOUNT},
        "reserved_flag": {"flags": flags | 1 << 8},
        "exclusive": {"flags": flags | POST | VOID},
        "timestamp": {"timestamp": 1},
        "id_zero": {"id": 0},
        "no_pending_id": {"pending_id": 0},
        "own_id": {"pending_id": t.id},
        "wrong_dr": {"debit_account_id": MISSING_ACCOUNT},
        "wrong_cr": {"credit_account_id": MISSING_ACCOUNT},
        "wrong_asset": {"asset": "EUR"},
        "wrong_code": {"code": 7},
    }
    return t._replace(**broken[fault])


Request = tuple[str, list[Any]]  # ("accounts" | "transfers", events)


# ----------------------------------------------------------------------------- systems


class System(Protocol):
    def submit(self, requests: list[Request]) -> list[list[Any]]:
        """Submit the requests together (the engine may commit them as one group) and wait."""
        ...

    def expire_due(self) -> None: ...
    def restart(self) -> None: ...
    def lookup_accounts(self, ids: list[int]) -> list[Account]: ...
    def lookup_transfers(self, ids: list[int]) -> list[Transfer]: ...
    def pending_states(self, ids: list[int]) -> list[PendingState]: ...
    def violations(self) -> list[str]: ...
    def close(self) -> None: ...


class EngineSystem:
    """The real engine over a real store; a restart closes both and opens them again."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        self.url = url
        self.clock = clock
        self.ledger = self._open()

    def _open(self) -> Ledger:
        # No idle sweeps: expiry happens only when the machine asks, as the model assumes.
        return Ledger(open_store(self.url), self.clock, expiry_interval_s=3600)

    def submit(self, requests: list[Request]) -> list[list[Any]]:
        if len(requests) == 1:
            kind, events = requests[0]
            if kind == "accounts":
                return [self.ledger.create_accounts(events)]
            return [self.ledger.create_transfers(events)]
        futures = [self.ledger.submit(kind, events) for kind, events in requests]
        return [future.result(COMMIT_WAIT_MAX_S) for future in futures]

    def expire_due(self) -> None:
        self.ledger.expire_due()

    def restart(self) -> None:
        self.ledger.close()
        self.ledger = self._open()

    def lookup_accounts(self, ids: list[int]) -> list[Account]:
        return self.ledger.lookup_accounts(ids)

    def lookup_transfers(self, ids: list[int]) -> list[Transfer]:
        return self.ledger.lookup_transfers(ids)

    def pending_states(self, ids: list[int]) -> list[PendingState]:
        return self.ledger.pending_states(ids)

    def violations(self) -> list[str]:
        return [str(v) for v in self.ledger.store.check()]

    def close(self) -> None:
        self.ledger.close()


class CoreSystem:
    """The pure core over dicts, with the shell's group logic (sweep, timestamps) in a few
    lines; a restart is a no-op."""

    def __init__(self, clock: FakeClock, core: ModuleType) -> None:
        self.clock = clock
        self.core = core  # centime.ledger.core, compiled or pure (tests/ledger/cores.py)
        self.accounts: dict[int, Account] = {}
        self.transfers: dict[int, Transfer] = {}
        self.pending: dict[int, PendingState] = {}
        self.failed: dict[int, CreateTransferStatus] = {}
        self.last_timestamp = 0

    def _group(self, requests: list[Request]) -> list[list[Any]]:
        """One group of the shell: sweep, reserve timestamps, apply every request in order."""
        requests = [(kind, events) for kind, events in requests if events]  # as Ledger.submit
        now = self.clock.now_ns()
        due = sorted(
            (s for s in self.pending.values() if s.status is PendingStatus.PENDING),
            key=lambda s: (s.expires_at, s.transfer_id),
        )
        due = [s for s in due if 0 < s.expires_at <= now][:EXPIRY_SWEEP_MAX]
        count = len(due) + sum(len(events) for _, events in requests)
        if count == 0:
            return [[] for _ in requests]
        view = self.core.LedgerView(
            dict(self.accounts), dict(self.transfers), dict(self.pending), dict(self.failed)
        )
        applier = self.core.BatchApplier(view)
        first = max(now, self.last_timestamp + 1)
        self.last_timestamp = first + count - 1
        timestamp = requests_from = first + applier.expire(due, first)
        results: list[list[Any]] = []
        for kind, events in requests:
            if kind == "accounts":
                results.append(applier.create_accounts(events, timestamp))
            else:
                results.append(applier.create_transfers(events, timestamp))
            timestamp += len(events)
        self._commit(applier.changes(), requests_from)
        return results

    def _commit(self, changes: Changes, requests_from: int) -> None:
        _check_changed_accounts(changes, self.accounts, self.transfers)
        _check_history(changes, requests_from)
        for account in changes.accounts_created:
            assert account.id not in self.accounts
            self.accounts[account.id] = account
        self.accounts.update(changes.accounts)
        for record in changes.transfers:
            assert record.id not in self.transfers
            self.transfers[record.id] = record
        self.pending.update(changes.pending)
        for transfer_id, (status, _) in changes.failed.items():
            self.failed[transfer_id] = status

    def submit(self, requests: list[Request]) -> list[list[Any]]:
        if not any(events for _, events in requests):  # as Ledger.submit: no group at all
            return [[] for _ in requests]
        results = iter(self._group(requests))
        return [next(results) if events else [] for _, events in requests]

    def expire_due(self) -> None:
        self._group([])

    def restart(self) -> None:
        pass

    def lookup_accounts(self, ids: list[int]) -> list[Account]:
        return [self.accounts[i] for i in ids if i in self.accounts]

    def lookup_transfers(self, ids: list[int]) -> list[Transfer]:
        return [self.transfers[i] for i in ids if i in self.transfers]

    def pending_states(self, ids: list[int]) -> list[PendingState]:
        return [self.pending[i] for i in ids if i in self.pending]

    def violations(self) -> list[str]:
        found = []
        totals: dict[str, list[int]] = {}
        for a in self.accounts.values():
            sums = totals.setdefault(a.asset, [0, 0, 0, 0])
            for i, v in enumerate(
                (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
            ):
                sums[i] += v
                if not 0 <= v <= AMOUNT_MAX:
                    found.append(f"account {a.id}: balance field out of range: {v}")
        for asset, (dp, dpo, cp, cpo) in totals.items():
            if (dp, dpo) != (cp, cpo):
                found.append(f"{asset}: debits {(dp, dpo)} != credits {(cp, cpo)}")
        return found

    def close(self) -> None:
        pass


def _check_changed_accounts(
    changes: Changes, stored: dict[int, Account], transfers: dict[int, Transfer]
) -> None:
    """``Changes.accounts`` holds only accounts that moved: one whose state a failed chain
    restored must drop out. (One may end where it began and still be in: a pending transfer
    voided in the same group, or one of 0 expired; those are named by a transfer the group
    committed or whose pending state it changed. That none
    is missing is what the comparison with the reference model checks.)"""
    named = [*changes.transfers, *(transfers[i] for i in changes.pending if i in transfers)]
    touched = {i for t in named for i in (t.debit_account_id, t.credit_account_id)}
    created = {a.id for a in changes.accounts_created}
    for account_id, account in changes.accounts.items():
        assert account_id not in created, f"account {account_id} both created and changed"
        before = stored.get(account_id)
        assert before is not None, f"account {account_id} changed but never stored"
        assert account != before or account_id in touched, (
            f"account {account_id} in Changes.accounts, unchanged and named by no committed"
            f" transfer: {account}"
        )


def _check_history(changes: Changes, requests_from: int) -> None:
    """After the expiry sweep's rows (timestamps before ``requests_from``), one balance row
    per committed transfer and history account it moved, in transfer order, and an
    account's last row is its final state: no row of a rolled-back chain is left."""
    final = {a.id: a for a in [*changes.accounts_created, *changes.accounts.values()]}
    want: list[tuple[int, int]] = []
    for t in changes.transfers:
        for account_id in (t.debit_account_id, t.credit_account_id):
            account = final.get(account_id)
            if account is not None and account.flags & HISTORY:
                want.append((account_id, t.timestamp))
    got = [(r.account_id, r.timestamp) for r in changes.balances if r.timestamp >= requests_from]
    assert got == want, f"balance rows {got}, want {want}"
    last = {row.account_id: row for row in changes.balances}
    for account_id, row in last.items():
        a = final[account_id]
        balances = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        rows = (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted)
        assert rows == balances, f"account {account_id}: last balance row {rows} != {balances}"


# ----------------------------------------------------------------------------- the machine


def _show(events: list[Any], got: list[Any], want: list[Any]) -> str:
    lines = [
        f"  {i}: {event!r}\n     got {g} want {w}"
        for i, (event, g, w) in enumerate(zip(events, got, want, strict=False))
    ]
    return "statuses differ from the reference:\n" + "\n".join(lines)


def _diff(what: str, got: dict[int, Any], want: dict[int, Any]) -> str:
    lines = [
        f"  {what} {key}:\n     got  {got.get(key)}\n     want {want.get(key)}"
        for key in sorted(set(got) | set(want))
        if got.get(key) != want.get(key)
    ]
    return f"{what}s differ from the reference:\n" + "\n".join(lines)


class LedgerMachine(RuleBasedStateMachine):
    """Drives ``make_system`` and the reference model with the same steps."""

    make_system: ClassVar[Callable[[FakeClock], System]]

    def __init__(self) -> None:
        super().__init__()
        self.model = ReferenceLedger()
        self.submitted: list[Transfer] = []
        self.submitted_accounts: list[Account] = []
        self.used_ids: set[int] = set()
        self.next_id = 1

    @initialize(
        start_ns=st.sampled_from(CLOCK_STARTS),
        flags=st.lists(st.sampled_from(ACCOUNT_FLAG_CHOICES), min_size=5, max_size=5),
        fifth_asset=st.sampled_from(["USD", "USD", "USD", "EUR"]),
    )
    def open_system(self, start_ns: int, flags: list[int], fifth_asset: str) -> None:
        self.clock = FakeClock(start_ns)
        self.system = type(self).make_system(self.clock)
        assets = ["USD"] * 4 + [fifth_asset]
        self._accounts([Account(i + 1, assets[i], 1, flags[i]) for i in range(5)])

    def teardown(self) -> None:
        system = getattr(self, "system", None)
        if system is not None:
            system.close()

    # ------------------------------------------------------------------ drawing events

    def _draw(self, data: st.DataObject, strategy: st.SearchStrategy[Any]) -> Any:
        return data.draw(strategy)

    def _pick(self, data: st.DataObject, *choices: Any) -> Any:
        return data.draw(st.sampled_from(choices))

    def _transfer_id(self, data: st.DataObject) -> int:
        how = self._pick(data, "fresh", "fresh", "fresh", "fresh", "reuse")
        if how == "reuse" and self.used_ids:
            return self._draw(data, st.sampled_from(sorted(self.used_ids)))
        self.next_id += 1
        return self.next_id - 1

    def _flags(self, data: st.DataObject, flags: int) -> int:
        flags |= self._pick(data, 0, 0, 0, 0, LINKED)
        # Flags are ints or the IntFlag itself; both must behave the same.
        return TransferFlags(flags) if self._pick(data, False, False, False, True) else flags

    def _new_transfer(self, data: st.DataObject, kind: str) -> Any:
        dr = self._pick(data, 1, 2, 3, 4, 5)
        cr = self._pick(data, *[i for i in (1, 2, 3, 4, 5) if i != dr])
        if self._pick(data, "small", "small", "small", "big", "big") == "big":
            amount = self._draw(data, st.sampled_from(BIG_AMOUNTS))
        else:
            amount = self._draw(data, st.integers(1, 20))
        flags, timeout_s = 0, 0
        if kind == "pending":
            flags = self._pick(
                data,
                *[PENDING] * 6,
                PENDING | BAL_DR,
                PENDING | CLOSE_DR,
                PENDING | CLOSE_CR,
                PENDING | CLOSE_DR | CLOSE_CR,
            )
            timeout_s = self._pick(data, 0, 0, 1, 1, 2, 5, 10**7, TIMEOUT_MAX_S)
        elif kind == "balancing":
            flags = self._pick(data, BAL_DR, BAL_DR, BAL_CR, BAL_DR | BAL_CR)
            amount = self._pick(data, amount, amount, 0, AMOUNT_MAX)
        event = Transfer(
            id=self._transfer_id(data),
            debit_account_id=dr,
            credit_account_id=cr,
            amount=amount,
            asset="USD",
            code=1,
            flags=self._flags(data, flags),
            timeout_s=timeout_s,
            user_data=self._pick(data, 0, 0, 1, 2),
        )
        if self._pick(data, *[False] * 4, True):
            return _fault(event, self._draw(data, st.sampled_from(NEW_FAULTS)))
        return event

    def _resolution(self, data: st.DataObject, kind: str, batch: list[Any]) -> Any:
        # The pending transfers the model holds, still pending or (less often) resolved, and
        # those of this batch.
        model = self.model.state
        resolved = self._pick(data, False, False, True)
        pendings = [t for t in model.transfers.values() if t.flags & PENDING]
        known = {
            t.id: t
            for t in pendings
            if (model.pending[t.id].status is PendingStatus.PENDING) != resolved
        } or {t.id: t for t in pendings}
        for t in batch:
            flags = t.flags if type(t) is Transfer else None
            if type(flags) in (int, TransferFlags) and flags & PENDING and type(t.id) is int:
                known[t.id] = t
        pending = None
        if known and self._pick(data, True, True, True, True, True, False):
            pending = known[self._draw(data, st.sampled_from(sorted(known)))]
            pending_id = pending.id
        else:
            pending_id = self._draw(data, st.integers(1, self.next_id + 1))
        full = pending.amount if pending else 5
        if kind == "post":
            how = self._pick(data, "full", "full", "partial", "exact", "zero", "over")
        else:
            how = self._pick(data, "zero", "zero", "full", "exact", "under", "over")
        amount = {
            "full": AMOUNT_POST_FULL,
            "partial": self._draw(data, st.integers(0, max(0, full - 1))),
            "exact": full,
            "zero": 0,
            "under": max(0, full - 1),
            "over": min(full + 1, AMOUNT_MAX),
        }[how]
        explicit = pending is not None and self._pick(data, False, False, False, True)
        event = Transfer(
            id=self._transfer_id(data),
            debit_account_id=pending.debit_account_id if explicit and pending else 0,
            credit_account_id=pending.credit_account_id if explicit and pending else 0,
            amount=amount,
            asset=pending.asset if explicit and pending else "",
            code=pending.code if explicit and pending else 0,
            flags=self._flags(data, POST if kind == "post" else VOID),
            pending_id=pending_id,
            user_data=self._pick(data, 0, 0, 0, 3),
        )
        if self._pick(data, *[False] * 5, True):
            return _fault(event, self._draw(data, st.sampled_from(RESOLVE_FAULTS)))
        return event

    def _transfer_event(self, data: st.DataObject, batch: list[Any]) -> Any:
        kind = self._draw(data, st.sampled_from(TRANSFER_KINDS))
        if kind in ("again", "changed") and not self.submitted:
            kind = "plain"
        # Mostly events the ledger holds: those are the interesting ones to send again.
        held = [t for t in self.submitted if self.model.transfer(t.id) is not None]
        earlier_events = st.sampled_from(
            held if held and self._pick(data, True, True, False) else self.submitted
        )
        if kind == "again":
            return self._draw(data, earlier_events)
        if kind == "changed":
            earlier = self._draw(data, earlier_events)
            name = self._draw(data, st.sampled_from(sorted(CHANGEABLE)))
            return earlier._replace(**{name: self._draw(data, CHANGEABLE[name])})
        if kind == "junk":
            return self._draw(data, st.sampled_from(JUNK_TRANSFERS))
        if kind in ("post", "void"):
            return self._resolution(data, kind, batch)
        return self._new_transfer(data, kind)

    def _account_event(self, data: st.DataObject) -> Any:
        if self.submitted_accounts and self._pick(data, False, False, True):
            return self._draw(data, st.sampled_from(self.submitted_accounts))  # resubmitted
        account = Account(
            id=self._pick(data, 7, 7, 1, 2, 3, 4, 5),
            asset=self._pick(data, "USD", "USD", "USD", "EUR"),
            code=self._pick(data, 1, 1, 1, 2),
            flags=self._pick(data, *ACCOUNT_FLAG_CHOICES) | self._pick(data, 0, 0, 0, LINKED),
            user_data=self._pick(data, 0, 0, 1),
        )
        if self._pick(data, *[False] * 4, True):
            fault = self._draw(data, st.sampled_from(ACCOUNT_FAULTS))
            return {
                "balance": account._replace(credits_posted=1),
                "timestamp": account._replace(timestamp=1),
                "float": account._replace(code=1.0),
                "object": {"id": account.id},
                "closed": account._replace(flags=account.flags | CLOSED),
                "reserved": account._replace(flags=account.flags | 1 << 9),
                "exclusive": account._replace(flags=account.flags | DMNEC | CMNED),
                "no_code": account._replace(code=0),
                "no_id": account._replace(id=0),
                "unknown_asset": account._replace(asset="XXX"),
            }[fault]
        if self._pick(data, False, False, False, True):
            return account._replace(flags=AccountFlags(account.flags))
        return account

    # ------------------------------------------------------------------ rules

    def _accounts(self, batch: list[Any]) -> None:
        self._submit([("accounts", batch)])

    def _submit(self, requests: list[Request]) -> None:
        """The same requests to the model (one after the other) and to the system (together,
        as one group or several: the outcome must not depend on how they were grouped)."""
        now = self.clock.now_ns()
        wants: list[list[Any]] = []
        for kind, events in requests:
            if kind == "accounts":
                wants.append(self.model.create_accounts(events, now))
            else:
                wants.append(self.model.create_transfers(events, now))
        gots = self.system.submit(requests)
        for (kind, events), got, want in zip(requests, gots, wants, strict=True):
            assert got == want, _show(events, got, want)
            for status in set(want):
                event(f"{kind} status: {status.value}")
            if kind == "accounts":
                self.submitted_accounts += [a for a in events if type(a) is Account]
                del self.submitted_accounts[:-20]
                continue
            for t in events:
                if type(t) is Transfer and type(t.id) is int and 0 < t.id <= ID_MAX:
                    self.submitted.append(t)
                    self.used_ids.add(t.id)
            del self.submitted[:-40]

    def _transfer_batch(self, data: st.DataObject, size_max: int) -> list[Any]:
        size = self._draw(data, st.integers(0, size_max))
        batch: list[Any] = []
        for _ in range(size):
            batch.append(self._transfer_event(data, batch))
        return batch

    @rule(data=st.data())
    def create_accounts(self, data: st.DataObject) -> None:
        size = self._draw(data, st.integers(0, 4))
        self._accounts([self._account_event(data) for _ in range(size)])

    @rule(data=st.data())
    def create_transfers(self, data: st.DataObject) -> None:
        self._submit([("transfers", self._transfer_batch(data, 7))])

    @rule(data=st.data())
    def submit_together(self, data: st.DataObject) -> None:
        """Several requests at once, which the engine's writer may merge into one group."""
        requests: list[Request] = []
        for _ in range(self._draw(data, st.integers(2, 4))):
            if self._pick(data, "transfers", "transfers", "transfers", "accounts") == "accounts":
                requests.append(("accounts", [self._account_event(data)]))
            else:
                requests.append(("transfers", self._transfer_batch(data, 4)))
        self._submit(requests)

    @rule(data=st.data())
    def linked_chain(self, data: st.DataObject) -> None:
        """A chain of 3-6 linked events over 2-3 accounts, which half the time ends in an
        event built to fail: rolled-back chains that moved the same account several times
        (each of whose saved states must be restored, last first) are common here."""
        accounts = self._draw(data, st.sampled_from([[1, 2], [1, 2, 3], [2, 3, 4], [3, 4]]))
        chain: list[Transfer] = []
        for _ in range(self._draw(data, st.integers(2, 5))):
            chain.append(self._chain_step(data, accounts, chain))
        if self._pick(data, True, False):
            chain.append(self._chain_failure(data, accounts, chain))
        else:
            chain.append(self._chain_step(data, accounts, chain))
        chain[:-1] = [t._replace(flags=int(t.flags) | LINKED) for t in chain[:-1]]
        chain[-1] = chain[-1]._replace(flags=int(chain[-1].flags) & ~LINKED)
        self._submit([("transfers", chain)])

    def _chain_step(self, data: st.DataObject, accounts: list[int], chain: list[Transfer]) -> Any:
        dr = self._draw(data, st.sampled_from(accounts))
        cr = self._draw(data, st.sampled_from([i for i in accounts if i != dr]))
        kind = self._pick(data, "plain", "plain", "pending", "closing", "resolve")
        pendings = [t for t in chain if t.flags & PENDING]
        self.next_id += 1
        if kind == "resolve" and pendings:
            p = self._draw(data, st.sampled_from(pendings))
            flags = POST if not p.flags & (CLOSE_DR | CLOSE_CR) and self._pick(data, 0, 1) else VOID
            return Transfer(self.next_id - 1, 0, 0, AMOUNT_POST_FULL, "", 0, flags, p.id)
        flags = {"pending": PENDING, "closing": PENDING | CLOSE_DR}.get(kind, 0)
        amount = self._draw(data, st.integers(1, 20))
        return Transfer(self.next_id - 1, dr, cr, amount, "USD", 1, flags)

    def _chain_failure(
        self, data: st.DataObject, accounts: list[int], chain: list[Transfer]
    ) -> Transfer:
        how = self._pick(data, "exceeds_credits", "missing", "closed", "duplicate")
        dr, cr = accounts[0], accounts[-1]
        self.next_id += 1
        event = Transfer(self.next_id - 1, dr, cr, 1, "USD", 1)
        if how == "exceeds_credits":
            limited = {
                i: a for i in (1, 2, 3, 4) if (a := self.model.account(i)) and a.flags & DMNEC
            }
            if limited:
                dr = self._draw(data, st.sampled_from(sorted(limited)))
                # More than its credits, even after the chain's (at most 5 x 20) moved in.
                amount = limited[dr].credits_posted + 101
                return event._replace(
                    debit_account_id=dr, credit_account_id=1 if dr != 1 else 2
                )._replace(amount=amount)
            how = "missing"
        if how == "closed":
            closing = [t for t in chain if t.flags & CLOSE_DR]
            if closing:
                return event._replace(debit_account_id=closing[-1].debit_account_id)
            how = "missing"
        if how == "duplicate":
            return self._draw(data, st.sampled_from(chain))._replace(amount=21)
        return event._replace(credit_account_id=MISSING_ACCOUNT)

    @rule(
        seconds=st.sampled_from([0, 1, 1, 2, 3, 5, -1, -5]),  # the clock may go back
        ns=st.sampled_from([0, 0, 0, 1, NS - 1]),
        sweep=st.booleans(),
    )
    def advance_clock(self, seconds: int, ns: int, sweep: bool) -> None:
        self.clock.advance(seconds, ns=ns)
        if sweep:
            self.model.sweep(self.clock.now_ns())
            self.system.expire_due()

    @rule()
    def restart(self) -> None:
        self.system.restart()

    # ------------------------------------------------------------------ the comparison

    @invariant()
    def same_state_as_the_reference(self) -> None:
        accounts = {a.id: a for a in self.system.lookup_accounts(ACCOUNT_IDS)}
        want_accounts = {i: a for i in ACCOUNT_IDS if (a := self.model.account(i))}
        assert accounts == want_accounts, _diff("account", accounts, want_accounts)
        ids = sorted(self.used_ids)
        transfers = {t.id: t for t in self.system.lookup_transfers(ids)}
        want_transfers = {i: t for i in ids if (t := self.model.transfer(i))}
        assert transfers == want_transfers, _diff("transfer", transfers, want_transfers)
        states = {s.transfer_id: s for s in self.system.pending_states(ids)}
        want_states = {i: s for i in ids if (s := self.model.pending_state(i))}
        assert states == want_states, _diff("pending state", states, want_states)

    @invariant()
    def store_invariants_hold(self) -> None:
        assert self.system.violations() == []


# ----------------------------------------------------------------------------- the tests


def _fresh_postgres(url: str) -> None:
    """Empty the test's PostgreSQL schema (the URL's search_path) for the next example."""
    import psycopg

    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    match = re.fullmatch(r"-csearch_path=(\w+)", dict(query).get("options", ""))
    assert match, f"no schema in {url}"
    schema = match[1]
    base = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "options"])))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


def _engine_factory(store_url: str, tmp_path: Path) -> Callable[[FakeClock], System]:
    def make(clock: FakeClock) -> System:
        if store_url.startswith("sqlite:///"):
            url = f"sqlite:///{tmp_path / f'ledger-{uuid.uuid4().hex}.db'}"
        else:
            _fresh_postgres(store_url)
            url = store_url
        return EngineSystem(url, clock)

    return make


ENGINE_SETTINGS = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CORE_SETTINGS = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_engine_matches_reference(store_url: str, tmp_path: Path) -> None:
    class EngineMachine(LedgerMachine):
        make_system = staticmethod(_engine_factory(store_url, tmp_path))

    run_state_machine_as_test(EngineMachine, settings=ENGINE_SETTINGS)


@pytest.mark.parametrize("core", CORE_PARAMS)
def test_core_matches_reference(core: ModuleType) -> None:
    class CoreMachine(LedgerMachine):
        make_system = staticmethod(functools.partial(CoreSystem, core=core))

    run_state_machine_as_test(CoreMachine, settings=CORE_SETTINGS)
