"""Moving a group's timestamps later, once the store has reserved the real ones.

On a store whose writers overlap (``centime.ledger.port.OverlappingWrites``: PostgreSQL
with several processes) the engine runs the core on provisional timestamps, the ones the
store would hand out if nobody else committed meanwhile, and reserves the real ones only
afterwards, under the clock row's lock. When another writer committed in between, the real
ones are later by some ``delta`` and everything the core stamped moves by it.

The core's decisions do not depend on where its timestamps start, with one exception: a
post or void of a stored pending transfer checks the transfer's expiry against its own
timestamp. :func:`expiry_decision_may_change` tells when a shift could change that answer;
the engine then runs the group again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .core import TIMESTAMP_MAX, Changes
from .model import Account, AccountBalance, PendingState, Transfer

__all__ = ["expiry_decision_may_change", "shifted"]

# Records built with tuple.__new__, as the core builds them (skips the NamedTuple's
# Python-level __new__; a group holds up to 8189 transfers).
_new: Final = tuple.__new__


def shifted(changes: Changes, delta: int) -> Changes:
    """``changes`` with every timestamp the group assigned ``delta`` later: transfers,
    accounts created, failed ids, balance history, and pending states (their timestamp and,
    for a pending transfer created in the group, its expiry). What the group read from the
    store (the changed accounts' creation time, a stored pending transfer's expiry) stays."""
    if delta < 0:
        raise ValueError(f"timestamps only move later, not by {delta}")
    if delta == 0:
        return changes
    created = {t.id for t in changes.transfers}
    pending = {
        tid: _shifted_pending(s, delta, tid in created) for tid, s in changes.pending.items()
    }
    if any(state.expires_at > TIMESTAMP_MAX for state in pending.values()):
        raise OverflowError("a shifted expiry passes the largest timestamp")
    return Changes(
        accounts_created=[
            _new(Account, (*a[:9], a.timestamp + delta)) for a in changes.accounts_created
        ],
        accounts=changes.accounts,
        transfers=[_new(Transfer, (*t[:10], t.timestamp + delta)) for t in changes.transfers],
        pending=pending,
        failed={tid: (status, at + delta) for tid, (status, at) in changes.failed.items()},
        balances=[_new(AccountBalance, (b[0], b[1] + delta, *b[2:])) for b in changes.balances],
    )


def _shifted_pending(state: PendingState, delta: int, created_here: bool) -> PendingState:
    # A timestamp of 0 means "still pending" (not resolved yet), an expiry of 0 "never".
    expires_at = state.expires_at + delta if created_here and state.expires_at else state.expires_at
    timestamp = state.timestamp + delta if state.timestamp else 0
    return _new(PendingState, (state.transfer_id, state.status, expires_at, timestamp))


def expiry_decision_may_change(
    stored: Iterable[PendingState], provisional_first: int, real_first: int, count: int
) -> bool:
    """Whether moving the group's ``count`` timestamps from ``provisional_first`` to
    ``real_first`` could change whether one of these stored pending transfers had expired
    when the group posted or voided it: an event at ``t`` moves to ``t + shift``, so only an
    expiry in ``(provisional_first, real_first + count)`` can fall between the two, and
    none when nothing moves (an expiry inside the group's own timestamps is decided the
    same way at both)."""
    if real_first == provisional_first:
        return False
    real_end = real_first + count
    return any(provisional_first < state.expires_at < real_end for state in stored)
