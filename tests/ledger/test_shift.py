"""Moving a group's timestamps (``centime.ledger.shift``): a group applied on provisional
timestamps and then shifted equals the same group applied on the later timestamps from the
start, unless a stored pending transfer's expiry falls between, which
``expiry_decision_may_change`` reports."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from centime.ledger.core import BatchApplier, Changes, LedgerView
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
from centime.ledger.shift import expiry_decision_may_change, shifted

ASSET = "USD"
CODE = 1
NS = 1_000_000_000
BASE = 1_800_000_000 * NS
S = CreateTransferStatus

HISTORY = int(AccountFlags.HISTORY)
LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)


def _stored() -> LedgerView:
    """Accounts 1 (history) and 2 (limited, holding 500), a stored pending transfer 50 from
    1 to 2 expiring at BASE + 10 s, and one 51 that never expires, both due to be posted."""
    one = Account(1, ASSET, CODE, HISTORY, 0, 30, 500, 0, 0, BASE - 100)
    two = Account(2, ASSET, CODE, LIMITED, 0, 0, 0, 30, 500, BASE - 99)
    held = Transfer(50, 1, 2, 20, ASSET, CODE, PENDING, 0, 10, 0, BASE - 50)
    forever = Transfer(51, 1, 2, 10, ASSET, CODE, PENDING, 0, 0, 0, BASE - 49)
    return LedgerView(
        accounts={1: one, 2: two},
        transfers={50: held, 51: forever},
        pending={
            50: PendingState(50, PendingStatus.PENDING, BASE - 50 + 10 * NS),
            51: PendingState(51, PendingStatus.PENDING, 0),
        },
    )


def _group(applier: BatchApplier, first: int) -> list[Sequence[object]]:
    """Accounts created, transfers, a pending one created and posted in the group, posts
    of the stored ones, a refusal that leaves its id failed: one timestamp each."""
    accounts = [Account(3, ASSET, CODE, HISTORY), Account(4, ASSET, CODE)]
    transfers = [
        Transfer(100, 1, 3, 7, ASSET, CODE),
        Transfer(101, 3, 4, 5, ASSET, CODE, PENDING, timeout_s=60),
        Transfer(102, 0, 0, AMOUNT_POST_FULL, "", 0, POST, pending_id=101),
        Transfer(103, 2, 4, 10**6, ASSET, CODE),  # exceeds the limited account's credits
        Transfer(104, 0, 0, AMOUNT_POST_FULL, "", 0, POST, pending_id=50),
        Transfer(105, 0, 0, AMOUNT_POST_FULL, "", 0, POST, pending_id=51),
        Transfer(106, 4, 1, 1, ASSET, CODE, PENDING, timeout_s=5),  # stays pending
    ]
    return [
        applier.create_accounts(accounts, first),
        applier.create_transfers(transfers, first + len(accounts)),
    ]


def _applied(first: int) -> tuple[list[Sequence[object]], Changes]:
    applier = BatchApplier(_stored())
    results = _group(applier, first)
    return results, applier.changes()


@pytest.mark.parametrize("delta", [1, 9, 3 * NS])
def test_a_shifted_group_equals_the_group_applied_later(delta: int) -> None:
    results, early = _applied(BASE)
    later_results, later = _applied(BASE + delta)
    assert results == later_results
    assert S.CREATED in results[1] and S.EXCEEDS_CREDITS in results[1]
    moved = shifted(early, delta)
    assert moved.accounts_created == later.accounts_created
    assert moved.accounts == later.accounts
    assert moved.transfers == later.transfers
    assert moved.pending == later.pending
    assert moved.failed == later.failed
    assert moved.balances == later.balances
    assert later.balances and later.failed and later.pending  # the test covers them
    assert not expiry_decision_may_change(_stored().pending.values(), BASE, BASE + delta, 9)


def test_no_shift_is_the_same_changes() -> None:
    _, changes = _applied(BASE)
    assert shifted(changes, 0) is changes
    with pytest.raises(ValueError):
        shifted(changes, -1)


def test_no_shift_changes_no_expiry_decision() -> None:
    """A stored pending transfer expiring inside the group's own timestamps is decided the
    same way when nothing moves: no retry (a retry would find the same and fail the group)."""
    expiry = _stored().pending[50].expires_at
    first = expiry - 20
    assert not expiry_decision_may_change(_stored().pending.values(), first, first, 9)
    assert expiry_decision_may_change(_stored().pending.values(), first, first + 1, 30)


def test_an_expiry_between_the_two_starts_is_reported() -> None:
    """Posting the stored pending transfer 50 before its expiry succeeds; moved past it, the
    same post answers expired: the shift would change the decision, and is reported."""
    expiry = _stored().pending[50].expires_at
    first = expiry - 20  # the post of 50 is the 7th event: at expiry - 14, before it
    results, _ = _applied(first)
    later_results, _ = _applied(first + 100)
    assert results[1][4] is S.CREATED
    assert later_results[1][4] is S.PENDING_TRANSFER_EXPIRED
    assert expiry_decision_may_change(_stored().pending.values(), first, first + 100, 9)
