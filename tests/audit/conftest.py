"""An audited ledger on each store, with a fake clock and a key file, and raw SQL access to
its database for tamper tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from centime.audit import AuditLog, HeadSigner
from centime.audit.service import rotate_key
from centime.clock import FakeClock
from centime.ledger import Account, AccountFlags, Ledger, Transfer, TransferFlags
from centime.store import open_store

WALLET = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


@dataclass
class Audited:
    url: str
    ledger: Ledger
    clock: FakeClock
    key_file: Path
    signer: HeadSigner

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on the database directly, behind the ledger's back (``?`` placeholders)."""
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                rows = conn.execute(statement, params).fetchall()
            conn.close()
            return rows
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            cursor = pg.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []


def fill(ledger: Ledger, clock: FakeClock, batches: int = 4) -> None:
    """Accounts, then batches of transfers (plain, pending, post), a second apart."""
    ledger.create_accounts(
        [
            Account(1, "USD", 10),
            Account(2, "USD", 20, flags=WALLET),
            Account(3, "USD", 20, flags=WALLET),
        ]
    )
    ledger.create_transfers([Transfer(1, 1, 2, 1_000_000, "USD", 1)])
    next_id = 2
    for _ in range(batches):
        clock.advance(1)
        batch = [Transfer(next_id + i, 2, 3, 10 + i, "USD", 1) for i in range(9)]
        batch.append(
            Transfer(next_id + 9, 2, 3, 50, "USD", 1, flags=TransferFlags.PENDING, timeout_s=3600)
        )
        batch.append(
            Transfer(
                next_id + 10,
                0,
                0,
                20,
                "",
                0,
                flags=TransferFlags.POST_PENDING,
                pending_id=next_id + 9,
            )
        )
        statuses = ledger.create_transfers(batch)
        assert {s.value for s in statuses} == {"created"}, statuses
        next_id += 11
    clock.advance(1)
    ledger.expire_due()  # the idle path signs the newest batch


@pytest.fixture
def audited(store_url: str, tmp_path: Path) -> Iterator[Audited]:
    clock = FakeClock()
    key_file = tmp_path / "audit-key.pem"
    store = open_store(store_url)
    rotate_key(store, key_file, clock)
    store.close()
    signer = HeadSigner.load(key_file)
    ledger = Ledger(open_store(store_url), clock, audit=AuditLog(signer))
    try:
        yield Audited(store_url, ledger, clock, key_file, signer)
    finally:
        ledger.close()


@pytest.fixture
def filled(audited: Audited) -> Audited:
    fill(audited.ledger, audited.clock)
    return audited


Runner = Callable[..., Any]
