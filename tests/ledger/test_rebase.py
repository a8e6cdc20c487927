"""Moving a group's changes onto accounts other writers changed (``centime.ledger.rebase``):
whenever :func:`rebased` accepts, its result equals the core run from the start on the
accounts as they are now (same statuses, same final accounts, same balance rows); and it
accepts the cases the payments rely on (others added money, or took some but left the
group's need: plain transfers, no failure); :func:`limit_needs` is the exact condition on a
new base; :func:`bounds_hold` moves what a unit saw as the base moved."""

from __future__ import annotations

from collections.abc import Sequence

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
from centime.ledger.rebase import AvailableBound, bounds_hold, limit_needs, rebased

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
    dpo = before.debits_posted + draw(st.integers(0, 1_500))
    cpo = before.credits_posted + draw(st.integers(0, 1_500))
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


_SUCCESS = (CreateTransferStatus.CREATED, CreateTransferStatus.EXISTS)


def _refused(statuses: list[object]) -> bool:
    return any(s not in _SUCCESS for s in statuses)


@given(st.data())
def test_an_accepted_rebase_equals_the_core_on_the_accounts_as_they_are_now(
    data: st.DataObject,
) -> None:
    read = {i: data.draw(_account(i)) for i in ACCOUNTS}
    now = {i: data.draw(st.one_of(st.just(a), _moved(a))) for i, a in read.items()}
    transfers = data.draw(_transfers())
    statuses, changes = _run(read, transfers)
    moved = rebased(changes, read, now, refused=_refused(statuses))
    statuses_now, changes_now = _run(now, transfers)
    if statuses_now != statuses:
        assert moved is None  # the core decides some event otherwise now: never accepted
    if moved is None:
        return
    assert statuses_now == statuses
    assert moved.accounts == changes_now.accounts
    assert moved.balances == changes_now.balances
    assert moved.transfers == changes_now.transfers
    assert moved.failed == changes_now.failed and moved.pending == changes_now.pending
    assert moved.accounts_created == changes_now.accounts_created


@given(st.data())
def test_plain_transfers_are_accepted_exactly_when_the_core_decides_the_same(
    data: st.DataObject,
) -> None:
    """Without pending or failed events, the need is exact: the rebase refuses only a base
    on which the core would refuse some step (or a total would overflow)."""
    read = {i: data.draw(_account(i)) for i in ACCOUNTS}
    now = {
        i: data.draw(st.one_of(st.just(a), _moved(a)))._replace(debits_pending=0)
        for i, a in read.items()
    }
    transfers = [
        t._replace(flags=t.flags & int(TransferFlags.LINKED)) for t in data.draw(_transfers())
    ]
    statuses, changes = _run(read, transfers)
    if _refused(statuses):
        return
    moved = rebased(changes, read, now)
    statuses_now, changes_now = _run(now, transfers)
    if statuses_now == statuses:
        assert moved is not None and moved.accounts == changes_now.accounts
        assert moved.balances == changes_now.balances
    else:
        assert moved is None


def _every_step_holds(
    transfers: Sequence[Transfer], account: int, slack: int, *, spent_by_debits: bool
) -> bool:
    """Whether ``account``'s room, ``slack`` at first, stays >= 0 at every step: spent by
    its debits (or its credits) and regained by the other side, in order."""
    room, holds = slack, True
    for t in transfers:
        spends, regains = t.debit_account_id, t.credit_account_id
        if not spent_by_debits:
            spends, regains = regains, spends
        if spends == account:
            room -= t.amount
            holds = holds and room >= 0
        if regains == account:
            room += t.amount
    return holds


@given(
    st.lists(
        st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(1, 900)),
        max_size=8,
    ),
    st.integers(-3_000, 3_000),
)
def test_the_need_is_the_least_slack_every_debit_step_holds_on(
    steps: list[tuple[int, int, int]], slack: int
) -> None:
    transfers = [
        Transfer(100 + n, dr, cr, amount, ASSET, CODE)
        for n, (dr, cr, amount) in enumerate(steps)
        if dr != cr
    ]
    needs = limit_needs(transfers, ACCOUNTS)
    for account in ACCOUNTS:
        every_debit_holds = _every_step_holds(transfers, account, slack, spent_by_debits=True)
        # The symmetric side: what may still be credited.
        every_credit_holds = _every_step_holds(transfers, account, slack, spent_by_debits=False)
        debit_need, credit_need = needs.get(account, (None, None))
        assert every_debit_holds == (debit_need is None or slack >= debit_need)
        assert every_credit_holds == (credit_need is None or slack >= credit_need)


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


def test_a_payer_debited_meanwhile_is_accepted_while_its_slack_covers_the_group() -> None:
    payer = Account(1, ASSET, CODE, LIMITED, 0, 0, 0, 0, 1_000, BASE - 10)
    shop = Account(2, ASSET, CODE, 0, 0, 0, 0, 0, 0, BASE - 10)
    read = {1: payer, 2: shop}
    _, changes = _run(
        read, [Transfer(9, 1, 2, 300, ASSET, CODE), Transfer(10, 1, 2, 200, ASSET, CODE)]
    )
    spent = {1: payer._replace(debits_posted=500), 2: shop._replace(credits_posted=500)}
    moved = rebased(changes, read, spent)
    assert moved is not None
    assert moved.accounts[1].debits_posted == 1_000 and moved.accounts[2].credits_posted == 1_000
    overspent = {1: payer._replace(debits_posted=501), 2: shop}
    assert rebased(changes, read, overspent) is None  # the second step would pass 1,000


def test_a_refused_event_is_never_moved() -> None:
    read = {1: Account(1, ASSET, CODE), 2: Account(2, ASSET, CODE)}
    _, changes = _run(read, [Transfer(9, 1, 2, 5, ASSET, CODE)])
    now = {1: read[1]._replace(credits_posted=7), 2: read[2]}
    assert rebased(changes, read, now) is not None
    assert rebased(changes, read, now, refused=True) is None


def test_a_bound_moves_with_the_base() -> None:
    read = {1: Account(1, ASSET, CODE, LIMITED, 0, 0, 0, 0, 1_000, BASE - 10)}
    now = {1: read[1]._replace(debits_posted=400)}  # available 1,000 -> 600
    assert bounds_hold([AvailableBound(1, 900, 500, None)], read, now)  # 900 -> 500
    assert not bounds_hold([AvailableBound(1, 900, 501, None)], read, now)
    assert bounds_hold([AvailableBound(1, 900, None, 500)], read, now)
    assert not bounds_hold([AvailableBound(1, 900, None, 499)], read, now)
    assert not bounds_hold([AvailableBound(2, 0, None, None)], read, now)  # never read


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
