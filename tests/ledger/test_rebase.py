"""Moving a group's changes onto accounts other writers changed (``centime.ledger.rebase``):
whenever :func:`rebased` accepts, its result equals the core run from the start on the
accounts as they are now (same statuses, same final accounts, same balance rows); and it
accepts the case the payments rely on (others only added money: plain transfers, no
failure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from centime.ledger.core import BatchApplier, Changes, LedgerView
from centime.ledger.model import (
    Account,
    AccountFlags,
    CreateTransferStatus,
    Transfer,
    TransferFlags,
)
from centime.ledger.rebase import rebased

ASSET = "USD"
CODE = 1
BASE = 1_800_000_000_000_000_000
HISTORY = int(AccountFlags.HISTORY)
LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CAPPED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
ACCOUNTS = (1, 2, 3, 4)

_flags = st.sampled_from([0, HISTORY, LIMITED, LIMITED | HISTORY, CAPPED])
_balance = st.integers(0, 2_000)


@st.composite
def _account(draw: st.DrawFn, account_id: int) -> Account:
    dpo, cpo = draw(_balance), draw(_balance)
    flags = draw(_flags)
    if flags & LIMITED:
        cpo = max(cpo, dpo)
    if flags & CAPPED:
        dpo = max(dpo, cpo)
    return Account(account_id, ASSET, CODE, flags, 0, 0, dpo, 0, cpo, BASE - 10)


@st.composite
def _moved(draw: st.DrawFn, before: Account) -> Account:
    """What another writer made of the account: posted money added on either side, and
    sometimes some pending (never past a limit the account keeps)."""
    dpo = before.debits_posted + draw(st.integers(0, 500))
    cpo = before.credits_posted + draw(st.integers(0, 500))
    dp = draw(st.sampled_from([0, 0, 0, 7]))
    if before.flags & LIMITED:
        cpo = max(cpo, dpo + dp)
    if before.flags & CAPPED:
        dpo = max(dpo, cpo)
    return before._replace(debits_pending=dp, debits_posted=dpo, credits_posted=cpo)


_transfer_flags = st.sampled_from([0, 0, 0, int(TransferFlags.LINKED), int(TransferFlags.PENDING)])


@st.composite
def _transfers(draw: st.DrawFn) -> list[Transfer]:
    out = []
    for n in range(draw(st.integers(1, 6))):
        debit = draw(st.sampled_from(ACCOUNTS))
        credit = draw(st.sampled_from([a for a in ACCOUNTS if a != debit]))
        amount = draw(st.integers(1, 1_500))
        out.append(Transfer(100 + n, debit, credit, amount, ASSET, CODE, draw(_transfer_flags)))
    if out and out[-1].flags & TransferFlags.LINKED:
        out[-1] = out[-1]._replace(flags=0)
    return out


def _run(accounts: dict[int, Account], transfers: list[Transfer]) -> tuple[list[object], Changes]:
    applier = BatchApplier(LedgerView(dict(accounts)))
    statuses: list[object] = list(applier.create_transfers(transfers, BASE))
    return statuses, applier.changes()


@given(st.data())
def test_an_accepted_rebase_equals_the_core_on_the_accounts_as_they_are_now(
    data: st.DataObject,
) -> None:
    read = {i: data.draw(_account(i)) for i in ACCOUNTS}
    now = {i: data.draw(st.one_of(st.just(a), _moved(a))) for i, a in read.items()}
    transfers = data.draw(_transfers())
    statuses, changes = _run(read, transfers)
    moved = rebased(changes, read, now)
    if moved is None:
        return
    statuses_now, changes_now = _run(now, transfers)
    assert statuses_now == statuses
    assert moved.accounts == changes_now.accounts
    assert moved.balances == changes_now.balances
    assert moved.transfers == changes_now.transfers


@given(st.data())
def test_money_added_meanwhile_under_plain_transfers_is_always_accepted(
    data: st.DataObject,
) -> None:
    read = {i: data.draw(_account(i)) for i in ACCOUNTS}
    now = {
        i: a._replace(credits_posted=a.credits_posted + data.draw(st.integers(0, 500)))
        for i, a in read.items()
    }
    transfers = [t._replace(flags=0) for t in data.draw(_transfers())]
    statuses, changes = _run(read, transfers)
    if any(s is not CreateTransferStatus.CREATED for s in statuses):
        return
    if any(a.flags & CAPPED and a.credits_posted != read[i].credits_posted for i, a in now.items()):
        return  # credits added to a capped account shrink what it may be credited
    moved = rebased(changes, read, now)
    assert moved is not None
    statuses_now, changes_now = _run(now, transfers)
    assert statuses_now == statuses and moved.accounts == changes_now.accounts


def test_nothing_moved_is_the_changes_themselves() -> None:
    read = {1: Account(1, ASSET, CODE), 2: Account(2, ASSET, CODE)}
    _, changes = _run(read, [Transfer(9, 1, 2, 5, ASSET, CODE)])
    assert rebased(changes, read, read) is changes


def test_a_failed_event_or_shrunk_slack_is_refused() -> None:
    limited = Account(1, ASSET, CODE, LIMITED, 0, 0, 0, 0, 100, BASE - 10)
    other = Account(2, ASSET, CODE, 0, 0, 0, 0, 0, 0, BASE - 10)
    read = {1: limited, 2: other}
    _, changes = _run(read, [Transfer(9, 1, 2, 60, ASSET, CODE)])
    shrunk = {1: limited._replace(debits_posted=50), 2: other}
    assert rebased(changes, read, shrunk) is None  # 60 more would pass 100 now
    _, failing = _run(read, [Transfer(9, 1, 2, 160, ASSET, CODE)])
    grown = {1: limited._replace(credits_posted=200), 2: other}
    assert rebased(failing, read, grown) is None  # it would pass now
