"""Crash safety: a writer process killed with SIGKILL at random moments loses nothing it
acknowledged, leaves no linked chain half-applied, and leaves a store whose every invariant
holds and whose balances are exactly what its transfers say.

The child (``crash_writer.py``) logs each request's events before submitting them and its
statuses, fsynced, after ``create_transfers`` returned. After every kill the test reopens the
store and holds it against the logs of every run so far.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from centime.ledger.model import AMOUNT_POST_FULL, PendingStatus, Transfer, TransferFlags
from centime.store import open_store

from . import crash_writer  # the child's own constants: the account ids

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 6
SEED = 20_251_129
ID_STRIDE = 10**9  # run k uses transfer ids from (k + 1) * ID_STRIDE on
ACKS_BEFORE_KILL_MIN = 3  # let the child get going before the random delay starts
KILL_DELAY_MAX_S = 1.2
START_WAIT_MAX_S = 60.0  # generous: a bound on a hang, not a speed requirement

LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)


@dataclass
class Request:
    events: list[tuple[int, ...]]  # id, debit, credit, amount, flags, pending_id, timeout_s
    statuses: list[str] | None = None  # None: never acknowledged


@dataclass
class History:
    requests: list[Request] = field(default_factory=list)

    def read_log(self, path: Path) -> int:
        """Add one run's log; returns how many acknowledgements it holds. Only the last line
        may be torn (the kill can land mid-write); any other bad line fails the test."""
        lines = path.read_bytes().split(b"\n")
        by_number: dict[int, Request] = {}
        acks = 0
        for index, raw in enumerate(lines):
            if not raw:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                assert index == len(lines) - 1, f"{path}: corrupt line {index}"
                continue
            if "e" in record:
                by_number[record["r"]] = Request([tuple(e) for e in record["e"]])
            else:
                by_number[record["r"]].statuses = record["s"]
                acks += 1
        self.requests += by_number.values()
        return acks


def _chains(events: list[tuple[int, ...]]) -> list[list[int]]:
    chains: list[list[int]] = []
    current: list[int] = []
    for event in events:
        current.append(event[0])
        if not event[4] & LINKED:
            chains.append(current)
            current = []
    assert not current, "the writer never leaves a chain open"
    return chains


def _verify(url: str, history: History) -> dict[str, int]:
    """Hold the reopened store against the logs; returns counts for the test's own checks."""
    events = {e[0]: e for r in history.requests for e in r.events}
    store = open_store(url)
    try:
        present: dict[int, Transfer] = {}
        ids = sorted(events)
        for start in range(0, len(ids), 4_000):
            present.update((t.id, t) for t in store.lookup_transfers(ids[start : start + 4_000]))
        # Nothing is stored that the writer never sent.
        assert store.totals().transfers == len(present), "stored transfers nobody sent"

        counts = {"acknowledged_created": 0, "unacknowledged_present": 0, "chains": 0}
        for request in history.requests:
            if request.statuses is not None:
                assert len(request.statuses) == len(request.events)
                for event, status in zip(request.events, request.statuses, strict=True):
                    if status == "created":
                        counts["acknowledged_created"] += 1
                        assert event[0] in present, f"acknowledged transfer {event[0]} lost"
                    else:
                        assert event[0] not in present, f"{event[0]} {status} but stored"
            for chain in _chains(request.events):
                stored = sum(transfer_id in present for transfer_id in chain)
                assert stored in (0, len(chain)), f"chain {chain} half-applied: {stored} stored"
                counts["chains"] += len(chain) > 1
                if request.statuses is None:
                    counts["unacknowledged_present"] += stored

        # Every stored transfer is what was sent (a post or void resolved from its pending).
        for transfer_id, record in present.items():
            _, dr, cr, amount, flags, pending_id, timeout_s = events[transfer_id]
            if flags & VOID or (flags & POST and amount == AMOUNT_POST_FULL):
                amount = events[pending_id][3]
            assert (record.debit_account_id, record.credit_account_id, record.amount) == (
                dr,
                cr,
                amount,
            ), f"transfer {transfer_id}"
            assert (record.flags, record.pending_id, record.timeout_s) == (
                flags,
                pending_id,
                timeout_s,
            )

        # Where each stored pending transfer stands: resolved by a stored post or void, expired
        # (only with a timeout, and then nothing resolved it), or still pending.
        resolved = {record.pending_id for record in present.values() if record.pending_id}
        assert resolved <= set(present), "a post or void of a pending transfer never stored"
        pendings = [i for i in present if events[i][4] & PENDING]
        expired: set[int] = set()
        for start in range(0, len(pendings), 4_000):
            states = store.pending_states(pendings[start : start + 4_000])
            assert len(states) == len(pendings[start : start + 4_000])
            for state in states:
                if state.status is PendingStatus.EXPIRED:
                    expired.add(state.transfer_id)
                    assert events[state.transfer_id][6] > 0, state
                    assert state.transfer_id not in resolved, state
                else:
                    want_pending = state.transfer_id not in resolved
                    assert (state.status is PendingStatus.PENDING) == want_pending, state
        counts["expired"] = len(expired)

        # Balances recomputed from what was acknowledged and what else is present.
        expected: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for transfer_id, record in present.items():
            _, dr, cr, _, flags, pending_id, _ = events[transfer_id]
            amount = record.amount
            if flags & PENDING:
                if transfer_id not in expired:
                    expected[dr][0] += amount
                    expected[cr][2] += amount
                continue
            if flags & (POST | VOID):
                reserve = events[pending_id][3]
                expected[dr][0] -= reserve
                expected[cr][2] -= reserve
                if flags & VOID:
                    continue
            expected[dr][1] += amount
            expected[cr][3] += amount
        for account in store.lookup_accounts(list(crash_writer.ACCOUNT_IDS)):
            stored_balances = [
                account.debits_pending,
                account.debits_posted,
                account.credits_pending,
                account.credits_posted,
            ]
            assert stored_balances == expected[account.id], f"account {account.id}"

        violations = [str(v) for v in store.check()]
        assert violations == []
        return counts
    finally:
        store.close()


def _wait_for_acks(log: Path, child: subprocess.Popen[bytes], minimum: int) -> None:
    deadline = time.monotonic() + START_WAIT_MAX_S
    while time.monotonic() < deadline:
        assert child.poll() is None, f"writer died: {child.stderr.read().decode()}"  # type: ignore[union-attr]
        if log.exists() and log.read_bytes().count(b'"s":') >= minimum:
            return
        time.sleep(0.02)
    raise AssertionError(f"the writer acknowledged fewer than {minimum} requests")


@pytest.mark.slow
def test_sigkill_loses_nothing_acknowledged(store_url: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    open_store(store_url).close()  # migrate once, outside the children's timing
    history = History()
    totals = defaultdict(int)
    for run in range(KILLS):
        log = tmp_path / f"run{run}.jsonl"
        id_base = (run + 1) * ID_STRIDE
        child = subprocess.Popen(
            [sys.executable, str(WRITER), store_url, str(log), str(id_base), str(SEED + run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for_acks(log, child, ACKS_BEFORE_KILL_MIN)
            time.sleep(rng.uniform(0.0, KILL_DELAY_MAX_S))
            assert child.poll() is None, f"writer died: {child.stderr.read().decode()}"  # type: ignore[union-attr]
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
            child.stderr.close()  # type: ignore[union-attr]
        acks = history.read_log(log)
        assert acks >= ACKS_BEFORE_KILL_MIN
        for name, count in _verify(store_url, history).items():
            totals[name] = count
    # The runs did what the test is about: many acknowledged transfers, linked chains.
    assert totals["acknowledged_created"] > 10_000
    assert totals["chains"] > 100
    assert totals["expired"] > 0
