"""The child process of tests/ledger/test_crash.py: writes to a ledger until it is killed.

    python crash_writer.py DATABASE_URL LOG_PATH ID_BASE SEED

It opens a :class:`~centime.ledger.engine.Ledger` on the store, creates the accounts (``exists``
after a restart), funds the wallets, then writes forever from several threads at once: single
transfers (merged by group commit), batches of exactly ``BATCH_EVENTS_MAX`` events, linked
chains (some doomed to fail whole), and pending transfers that are posted, voided or left to
expire (a 1 s timeout; a late post or void must be refused). Transfer ids start at
``ID_BASE``, so every run uses new ones.

Each request is logged twice to LOG_PATH, one JSON object per line:

- ``{"r": n, "e": [[id, debit, credit, amount, flags, pending_id, timeout_s], ...]}``
  before it is submitted (the intent: whatever the store holds must have been intended);
- ``{"r": n, "s": [status, ...]}`` after ``create_transfers`` returned, fsynced before the
  thread goes on (the acknowledgement: whatever was acknowledged must survive).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Final

from centime.ledger.engine import Ledger
from centime.ledger.model import (
    AMOUNT_POST_FULL,
    Account,
    AccountFlags,
    CreateAccountStatus,
    Transfer,
    TransferFlags,
)
from centime.limits import BATCH_EVENTS_MAX
from centime.store import open_store

SOURCE: Final = 1
WALLETS: Final = tuple(range(10, 19))
MERCHANTS: Final = tuple(range(20, 24))
FEE: Final = 30
ACCOUNT_IDS: Final = (SOURCE, *WALLETS, *MERCHANTS, FEE)
FUNDING: Final = 10**8  # per wallet and run
TOO_MUCH: Final = 10**15  # more than any wallet ever holds: exceeds_credits

LINKED: Final = int(TransferFlags.LINKED)
PENDING: Final = int(TransferFlags.PENDING)
POST: Final = int(TransferFlags.POST_PENDING)
VOID: Final = int(TransferFlags.VOID_PENDING)
BIG_BATCH_PAUSE_S: Final = 0.5
EXPIRY_WAIT_S: Final = 1.1  # longer than the 1 s timeout of some pending transfers
LIFETIME_MAX_S: Final = 120.0  # never outlive a parent that died without killing us

# id, debit, credit, amount, flags, pending_id, timeout_s
Event = tuple[int, int, int, int, int, int, int]


def accounts() -> list[Account]:
    dmnec = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    history = int(AccountFlags.HISTORY)
    flags = {SOURCE: 0, FEE: history, WALLETS[-1]: dmnec | history}
    flags.update({w: dmnec for w in WALLETS[:-1]})
    return [Account(id=i, asset="USD", code=1, flags=flags.get(i, 0)) for i in ACCOUNT_IDS]


class Writer:
    def __init__(self, ledger: Ledger, log_path: str, id_base: int) -> None:
        self.ledger = ledger
        self._fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._log_lock = threading.Lock()
        self._id_lock = threading.Lock()
        self._next_id = id_base
        self._request = 0

    def ids(self, count: int) -> list[int]:
        with self._id_lock:
            first = self._next_id
            self._next_id += count
        return list(range(first, first + count))

    def _log(self, record: dict[str, object], *, durable: bool) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._log_lock:
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])
            if durable:
                os.fsync(self._fd)

    def send(self, events: list[Event]) -> list[str]:
        """Log the intent, submit, log the acknowledgement (fsynced); return the statuses."""
        with self._id_lock:
            self._request += 1
            request = self._request
        self._log({"r": request, "e": events}, durable=False)
        batch = [_transfer(event) for event in events]
        statuses = [status.value for status in self.ledger.create_transfers(batch)]
        self._log({"r": request, "s": statuses}, durable=True)
        return statuses


def _transfer(event: Event) -> Transfer:
    transfer_id, dr, cr, amount, flags, pending_id, timeout_s = event
    return Transfer(
        id=transfer_id,
        debit_account_id=dr,
        credit_account_id=cr,
        amount=amount,
        asset="USD",
        code=1,
        flags=flags,
        pending_id=pending_id,
        timeout_s=timeout_s,
    )


def _payment(rng: random.Random, transfer_id: int, flags: int = 0) -> Event:
    amount = TOO_MUCH if rng.random() < 0.1 else rng.randint(1, 2_000)
    return (transfer_id, rng.choice(WALLETS), rng.choice(MERCHANTS), amount, flags, 0, 0)


def _chain(writer: Writer, rng: random.Random, *, two_phase: bool) -> list[Event]:
    """2 or 3 linked events: payment, fee(s); with ``two_phase``, a pending transfer and its
    post close the chain."""
    length = 4 if two_phase else rng.randint(2, 3)
    ids = writer.ids(length)
    wallet, merchant = rng.choice(WALLETS), rng.choice(MERCHANTS)
    events: list[Event] = []
    for k, transfer_id in enumerate(ids):
        if k == 2 and two_phase:
            events.append((transfer_id, wallet, merchant, rng.randint(1, 500), PENDING, 0, 0))
        elif k == 3 and two_phase:
            events.append((transfer_id, wallet, merchant, AMOUNT_POST_FULL, POST, ids[2], 0))
        elif k == 0:
            amount = TOO_MUCH if rng.random() < 0.15 else rng.randint(1, 1_000)
            events.append((transfer_id, wallet, merchant, amount, 0, 0, 0))
        else:
            events.append((transfer_id, merchant, FEE, rng.randint(1, 50), 0, 0, 0))
    linked = [(*event[:4], event[4] | LINKED, *event[5:]) for event in events[:-1]]
    return [*linked, events[-1]]


def single_payments(writer: Writer, rng: random.Random) -> None:
    while True:
        writer.send([_payment(rng, writer.ids(1)[0])])


def big_batches(writer: Writer, rng: random.Random) -> None:
    while True:
        events: list[Event] = []
        while len(events) < BATCH_EVENTS_MAX - 4:
            if rng.random() < 0.2:
                events += _chain(writer, rng, two_phase=False)
            else:
                events.append(_payment(rng, writer.ids(1)[0]))
        while len(events) < BATCH_EVENTS_MAX:
            events.append(_payment(rng, writer.ids(1)[0]))
        writer.send(events)
        # A few of these per run are enough; the other threads should not starve.
        time.sleep(BIG_BATCH_PAUSE_S)


def chains(writer: Writer, rng: random.Random) -> None:
    while True:
        events: list[Event] = []
        for _ in range(rng.randint(1, 6)):
            events += _chain(writer, rng, two_phase=rng.random() < 0.2)
        writer.send(events)


def pending_then_resolve(writer: Writer, rng: random.Random) -> None:
    while True:
        pending_id, resolve_id = writer.ids(2)
        wallet, merchant = rng.choice(WALLETS), rng.choice(MERCHANTS)
        amount = rng.randint(1, 5_000)
        timeout_s = 1 if rng.random() < 0.3 else 0
        status = writer.send([(pending_id, wallet, merchant, amount, PENDING, 0, timeout_s)])
        if status != ["created"]:
            continue
        if timeout_s and rng.random() < 0.5:
            time.sleep(EXPIRY_WAIT_S)  # let it expire: the resolution below must be refused
        roll = rng.random()
        resolution = (resolve_id, wallet, merchant)
        if roll < 0.4:
            writer.send([(*resolution, rng.randint(1, amount), POST, pending_id, 0)])
        elif roll < 0.6:
            writer.send([(*resolution, AMOUNT_POST_FULL, POST, pending_id, 0)])
        elif roll < 0.9:
            writer.send([(*resolution, amount, VOID, pending_id, 0)])
        # else: left pending (or to expire) for good


def _guarded(work: Callable[[Writer, random.Random], None], writer: Writer, seed: int) -> None:
    try:
        work(writer, random.Random(seed))
    except BaseException:  # a failing writer must end the process loudly, not hang
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)


def main() -> None:
    url, log_path, id_base, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ledger = Ledger(open_store(url))
    statuses = ledger.create_accounts(accounts())
    if any(s not in (CreateAccountStatus.CREATED, CreateAccountStatus.EXISTS) for s in statuses):
        raise SystemExit(f"accounts: {statuses}")
    writer = Writer(ledger, log_path, id_base)
    funding_ids = writer.ids(len(WALLETS))
    funding = writer.send(
        [(i, SOURCE, w, FUNDING, 0, 0, 0) for i, w in zip(funding_ids, WALLETS, strict=True)]
    )
    if funding != ["created"] * len(WALLETS):
        raise SystemExit(f"funding: {funding}")
    work: list[Callable[[Writer, random.Random], None]] = [
        *[single_payments] * 6,
        big_batches,
        chains,
        *[pending_then_resolve] * 3,
    ]
    for index, job in enumerate(work):
        thread = threading.Thread(target=_guarded, args=(job, writer, seed * 100 + index))
        thread.daemon = True
        thread.start()
    time.sleep(LIFETIME_MAX_S)
    os._exit(0)


if __name__ == "__main__":
    main()
