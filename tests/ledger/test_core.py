"""The pure core: ``BatchApplier`` over a ``LedgerView``, no store, no clock.

- every status, each shown winning over a later one that the same event also breaks (and, with
  the earlier fault repaired, the later one reported), in the order docs/ledger.md documents;
- transient failures, and only those, leave their id failed;
- a failing or open linked chain leaves no trace in ``changes()``;
- money is conserved: for random batches, debits equal credits per asset (posted and pending),
  every balance equals the sum of its transfers, and no field is negative or above
  ``AMOUNT_MAX``;
- garbage in any field, or in place of an event, is ``malformed`` and never raises;
- cases where the engine once departed from TigerBeetle's semantics, fixed and pinned.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime.ledger.core import BatchApplier, Changes, LedgerView
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
from centime.limits import AMOUNT_MAX, CODE_MAX, ID_MAX, TIMEOUT_MAX_S, USER_DATA_MAX

from ..flags import (
    BAL_CR,
    BAL_DR,
    CLOSE_CR,
    CLOSE_DR,
    CMNED,
    DMNEC,
    HISTORY,
    LINKED,
    PENDING,
    POST,
    VOID,
    A,
    S,
)
from .cores import CORE_PARAMS


@pytest.fixture(autouse=True, scope="module", params=CORE_PARAMS)
def core(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """Every test of this module runs on both routes of the core (compiled and pure): the
    helpers below read the module globals this swaps."""
    module: ModuleType = request.param
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys.modules[__name__], "BatchApplier", module.BatchApplier)
        patch.setattr(sys.modules[__name__], "LedgerView", module.LedgerView)
        yield module


T0 = 1_700_000_000_000_000_000
TS = T0 + 1_000  # the timestamp of the first event of a batch in these tests
TIMESTAMP_MAX = 2**63 - 1
NEAR_MAX_TS = TIMESTAMP_MAX - 1_000_000  # a timeout of a year overflows from here

CLOSED = int(AccountFlags.CLOSED)
HALF = AMOUNT_MAX // 2


def acct(account_id: int, asset: str = "USD", flags: int = 0, **balances: int) -> Account:
    return Account(
        id=account_id, asset=asset, code=1, flags=flags, timestamp=T0 + account_id, **balances
    )


def tr(transfer_id: int, dr: int, cr: int, amount: int, **fields: Any) -> Transfer:
    base: dict[str, Any] = {"asset": "USD", "code": 1}
    base.update(fields)
    return Transfer(transfer_id, dr, cr, amount, **base)


def post(transfer_id: int, pending_id: int, amount: int = AMOUNT_POST_FULL, **f: Any) -> Transfer:
    base: dict[str, Any] = {"asset": "", "code": 0, "flags": POST, "pending_id": pending_id}
    base.update(f)
    return Transfer(transfer_id, base.pop("dr", 0), base.pop("cr", 0), amount, **base)


def void(transfer_id: int, pending_id: int, amount: int = 0, **f: Any) -> Transfer:
    return post(transfer_id, pending_id, amount, **{"flags": VOID, **f})


def stored(transfer: Transfer, ts: int) -> Transfer:
    return transfer._replace(timestamp=ts)


# The stored state most tests start from. Balances need not add up across accounts here: the
# core reads only what an event names; the reserves of the pending transfers are held.
ACCOUNTS = [
    acct(1, debits_pending=200, credits_posted=1_000),
    acct(2, credits_pending=200),
    acct(3, "EUR"),
    acct(4, flags=DMNEC),  # an empty wallet
    acct(5, flags=CMNED),
    acct(6, flags=CLOSED, debits_pending=20),
    acct(7, flags=CLOSED, credits_pending=20),
    acct(9, flags=CLOSED, debits_pending=10),  # closed by pending transfer 108
    acct(10, debits_pending=AMOUNT_MAX - 5),
    acct(11, credits_pending=AMOUNT_MAX - 5),
    acct(12, debits_posted=AMOUNT_MAX - 5),
    acct(13, credits_posted=AMOUNT_MAX - 5),
    acct(14, debits_pending=HALF, debits_posted=HALF),
    acct(15, credits_pending=HALF, credits_posted=HALF),
]
P = tr(0, 1, 2, 10, flags=PENDING)  # the shape of the stored pending transfers
TRANSFERS = [
    stored(P._replace(id=100), T0 + 100),
    stored(tr(101, 1, 2, 10), T0 + 101),
    stored(P._replace(id=102), T0 + 102),
    stored(P._replace(id=103), T0 + 103),
    stored(P._replace(id=104, timeout_s=1), T0 + 104),
    stored(P._replace(id=105, timeout_s=1), TS - 1_000_000_000),  # due before TS
    stored(P._replace(id=106, debit_account_id=6), T0 + 106),
    stored(P._replace(id=107, credit_account_id=7), T0 + 107),
    stored(P._replace(id=108, debit_account_id=9, flags=PENDING | CLOSE_DR), T0 + 108),
    stored(P._replace(id=109, timeout_s=1), TS - 1_000_000_000),
    stored(P._replace(id=110, timeout_s=1), TS - 1_000_000_000),
    stored(P._replace(id=111, debit_account_id=6, timeout_s=1), TS - 1_000_000_000),
    stored(P._replace(id=112, debit_account_id=6, credit_account_id=7), T0 + 112),
]
STATES = {
    100: PendingStatus.PENDING,
    102: PendingStatus.POSTED,
    103: PendingStatus.VOIDED,
    104: PendingStatus.EXPIRED,
    105: PendingStatus.PENDING,
    106: PendingStatus.PENDING,
    107: PendingStatus.PENDING,
    108: PendingStatus.PENDING,
    109: PendingStatus.POSTED,
    110: PendingStatus.VOIDED,
    111: PendingStatus.PENDING,
    112: PendingStatus.PENDING,
}


def base_view() -> LedgerView:
    transfers = {t.id: t for t in TRANSFERS}
    pending = {}
    for i, status in STATES.items():
        t = transfers[i]
        expires_at = t.timestamp + t.timeout_s * 10**9 if t.timeout_s else 0
        resolved_at = 0 if status is PendingStatus.PENDING else T0 + 500
        pending[i] = PendingState(i, status, expires_at, resolved_at)
    return LedgerView(
        accounts={a.id: a for a in ACCOUNTS},
        transfers=transfers,
        pending=pending,
        failed={200: S.EXCEEDS_CREDITS},
    )


def apply(
    events: list[Any], view: LedgerView | None = None, ts: int = TS
) -> tuple[list[CreateTransferStatus], Changes]:
    applier = BatchApplier(view if view is not None else base_view())
    statuses = applier.create_transfers(events, ts)
    return statuses, applier.changes()


def apply_accounts(
    events: list[Any], view: LedgerView | None = None
) -> tuple[list[CreateAccountStatus], Changes]:
    applier = BatchApplier(view if view is not None else base_view())
    statuses = applier.create_accounts(events, TS)
    return statuses, applier.changes()


# ----------------------------------------------------------------------------- the documents


def _documented_tables() -> tuple[list[str], list[str], set[str]]:
    text = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text()
    accounts, transfers, failed = [], [], set()
    for line in text.splitlines():
        match = re.fullmatch(r"\| (\d+) \| `(\w+)` \|(?: (yes)? ?\|)?", line.strip())
        if match is None:
            continue
        number, name, yes = int(match[1]), match[2], match[3]
        table = accounts if line.count("|") == 3 else transfers  # transfers have a 3rd column
        assert number == len(table), f"docs/ledger.md numbering breaks at {line!r}"
        table.append(name)
        if yes:
            failed.add(name)
    return accounts, transfers, failed


def test_documented_order_is_the_enum_order() -> None:
    accounts, transfers, failed = _documented_tables()
    assert accounts == [s.value for s in CreateAccountStatus]
    assert transfers == [s.value for s in CreateTransferStatus]
    assert failed == {s.value for s in TRANSIENT_TRANSFER_FAILURES}


def _order(branch: str) -> list[CreateTransferStatus]:
    """The documented order; in the post/void branch ``timeout_reserved_for_pending_transfer``
    is checked right after ``pending_id_must_be_different`` (docs/ledger.md)."""
    order = list(CreateTransferStatus)
    if branch == "resolve":
        order.remove(S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER)
        after = order.index(S.PENDING_ID_MUST_BE_DIFFERENT)
        order.insert(after + 1, S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER)
    return order


# ----------------------------------------------------------------------------- check order


class Case(NamedTuple):
    """``event`` breaks two rules and gets ``first``; ``repaired`` (the same event with the
    first fault fixed, where that makes sense) gets ``second``, which comes later in order."""

    event: Transfer
    first: CreateTransferStatus
    repaired: Transfer | None
    second: CreateTransferStatus
    ts: int = TS


def case(event: Transfer, first: S, second: S, ts: int = TS, **repair: Any) -> Case:
    return Case(event, first, event._replace(**repair) if repair else None, second, ts)


NEW = tr(300, 1, 2, 5)
PLAIN_101 = tr(101, 1, 2, 10)
TRANSFER_CASES: dict[str, Case] = {
    # The event as a value.
    "malformed": case(
        NEW._replace(amount=-1, flags=1 << 8), S.MALFORMED, S.RESERVED_FLAG, amount=5
    ),
    "reserved_flag": case(
        NEW._replace(flags=1 << 8, timestamp=5), S.RESERVED_FLAG, S.TIMESTAMP_MUST_BE_ZERO, flags=0
    ),
    "timestamp": case(
        NEW._replace(id=0, timestamp=5),
        S.TIMESTAMP_MUST_BE_ZERO,
        S.ID_MUST_NOT_BE_ZERO,
        timestamp=0,
    ),
    "id_zero": case(
        NEW._replace(id=0, flags=POST | VOID),
        S.ID_MUST_NOT_BE_ZERO,
        S.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        id=300,
    ),
    "exclusive": case(
        NEW._replace(id=200, flags=POST | VOID),
        S.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        S.ID_ALREADY_FAILED,
        flags=0,
    ),
    "exclusive_pending_post": case(
        NEW._replace(flags=PENDING | POST, pending_id=100),
        S.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        S.PENDING_ID_MUST_BE_ZERO,
        flags=PENDING,
    ),
    "exclusive_void_closing": case(
        NEW._replace(flags=VOID | CLOSE_DR, pending_id=100),
        S.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
        flags=VOID,
    ),
    # The id against the ledger.
    "id_already_failed": case(
        NEW._replace(id=200, debit_account_id=0),
        S.ID_ALREADY_FAILED,
        S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
        id=300,
    ),
    "exists_flags": case(
        PLAIN_101._replace(flags=PENDING, pending_id=5),
        S.EXISTS_WITH_DIFFERENT_FLAGS,
        S.EXISTS_WITH_DIFFERENT_PENDING_ID,
        flags=0,
    ),
    "exists_pending_id": case(
        PLAIN_101._replace(pending_id=5, timeout_s=1),
        S.EXISTS_WITH_DIFFERENT_PENDING_ID,
        S.EXISTS_WITH_DIFFERENT_TIMEOUT,
        pending_id=0,
    ),
    "exists_timeout": case(
        PLAIN_101._replace(timeout_s=1, debit_account_id=4),
        S.EXISTS_WITH_DIFFERENT_TIMEOUT,
        S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
        timeout_s=0,
    ),
    "exists_dr": case(
        PLAIN_101._replace(debit_account_id=4, credit_account_id=5),
        S.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
        S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        debit_account_id=1,
    ),
    "exists_cr": case(
        PLAIN_101._replace(credit_account_id=5, amount=11),
        S.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
        S.EXISTS_WITH_DIFFERENT_AMOUNT,
        credit_account_id=2,
    ),
    "exists_amount": case(
        PLAIN_101._replace(amount=11, user_data=1),
        S.EXISTS_WITH_DIFFERENT_AMOUNT,
        S.EXISTS_WITH_DIFFERENT_USER_DATA,
        amount=10,
    ),
    "exists_user_data": case(
        PLAIN_101._replace(user_data=1, asset="EUR"),
        S.EXISTS_WITH_DIFFERENT_USER_DATA,
        S.EXISTS_WITH_DIFFERENT_ASSET,
        user_data=0,
    ),
    "exists_asset": case(
        PLAIN_101._replace(asset="EUR", code=2),
        S.EXISTS_WITH_DIFFERENT_ASSET,
        S.EXISTS_WITH_DIFFERENT_CODE,
        asset="USD",
    ),
    "exists_code": case(PLAIN_101._replace(code=2), S.EXISTS_WITH_DIFFERENT_CODE, S.EXISTS, code=1),
    # Posting or voiding.
    "pending_id_zero": case(
        post(300, 0, timeout_s=1),
        S.PENDING_ID_MUST_NOT_BE_ZERO,
        S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER,
        pending_id=100,
    ),
    "pending_id_same": case(
        post(300, 300, timeout_s=1),
        S.PENDING_ID_MUST_BE_DIFFERENT,
        S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER,
        pending_id=999,
    ),
    "resolve_timeout": case(
        post(300, 999, timeout_s=1),
        S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER,
        S.PENDING_TRANSFER_NOT_FOUND,
        timeout_s=0,
    ),
    "pending_not_found": case(
        post(300, 999, dr=4),
        S.PENDING_TRANSFER_NOT_FOUND,
        S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        pending_id=100,
    ),
    "not_pending": case(
        post(300, 101, dr=4),
        S.PENDING_TRANSFER_NOT_PENDING,
        S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        pending_id=100,
    ),
    "pending_dr": case(
        post(300, 100, dr=4, cr=5),
        S.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        S.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
        debit_account_id=1,
    ),
    "pending_cr": case(
        post(300, 100, cr=5, asset="EUR"),
        S.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
        S.PENDING_TRANSFER_HAS_DIFFERENT_ASSET,
        credit_account_id=0,
    ),
    "pending_asset": case(
        post(300, 100, asset="EUR", code=2),
        S.PENDING_TRANSFER_HAS_DIFFERENT_ASSET,
        S.PENDING_TRANSFER_HAS_DIFFERENT_CODE,
        asset="USD",
    ),
    "pending_code": case(
        post(300, 100, 11, code=2),
        S.PENDING_TRANSFER_HAS_DIFFERENT_CODE,
        S.EXCEEDS_PENDING_TRANSFER_AMOUNT,
        code=1,
    ),
    "exceeds_pending": case(
        post(300, 102, 11),
        S.EXCEEDS_PENDING_TRANSFER_AMOUNT,
        S.PENDING_TRANSFER_ALREADY_POSTED,
        amount=10,
    ),
    "void_amount": case(
        void(300, 103, 5),
        S.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
        S.PENDING_TRANSFER_ALREADY_VOIDED,
        amount=0,
    ),
    "already_posted": case(
        post(300, 109),
        S.PENDING_TRANSFER_ALREADY_POSTED,
        S.PENDING_TRANSFER_EXPIRED,
        pending_id=105,
    ),
    "already_voided": case(
        void(300, 110),
        S.PENDING_TRANSFER_ALREADY_VOIDED,
        S.PENDING_TRANSFER_EXPIRED,
        pending_id=104,
    ),
    "expired": case(
        post(300, 111), S.PENDING_TRANSFER_EXPIRED, S.DEBIT_ACCOUNT_ALREADY_CLOSED, pending_id=106
    ),
    "post_dr_closed": case(
        post(300, 112),
        S.DEBIT_ACCOUNT_ALREADY_CLOSED,
        S.CREDIT_ACCOUNT_ALREADY_CLOSED,
        pending_id=107,
    ),
    # A new transfer.
    "dr_zero": case(
        NEW._replace(debit_account_id=0, credit_account_id=0),
        S.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
        S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
        debit_account_id=1,
    ),
    "cr_zero": case(
        NEW._replace(credit_account_id=0, pending_id=1),
        S.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
        S.PENDING_ID_MUST_BE_ZERO,
        credit_account_id=2,
    ),
    "same_accounts": case(
        NEW._replace(credit_account_id=1, pending_id=1),
        S.ACCOUNTS_MUST_BE_DIFFERENT,
        S.PENDING_ID_MUST_BE_ZERO,
        credit_account_id=2,
    ),
    "pending_id_not_zero": case(
        NEW._replace(pending_id=1, timeout_s=1),
        S.PENDING_ID_MUST_BE_ZERO,
        S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER,
        pending_id=0,
    ),
    "timeout_not_pending": case(
        NEW._replace(timeout_s=1, flags=CLOSE_DR),
        S.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER,
        S.CLOSING_TRANSFER_MUST_BE_PENDING,
        timeout_s=0,
    ),
    "closing_not_pending": case(
        NEW._replace(flags=CLOSE_CR, asset=""),
        S.CLOSING_TRANSFER_MUST_BE_PENDING,
        S.ASSET_MUST_NOT_BE_EMPTY,
        flags=0,
    ),
    "no_asset": case(
        NEW._replace(asset="", code=0),
        S.ASSET_MUST_NOT_BE_EMPTY,
        S.CODE_MUST_NOT_BE_ZERO,
        asset="USD",
    ),
    "no_code": case(
        NEW._replace(code=0, amount=0), S.CODE_MUST_NOT_BE_ZERO, S.AMOUNT_MUST_NOT_BE_ZERO, code=1
    ),
    "no_amount": case(
        NEW._replace(amount=0, debit_account_id=98),
        S.AMOUNT_MUST_NOT_BE_ZERO,
        S.DEBIT_ACCOUNT_NOT_FOUND,
        amount=5,
    ),
    "dr_not_found": case(
        NEW._replace(debit_account_id=98, credit_account_id=99),
        S.DEBIT_ACCOUNT_NOT_FOUND,
        S.CREDIT_ACCOUNT_NOT_FOUND,
        debit_account_id=1,
    ),
    "cr_not_found": case(
        NEW._replace(debit_account_id=3, credit_account_id=99),
        S.CREDIT_ACCOUNT_NOT_FOUND,
        S.ACCOUNTS_MUST_HAVE_THE_SAME_ASSET,
        credit_account_id=2,
    ),
    "assets_differ": case(
        NEW._replace(credit_account_id=3, asset="JPY"),
        S.ACCOUNTS_MUST_HAVE_THE_SAME_ASSET,
        S.TRANSFER_MUST_HAVE_THE_SAME_ASSET_AS_ACCOUNTS,
        credit_account_id=2,
    ),
    "transfer_asset": case(
        NEW._replace(debit_account_id=6, asset="EUR"),
        S.TRANSFER_MUST_HAVE_THE_SAME_ASSET_AS_ACCOUNTS,
        S.DEBIT_ACCOUNT_ALREADY_CLOSED,
        asset="USD",
    ),
    "dr_closed": case(
        NEW._replace(debit_account_id=6, credit_account_id=7),
        S.DEBIT_ACCOUNT_ALREADY_CLOSED,
        S.CREDIT_ACCOUNT_ALREADY_CLOSED,
        debit_account_id=1,
    ),
    "cr_closed": case(
        NEW._replace(debit_account_id=10, credit_account_id=7, amount=10, flags=PENDING),
        S.CREDIT_ACCOUNT_ALREADY_CLOSED,
        S.OVERFLOWS_DEBITS_PENDING,
        credit_account_id=2,
    ),
    "overflows_dp": case(
        NEW._replace(debit_account_id=10, credit_account_id=11, amount=10, flags=PENDING),
        S.OVERFLOWS_DEBITS_PENDING,
        S.OVERFLOWS_CREDITS_PENDING,
        debit_account_id=1,
    ),
    "overflows_cp": case(
        NEW._replace(debit_account_id=14, credit_account_id=11, amount=10, flags=PENDING),
        S.OVERFLOWS_CREDITS_PENDING,
        S.OVERFLOWS_DEBITS,
        credit_account_id=2,
    ),
    "overflows_dpo": case(
        NEW._replace(debit_account_id=12, credit_account_id=13, amount=10),
        S.OVERFLOWS_DEBITS_POSTED,
        S.OVERFLOWS_CREDITS_POSTED,
        debit_account_id=1,
    ),
    "overflows_cpo": case(
        NEW._replace(debit_account_id=14, credit_account_id=13, amount=10),
        S.OVERFLOWS_CREDITS_POSTED,
        S.OVERFLOWS_DEBITS,
        credit_account_id=2,
    ),
    "overflows_debits": case(
        NEW._replace(debit_account_id=14, credit_account_id=15, amount=10),
        S.OVERFLOWS_DEBITS,
        S.OVERFLOWS_CREDITS,
        debit_account_id=1,
    ),
    "overflows_credits": case(
        NEW._replace(credit_account_id=15, amount=10, flags=PENDING, timeout_s=TIMEOUT_MAX_S),
        S.OVERFLOWS_CREDITS,
        S.OVERFLOWS_TIMEOUT,
        NEAR_MAX_TS,
        credit_account_id=2,
    ),
    "overflows_timeout": case(
        NEW._replace(debit_account_id=4, flags=PENDING, timeout_s=TIMEOUT_MAX_S),
        S.OVERFLOWS_TIMEOUT,
        S.EXCEEDS_CREDITS,
        NEAR_MAX_TS,
        timeout_s=0,
    ),
    "exceeds_credits": case(
        NEW._replace(debit_account_id=4, credit_account_id=5),
        S.EXCEEDS_CREDITS,
        S.EXCEEDS_DEBITS,
        debit_account_id=1,
    ),
}
RESOLVING_CASES = {name for name, c in TRANSFER_CASES.items() if c.event.flags & (POST | VOID)}


def test_every_transfer_status_is_reached() -> None:
    reached = {S.CREATED, S.LINKED_EVENT_FAILED, S.LINKED_EVENT_CHAIN_OPEN}  # tests below
    for c in TRANSFER_CASES.values():
        reached |= {c.first, c.second}
    assert reached == set(CreateTransferStatus)


@pytest.mark.parametrize("name", sorted(TRANSFER_CASES))
def test_transfer_check_order(name: str) -> None:
    c = TRANSFER_CASES[name]
    order = _order("resolve" if name in RESOLVING_CASES else "new")
    assert order.index(c.first) < order.index(c.second), "the case shows no order"
    statuses, changes = apply([c.event], ts=c.ts)
    assert statuses == [c.first]
    assert not changes.transfers
    assert not changes.accounts
    if c.repaired is not None:
        statuses, _ = apply([c.repaired], ts=c.ts)
        assert statuses == [c.second]


@pytest.mark.parametrize("name", sorted(TRANSFER_CASES))
def test_only_transient_failures_leave_the_id_failed(name: str) -> None:
    c = TRANSFER_CASES[name]
    for event, status in ((c.event, c.first), (c.repaired, c.second)):
        if event is None or status in (S.MALFORMED, S.ID_MUST_NOT_BE_ZERO, S.EXISTS):
            continue
        applier = BatchApplier(base_view())
        assert applier.create_transfers([event], c.ts) == [status]
        transient = status in TRANSIENT_TRANSFER_FAILURES
        failed = applier.changes().failed
        assert (event.id in failed) == transient, status
        if transient:
            assert failed[event.id] == (status, c.ts)
            # Retrying the same id later answers id_already_failed, even with the fault fixed.
            retry = tr(event.id, 1, 2, 1)
            assert applier.create_transfers([retry], c.ts + 1) == [S.ID_ALREADY_FAILED]


ACCOUNT = Account(50, "USD", code=1)
ACCOUNT_CASES: dict[str, tuple[Account, A, dict[str, Any], A]] = {
    "malformed": (ACCOUNT._replace(id=-1, flags=1 << 9), A.MALFORMED, {"id": 50}, A.RESERVED_FLAG),
    "reserved_flag": (
        ACCOUNT._replace(flags=CLOSED, id=0),
        A.RESERVED_FLAG,
        {"flags": 0},
        A.ID_MUST_NOT_BE_ZERO,
    ),
    "id_zero": (
        ACCOUNT._replace(id=0, flags=DMNEC | CMNED),
        A.ID_MUST_NOT_BE_ZERO,
        {"id": 50},
        A.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
    ),
    "exclusive": (
        ACCOUNT._replace(flags=DMNEC | CMNED, credits_posted=1),
        A.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        {"flags": DMNEC},
        A.BALANCES_MUST_BE_ZERO,
    ),
    "balances": (
        ACCOUNT._replace(debits_pending=-1, timestamp=5),
        A.BALANCES_MUST_BE_ZERO,
        {"debits_pending": 0},
        A.TIMESTAMP_MUST_BE_ZERO,
    ),
    "timestamp": (
        ACCOUNT._replace(timestamp=5, asset="XXX"),
        A.TIMESTAMP_MUST_BE_ZERO,
        {"timestamp": 0},
        A.ASSET_NOT_FOUND,
    ),
    "asset": (
        ACCOUNT._replace(asset="XXX", code=0),
        A.ASSET_NOT_FOUND,
        {"asset": "USD"},
        A.CODE_MUST_NOT_BE_ZERO,
    ),
    "code": (
        acct(1)._replace(timestamp=0, code=0, flags=DMNEC),
        A.CODE_MUST_NOT_BE_ZERO,
        {"code": 1},
        A.EXISTS_WITH_DIFFERENT_FLAGS,
    ),
    "exists_flags": (
        Account(1, "USD", 1, flags=DMNEC, user_data=5),
        A.EXISTS_WITH_DIFFERENT_FLAGS,
        {"flags": 0},
        A.EXISTS_WITH_DIFFERENT_USER_DATA,
    ),
    "exists_user_data": (
        Account(1, "EUR", 1, user_data=5),
        A.EXISTS_WITH_DIFFERENT_USER_DATA,
        {"user_data": 0},
        A.EXISTS_WITH_DIFFERENT_ASSET,
    ),
    "exists_asset": (
        Account(1, "EUR", code=2),
        A.EXISTS_WITH_DIFFERENT_ASSET,
        {"asset": "USD"},
        A.EXISTS_WITH_DIFFERENT_CODE,
    ),
    "exists_code": (Account(1, "USD", code=2), A.EXISTS_WITH_DIFFERENT_CODE, {"code": 1}, A.EXISTS),
    # The closed flag a closing transfer set is not part of what was submitted.
    "exists_closed": (Account(6, "USD", code=1), A.EXISTS, {}, A.EXISTS),
}


def test_every_account_status_is_reached() -> None:
    reached = {A.CREATED, A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN}  # tests below
    for _, first, _, second in ACCOUNT_CASES.values():
        reached |= {first, second}
    assert reached == set(CreateAccountStatus)


@pytest.mark.parametrize("name", sorted(ACCOUNT_CASES))
def test_account_check_order(name: str) -> None:
    event, first, repair, second = ACCOUNT_CASES[name]
    order = list(CreateAccountStatus)
    assert order.index(first) <= order.index(second)
    statuses, changes = apply_accounts([event])
    assert statuses == [first]
    assert not changes.accounts_created
    statuses, _ = apply_accounts([event._replace(**repair)])
    assert statuses == [second]


def test_created_account_and_transfer_records() -> None:
    applier = BatchApplier(base_view())
    new = Account(50, "USD", code=3, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, user_data=9)
    assert applier.create_accounts([new], TS) == [A.CREATED]
    assert applier.changes().accounts_created == [new._replace(flags=DMNEC, timestamp=TS)]
    assert type(applier.changes().accounts_created[0].flags) is int
    statuses = applier.create_transfers(
        [tr(300, 1, 50, 7, user_data=4), tr(301, 50, 2, 7, flags=PENDING, timeout_s=3)], TS + 1
    )
    assert statuses == [S.CREATED, S.CREATED]
    changes = applier.changes()
    assert changes.transfers == [
        tr(300, 1, 50, 7, user_data=4, timestamp=TS + 1),
        tr(301, 50, 2, 7, flags=PENDING, timeout_s=3, timestamp=TS + 2),
    ]
    assert changes.pending == {301: PendingState(301, PendingStatus.PENDING, TS + 2 + 3 * 10**9)}
    assert changes.accounts_created == [
        new._replace(flags=DMNEC, timestamp=TS, debits_pending=7, credits_posted=7)
    ]
    assert changes.accounts[1] == ACCOUNTS[0]._replace(debits_posted=7)
    assert changes.accounts[2] == ACCOUNTS[1]._replace(credits_pending=207)


# ----------------------------------------------------------------------------- two-phase


def test_post_part_releases_the_rest_and_void_releases_all() -> None:
    applier = BatchApplier(base_view())
    assert applier.create_transfers([post(300, 100, 4, user_data=8), void(301, 106)], TS) == [
        S.CREATED,
        S.CREATED,
    ]
    changes = applier.changes()
    assert changes.transfers == [
        Transfer(300, 1, 2, 4, "USD", 1, POST, 100, 0, 8, TS),
        Transfer(301, 6, 2, 10, "USD", 1, VOID, 106, 0, 0, TS + 1),
    ]
    assert changes.pending == {
        100: PendingState(100, PendingStatus.POSTED, 0, TS),
        106: PendingState(106, PendingStatus.VOIDED, 0, TS + 1),
    }
    assert changes.accounts[1] == ACCOUNTS[0]._replace(debits_pending=190, debits_posted=4)
    assert changes.accounts[2] == ACCOUNTS[1]._replace(credits_pending=180, credits_posted=4)
    # A void may touch a closed account (TigerBeetle: "the only movement allowed").
    assert changes.accounts[6] == ACCOUNTS[5]._replace(debits_pending=10)


def test_post_full_and_resubmissions() -> None:
    applier = BatchApplier(base_view())
    full = post(300, 100)
    assert applier.create_transfers([full], TS) == [S.CREATED]
    assert applier.changes().transfers[0].amount == 10
    again = [full, full._replace(amount=10), full._replace(debit_account_id=1, asset="USD")]
    assert applier.create_transfers(again, TS + 1) == [S.EXISTS] * 3
    assert applier.create_transfers([post(301, 100, 1)], TS + 4) == [
        S.PENDING_TRANSFER_ALREADY_POSTED
    ]


def test_expiry_releases_the_reserve_and_reopens_a_closing_account() -> None:
    view = base_view()
    applier = BatchApplier(view)
    due = [view.pending[105], view.pending[108]._replace(expires_at=TS)]
    assert applier.expire(due, TS) == 2
    changes = applier.changes()
    assert changes.pending[105] == PendingState(105, PendingStatus.EXPIRED, due[0].expires_at, TS)
    assert changes.accounts[1] == ACCOUNTS[0]._replace(debits_pending=190)
    assert changes.accounts[9] == ACCOUNTS[7]._replace(flags=0, debits_pending=0)
    # Already resolved: nothing to expire, no timestamp used.
    assert BatchApplier(view).expire([view.pending[102]], TS) == 0
    assert applier.create_transfers([post(300, 105)], TS + 2) == [S.PENDING_TRANSFER_EXPIRED]


def test_void_of_the_closing_transfer_reopens_the_account() -> None:
    applier = BatchApplier(base_view())
    assert applier.create_transfers([tr(300, 9, 2, 1)], TS) == [S.DEBIT_ACCOUNT_ALREADY_CLOSED]
    assert applier.create_transfers([void(301, 108), tr(302, 9, 2, 1)], TS + 1) == [S.CREATED] * 2
    assert applier.changes().accounts[9].flags == 0


def test_closing_transfer_closes_its_accounts() -> None:
    applier = BatchApplier(base_view())
    closing = tr(300, 1, 2, 0, flags=PENDING | CLOSE_DR | CLOSE_CR | BAL_DR)
    assert applier.create_transfers([closing, tr(301, 1, 4, 1), tr(302, 4, 2, 1)], TS) == [
        S.CREATED,
        S.DEBIT_ACCOUNT_ALREADY_CLOSED,
        S.CREDIT_ACCOUNT_ALREADY_CLOSED,
    ]
    changes = applier.changes()
    assert changes.accounts[1].flags == CLOSED
    assert changes.accounts[2].flags == CLOSED


def test_balancing_moves_at_most_what_the_limits_allow() -> None:
    view = base_view()
    wallet = acct(20, flags=DMNEC, credits_posted=30, debits_pending=5, debits_posted=10)
    receivable = acct(21, flags=CMNED, debits_posted=8, credits_posted=2)
    view = LedgerView({**view.accounts, 20: wallet, 21: receivable}, view.transfers, view.pending)
    applier = BatchApplier(view)
    events = [
        tr(300, 20, 2, 100, flags=BAL_DR),  # 15 available
        tr(301, 20, 2, 100, flags=BAL_DR),  # nothing left: moves 0
        tr(302, 1, 21, 4, flags=BAL_CR),  # 6 allowed, 4 asked
        tr(303, 1, 21, AMOUNT_MAX, flags=BAL_CR | PENDING),  # the remaining 2
        tr(304, 1, 21, 1),  # plain: refused
    ]
    assert applier.create_transfers(events, TS) == [S.CREATED] * 4 + [S.EXCEEDS_DEBITS]
    assert [t.amount for t in applier.changes().transfers] == [15, 0, 4, 2]
    # A resubmitted balancing transfer exists if its bound covers what moved.
    again = [events[0]._replace(amount=15), events[0]._replace(amount=14)]
    assert applier.create_transfers(again, TS + 10) == [
        S.EXISTS,
        S.EXISTS_WITH_DIFFERENT_AMOUNT,
    ]


def test_a_post_after_its_expiry_time_is_expired_before_the_sweep() -> None:
    view = base_view()
    expires_at = view.pending[105].expires_at
    assert apply([post(300, 105)], ts=expires_at - 1)[0] == [S.CREATED]
    assert apply([post(300, 105)], ts=expires_at)[0] == [S.PENDING_TRANSFER_EXPIRED]


# ----------------------------------------------------------------------------- chains


def test_failing_chain_leaves_no_trace() -> None:
    view = base_view()
    history = acct(30, flags=HISTORY)
    view = LedgerView({**view.accounts, 30: history}, view.transfers, view.pending, view.failed)
    applier = BatchApplier(view)
    chain = [
        tr(300, 1, 30, 10, flags=LINKED | PENDING, timeout_s=5),
        post(301, 300, 4, flags=LINKED | POST),
        post(302, 100, flags=LINKED | POST),
        tr(303, 30, 2, 1, flags=LINKED),
        tr(304, 1, 98, 1),  # credit_account_not_found: the chain fails here
        tr(305, 1, 2, 1),  # a chain of its own
    ]
    assert applier.create_transfers(chain, TS) == [S.LINKED_EVENT_FAILED] * 4 + [
        S.CREDIT_ACCOUNT_NOT_FOUND,
        S.CREATED,
    ]
    changes = applier.changes()
    assert changes.transfers == [tr(305, 1, 2, 1, timestamp=TS + 5)]
    assert changes.pending == {}
    assert changes.balances == []
    assert changes.failed == {304: (S.CREDIT_ACCOUNT_NOT_FOUND, TS + 4)}
    assert set(changes.accounts) == {1, 2}
    assert changes.accounts[1] == ACCOUNTS[0]._replace(debits_posted=1)
    # The ids of the chain are free: nothing of it happened.
    assert applier.create_transfers([*chain[:4], tr(306, 1, 2, 1)], TS + 10) == [S.CREATED] * 5
    assert applier.create_transfers([chain[4]], TS + 20) == [S.ID_ALREADY_FAILED]


def test_open_chain_is_not_applied() -> None:
    events = [tr(300, 1, 2, 1, flags=LINKED), tr(301, 98, 2, 1, flags=LINKED)]
    statuses, changes = apply(events)
    assert statuses == [S.LINKED_EVENT_FAILED, S.LINKED_EVENT_CHAIN_OPEN]
    assert changes.empty
    assert changes.pending == {}
    # One open event alone, after a complete chain that is applied.
    statuses, changes = apply([tr(300, 1, 2, 1), tr(301, 1, 2, 1, flags=TransferFlags.LINKED)])
    assert statuses == [S.CREATED, S.LINKED_EVENT_CHAIN_OPEN]
    assert [t.id for t in changes.transfers] == [300]


def test_exists_counts_as_success_in_a_chain() -> None:
    chain = [PLAIN_101._replace(flags=LINKED), tr(300, 1, 2, 1)]
    statuses, _ = apply(chain)
    assert statuses == [S.EXISTS_WITH_DIFFERENT_FLAGS, S.LINKED_EVENT_FAILED]
    applier = BatchApplier(base_view())
    chain = [tr(300, 1, 2, 1, flags=TransferFlags.LINKED), tr(301, 1, 2, 1)]
    assert applier.create_transfers(chain, TS) == [S.CREATED, S.CREATED]
    chain.append(tr(302, 1, 2, 1))
    chain[1] = chain[1]._replace(flags=LINKED)
    assert applier.create_transfers(chain, TS + 3) == [
        S.LINKED_EVENT_FAILED,
        S.EXISTS_WITH_DIFFERENT_FLAGS,
        S.LINKED_EVENT_FAILED,
    ]
    resubmitted = [tr(300, 1, 2, 1, flags=LINKED), tr(301, 1, 2, 1)]
    assert applier.create_transfers(resubmitted, TS + 6) == [S.EXISTS, S.EXISTS]
    assert len(applier.changes().transfers) == 2


def test_failing_account_chain_creates_nothing() -> None:
    events = [
        Account(50, "USD", 1, flags=AccountFlags.LINKED),
        Account(51, "USD", 1, flags=LINKED | DMNEC),
        Account(52, "XXX", 1),
        Account(53, "USD", 1),
    ]
    statuses, changes = apply_accounts(events)
    assert statuses == [A.LINKED_EVENT_FAILED, A.LINKED_EVENT_FAILED, A.ASSET_NOT_FOUND, A.CREATED]
    assert [a.id for a in changes.accounts_created] == [53]
    statuses, changes = apply_accounts(events[:2])
    assert statuses == [A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN]
    assert changes.empty


def test_later_requests_of_a_group_see_the_earlier_ones() -> None:
    applier = BatchApplier(base_view())
    assert applier.create_accounts([Account(50, "USD", 1)], TS) == [A.CREATED]
    assert applier.create_transfers([tr(300, 1, 50, 3, flags=PENDING)], TS + 1) == [S.CREATED]
    failing = [post(301, 300, flags=LINKED | POST), tr(302, 50, 98, 1)]
    assert applier.create_transfers(failing, TS + 2) == [
        S.LINKED_EVENT_FAILED,
        S.CREDIT_ACCOUNT_NOT_FOUND,
    ]
    assert applier.create_transfers([post(301, 300)], TS + 4) == [S.CREATED]
    changes = applier.changes()
    assert changes.accounts_created == [Account(50, "USD", 1, credits_posted=3, timestamp=TS)]
    assert changes.pending == {300: PendingState(300, PendingStatus.POSTED, 0, TS + 4)}


# ----------------------------------------------------------------------------- conservation

POOL = [1, 2, 3, 4, 5, 6]


@st.composite
def random_events(draw: Any, pending_ids: list[int]) -> Transfer:
    kind = draw(st.sampled_from(["plain", "plain", "pending", "pending", "post", "void", "bal"]))
    amount = draw(
        st.one_of(
            st.integers(0, 20),
            st.sampled_from([HALF, HALF + 1, AMOUNT_MAX, AMOUNT_MAX - 1, AMOUNT_MAX - 20]),
        )
    )
    flags = draw(st.sampled_from([0, 0, 0, LINKED]))
    transfer_id = draw(st.integers(1, 40))
    if kind in ("post", "void") and pending_ids:
        pending_id = draw(st.sampled_from(pending_ids))
        amount = draw(st.sampled_from([0, amount, AMOUNT_POST_FULL]))
        flags |= POST if kind == "post" else VOID
        return post(transfer_id, pending_id, amount, flags=flags)
    dr = draw(st.sampled_from(POOL))
    cr = draw(st.sampled_from(POOL))
    if kind == "pending":
        flags |= PENDING | draw(st.sampled_from([0, 0, 0, BAL_DR, CLOSE_DR, CLOSE_CR]))
        pending_ids.append(transfer_id)
    if kind == "bal":
        flags |= draw(st.sampled_from([BAL_DR, BAL_CR, BAL_DR | BAL_CR]))
    timeout_s = draw(st.sampled_from([0, 1])) if flags & PENDING else 0
    return tr(transfer_id, dr, cr, amount, flags=flags, timeout_s=timeout_s)


@st.composite
def groups(draw: Any) -> tuple[list[Account], list[list[Transfer]]]:
    flags = draw(st.lists(st.sampled_from([0, 0, DMNEC, CMNED, HISTORY]), min_size=6, max_size=6))
    accounts = [
        Account(i, "USD" if i < 5 else "EUR", 1, f) for i, f in zip(POOL, flags, strict=True)
    ]
    pending_ids: list[int] = []
    batches = draw(st.lists(st.lists(random_events(pending_ids), max_size=8), max_size=4))
    return accounts, batches


def _final_accounts(view: LedgerView, changes: Changes) -> dict[int, Account]:
    final = dict(view.accounts)
    final.update((a.id, a) for a in changes.accounts_created)
    final.update(changes.accounts)
    return final


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups())
def test_random_batches_conserve_money(group: tuple[list[Account], list[list[Transfer]]]) -> None:
    accounts, batches = group
    view = LedgerView()
    applier = BatchApplier(view)
    timestamp = T0
    assert applier.create_accounts(accounts, timestamp) == [A.CREATED] * len(accounts)
    timestamp += len(accounts)
    for index, batch in enumerate(batches):
        statuses = applier.create_transfers(batch, timestamp)
        assert len(statuses) == len(batch)
        timestamp += len(batch)
        if index == 1:  # a sweep in the middle of the group: everything with a timeout
            due = [s for s in applier.changes().pending.values() if s.expires_at]
            timestamp += applier.expire(due, timestamp)
    changes = applier.changes()
    final = _final_accounts(view, changes)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for a in final.values():
        fields = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        assert all(0 <= v <= AMOUNT_MAX for v in fields), a
        assert a.debits_pending + a.debits_posted <= AMOUNT_MAX, a
        assert a.credits_pending + a.credits_posted <= AMOUNT_MAX, a
        if a.flags & DMNEC:
            assert a.debits_pending + a.debits_posted <= a.credits_posted, a
        if a.flags & CMNED:
            assert a.credits_pending + a.credits_posted <= a.debits_posted, a
        for i, v in enumerate(fields):
            totals[a.asset][i] += v
    for asset, (dp, dpo, cp, cpo) in totals.items():
        assert dpo == cpo, asset
        assert dp == cp, asset
    # Every balance is the sum of the transfers that make it.
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for t in changes.transfers:
        if t.flags & PENDING:
            if changes.pending[t.id].status is PendingStatus.PENDING:
                expected[t.debit_account_id][0] += t.amount
                expected[t.credit_account_id][2] += t.amount
        elif not t.flags & VOID:
            expected[t.debit_account_id][1] += t.amount
            expected[t.credit_account_id][3] += t.amount
    for a in final.values():
        got = [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted]
        assert got == expected[a.id], a
    # History rows: the last one of each account is its balance.
    last = {b.account_id: b for b in changes.balances}
    for account_id, row in last.items():
        a = final[account_id]
        assert a.flags & HISTORY
        assert (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted) == (
            a.debits_pending,
            a.debits_posted,
            a.credits_pending,
            a.credits_posted,
        )
    timestamps = [t.timestamp for t in changes.transfers]
    assert timestamps == sorted(set(timestamps))


# ----------------------------------------------------------------------------- garbage

ABOVE: dict[str, int] = {
    "id": ID_MAX,
    "debit_account_id": ID_MAX,
    "credit_account_id": ID_MAX,
    "amount": AMOUNT_MAX,
    "code": CODE_MAX,
    "pending_id": ID_MAX,
    "timeout_s": TIMEOUT_MAX_S,
    "user_data": USER_DATA_MAX,
}
junk_values = st.one_of(
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=2),
    st.lists(st.integers(), max_size=2),
    st.builds(Decimal, st.integers(0, 10)),
    st.builds(object),
)
not_strings = junk_values.filter(lambda v: type(v) is not str)


def _bad_value(draw: Any, name: str, above: dict[str, int]) -> Any:
    """A value field ``name`` must not hold: junk, negative or above its maximum for an
    integer field, not text or too long for the asset, junk or negative for the flags."""
    if name in above:
        return draw(
            st.one_of(
                junk_values,
                st.integers(max_value=-1),
                st.integers(min_value=above[name] + 1, max_value=2**80),
            )
        )
    if name == "asset":
        return draw(st.one_of(not_strings, st.text(min_size=13)))
    if name == "flags":
        return draw(st.one_of(junk_values, st.integers(max_value=-1)))
    return draw(junk_values)


@st.composite
def malformed_transfers(draw: Any) -> Transfer:
    event = tr(300, 1, 2, 5, flags=draw(st.sampled_from([0, LINKED])))
    name = draw(st.sampled_from([*ABOVE, "asset", "flags", "timestamp"]))
    return event._replace(**{name: _bad_value(draw, name, ABOVE)})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(malformed_transfers(), min_size=1, max_size=4))
def test_malformed_transfers_are_refused_never_raised(events: list[Transfer]) -> None:
    statuses, changes = apply([*events, tr(399, 1, 2, 5)])
    # Each is malformed, or fails with a malformed event of its chain; the last event is
    # applied unless a malformed event linked it into its chain.
    assert S.MALFORMED in statuses
    assert set(statuses[:-1]) <= {S.MALFORMED, S.LINKED_EVENT_FAILED}
    assert statuses[-1] in (S.CREATED, S.LINKED_EVENT_FAILED)
    assert [t.id for t in changes.transfers] == ([399] if statuses[-1] is S.CREATED else [])
    assert changes.failed == {}
    assert changes.pending == {}


class NotATransfer(NamedTuple):
    id: int = 300
    debit_account_id: int = 1
    credit_account_id: int = 2
    amount: int = 5
    asset: str = "USD"
    code: int = 1
    flags: int = 0
    pending_id: int = 0
    timeout_s: int = 0
    user_data: int = 0
    timestamp: int = 0


NOT_EVENTS: list[Callable[[], object]] = [
    lambda: None,
    lambda: 300,
    lambda: "tr_300",
    lambda: b"300",
    lambda: 3.0,
    lambda: {"id": 300, "flags": 0},
    lambda: [300],
    lambda: tuple(tr(300, 1, 2, 5)),
    NotATransfer,
    lambda: SimpleNamespace(**tr(300, 1, 2, 5)._asdict()),
    lambda: Account(300, "USD", 1),
    object,
]


@pytest.mark.parametrize("make", NOT_EVENTS)
def test_objects_that_are_not_transfers_are_malformed(make: Callable[[], object]) -> None:
    statuses, changes = apply([make(), tr(301, 1, 2, 5)])
    assert statuses == [S.MALFORMED, S.CREATED]
    assert changes.failed == {}
    assert [t.id for t in changes.transfers] == [301]


@pytest.mark.parametrize("make", NOT_EVENTS)
def test_objects_that_are_not_accounts_are_malformed(make: Callable[[], object]) -> None:
    thing = make()
    if isinstance(thing, Account):
        thing = tr(300, 1, 2, 5)
    statuses, _ = apply_accounts([thing, Account(50, "USD", 1)])
    assert statuses == [A.MALFORMED, A.CREATED]


def test_a_malformed_flags_field_links_nothing() -> None:
    events = [tr(300, 1, 2, 5, flags=-1), tr(301, 1, 2, 5, flags=1.0), tr(302, 1, 2, 5)]
    assert apply(events)[0] == [S.MALFORMED, S.MALFORMED, S.CREATED]
    # A malformed event whose flags are well formed does link: its chain fails.
    events = [tr(300, 1, 2, -5, flags=LINKED), tr(301, 1, 2, 5)]
    assert apply(events)[0] == [S.MALFORMED, S.LINKED_EVENT_FAILED]


def test_flags_above_the_known_ones_are_reserved_not_malformed() -> None:
    statuses, _ = apply([tr(300, 1, 2, 5, flags=2**70), tr(301, 1, 2, 5, flags=1 << 8)])
    assert statuses == [S.RESERVED_FLAG, S.RESERVED_FLAG]


ACCOUNT_ABOVE = {"id": ID_MAX, "code": CODE_MAX, "user_data": USER_DATA_MAX}


@st.composite
def malformed_accounts(draw: Any) -> Account:
    event = Account(50, "USD", 1, flags=draw(st.sampled_from([0, LINKED])))
    name = draw(st.sampled_from([*ACCOUNT_ABOVE, "asset", "flags", "balance", "timestamp"]))
    value = _bad_value(draw, name, ACCOUNT_ABOVE)
    name = "credits_posted" if name == "balance" else name
    return event._replace(**{name: value})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(malformed_accounts(), min_size=1, max_size=4))
def test_malformed_accounts_are_refused_never_raised(events: list[Account]) -> None:
    statuses, changes = apply_accounts([*events, Account(99, "USD", 1)])
    assert A.MALFORMED in statuses
    assert set(statuses[:-1]) <= {A.MALFORMED, A.LINKED_EVENT_FAILED}
    assert statuses[-1] in (A.CREATED, A.LINKED_EVENT_FAILED)
    created = [a.id for a in changes.accounts_created]
    assert created == ([99] if statuses[-1] is A.CREATED else [])


# ----------------------------------------------------------------------------- TigerBeetle
#
# Cases where an earlier engine departed from TigerBeetle's semantics (state_machine.zig),
# which DESIGN.md adopts and tests/ledger/reference.py models; fixed, and pinned here.


def test_post_full_resubmitted_after_a_partial_post_is_a_different_event() -> None:
    applier = BatchApplier(base_view())
    assert applier.create_transfers([post(300, 100, 4)], TS) == [S.CREATED]
    statuses = applier.create_transfers([post(300, 100, AMOUNT_POST_FULL)], TS + 1)
    assert statuses == [S.EXISTS_WITH_DIFFERENT_AMOUNT]


def test_resolution_resubmitted_without_user_data_is_a_different_event() -> None:
    applier = BatchApplier(base_view())
    assert applier.create_transfers([post(300, 100, user_data=7)], TS) == [S.CREATED]
    statuses = applier.create_transfers([post(300, 100)], TS + 1)
    assert statuses == [S.EXISTS_WITH_DIFFERENT_USER_DATA]


def test_the_closing_transfer_cannot_be_posted() -> None:
    statuses, changes = apply([post(300, 108)])
    assert statuses == [S.DEBIT_ACCOUNT_ALREADY_CLOSED]
    assert changes.transfers == []


def test_void_above_the_reserve_exceeds_the_pending_amount() -> None:
    assert apply([void(300, 100, 11)])[0] == [S.EXCEEDS_PENDING_TRANSFER_AMOUNT]


def test_pending_transfer_that_could_not_be_posted_overflows_posted() -> None:
    assert apply([tr(300, 12, 2, 10, flags=PENDING)])[0] == [S.OVERFLOWS_DEBITS_POSTED]


# ------------------------------------------------------------------ the names a batch reads


def _reference_names(events: list[object]) -> tuple[set[int], set[int], set[int]]:
    """What the writer must read for a batch, written plainly: the ids of the exact
    Transfer records that are ints in 1..ID_MAX (no bool, nothing else)."""

    def valid(value: object) -> bool:
        return type(value) is int and 0 < value <= ID_MAX

    records = [event for event in events if type(event) is Transfer]
    return (
        {t[0] for t in records if valid(t[0])},
        {t[7] for t in records if valid(t[7])},
        {t[i] for t in records for i in (1, 2) if valid(t[i])},
    )


edge_ids = st.one_of(
    st.integers(1, 40),
    st.sampled_from([0, -1, 1, ID_MAX, ID_MAX + 1, 2**63, 2**80, True, False]),
    junk_values,
)


@st.composite
def named_events(draw: Any) -> object:
    kind = draw(st.sampled_from(["transfer", "transfer", "malformed", "not"]))
    if kind == "not":
        return draw(st.sampled_from(NOT_EVENTS))()
    if kind == "malformed":
        return draw(malformed_transfers())
    return tr(
        draw(edge_ids),
        draw(edge_ids),
        draw(edge_ids),
        5,
        pending_id=draw(st.one_of(st.just(0), edge_ids)),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(named_events(), max_size=12))
def test_transfer_names_are_the_valid_ids_of_the_records(
    core: ModuleType, events: list[object]
) -> None:
    assert core.transfer_names(events) == _reference_names(events)


# ----------------------------------------------------------------------------- rolled-back chains
# Accounts change in place during a group; a failed chain restores every state it saved, last
# first. These pin what that must leave behind, on both routes.


def _chain_applier() -> tuple[BatchApplier, dict[int, Account]]:
    stored_accounts = {
        1: acct(1, flags=DMNEC | HISTORY, credits_posted=100),
        2: acct(2, flags=HISTORY),
        3: acct(3),
    }
    return BatchApplier(LedgerView(dict(stored_accounts))), stored_accounts


def _moving_chain(first_id: int) -> list[Transfer]:
    """Seven linked events that move account 1 five times, the last refused (exceeds
    credits: 1 moves 151 or more against its 150 of credits then)."""
    i = first_id
    return [
        tr(i, 1, 2, 10, flags=LINKED | PENDING | CLOSE_DR, timeout_s=1),
        void(i + 1, i, flags=LINKED | VOID),
        tr(i + 2, 1, 3, 50, flags=LINKED),
        tr(i + 3, 3, 1, 50, flags=LINKED),
        tr(i + 4, 1, 2, 40, flags=LINKED | PENDING),
        post(i + 5, i + 4, flags=LINKED | POST),
        tr(i + 6, 1, 2, 61),
    ]


def test_rolled_back_chain_leaves_changed_accounts_as_before_it() -> None:
    applier, stored_accounts = _chain_applier()
    assert applier.create_transfers([tr(10, 1, 2, 5)], TS) == [S.CREATED]
    before = {i: applier.account(i) for i in stored_accounts}
    statuses = applier.create_transfers(_moving_chain(11), TS + 1)
    assert statuses == [S.LINKED_EVENT_FAILED] * 6 + [S.EXCEEDS_CREDITS]
    assert {i: applier.account(i) for i in stored_accounts} == before
    # Moved only by the failed chain: back to the stored record itself, not a copy of it.
    assert applier.account(3) is stored_accounts[3]
    changes = applier.changes()
    # 1 and 2 changed before the chain and stay; 3 only the failed chain touched drops out.
    assert set(changes.accounts) == {1, 2}
    assert changes.accounts[1].debits_posted == 5
    assert [t.id for t in changes.transfers] == [10]
    assert changes.pending == {}
    assert [(b.account_id, b.timestamp) for b in changes.balances] == [(1, TS), (2, TS)]


def test_account_moved_only_by_a_failed_chain_drops_out_of_changes() -> None:
    applier, stored_accounts = _chain_applier()
    statuses = applier.create_transfers(_moving_chain(11), TS)
    assert statuses[-1] is S.EXCEEDS_CREDITS
    for i in stored_accounts:
        assert applier.account(i) is stored_accounts[i]
    changes = applier.changes()
    assert changes.accounts == {}
    assert changes.balances == []
    assert changes.empty is False  # the refused id is remembered (11-16 fail with it)
    assert 17 in changes.failed


def test_account_created_in_the_group_goes_back_to_its_creation_record() -> None:
    applier = BatchApplier(LedgerView({1: acct(1, credits_posted=100)}))
    new = acct(4, flags=HISTORY)._replace(timestamp=0)
    assert applier.create_accounts([new], TS) == [A.CREATED]
    created = applier.account(4)
    assert created == new._replace(timestamp=TS)
    chain = [tr(11, 1, 4, 30, flags=LINKED), tr(12, 4, 1, 10, flags=LINKED), tr(13, 4, 6, 1)]
    assert applier.create_transfers(chain, TS + 1) == [
        S.LINKED_EVENT_FAILED,
        S.LINKED_EVENT_FAILED,
        S.CREDIT_ACCOUNT_NOT_FOUND,
    ]
    assert applier.account(4) == created
    assert applier.account(1) == acct(1, credits_posted=100)
    changes = applier.changes()
    assert changes.accounts_created == [created]
    assert changes.accounts == {}
    assert changes.balances == []


def test_account_flags_are_ints_on_both_routes() -> None:
    applier = BatchApplier(
        LedgerView({1: acct(1, flags=AccountFlags.HISTORY), 2: acct(2, flags=AccountFlags(0))})
    )
    assert applier.create_transfers([tr(10, 1, 2, 5)], TS) == [S.CREATED]
    changes = applier.changes()
    assert {type(a.flags) for a in changes.accounts.values()} == {int}
