"""A platform insert of many rows runs as one text COPY on PostgreSQL
(``_PostgresWrite.executemany``): the same rows as the statements, all or none."""

from __future__ import annotations

from dataclasses import replace

import pytest

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.ledger.errors import TransientStoreError
from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform
from centime.platform.payments import Payment, PaymentItem
from centime.platform.payments.service import _PAYMENTS, create_payments_batch, get_payment
from centime.platform.review.decisions import _INSERT as DECISIONS_INSERT
from centime.store import open_store
from centime.store.postgres import COPY_ROWS_MIN, _plain_insert

from ..platform.world import customer, fund, merchant

# Texts that COPY's text format escapes (a backslash, its null marker, quotes, non-ASCII).
TEXTS = ["plain", "back\\slash", "\\N", 'it\'s "quoted"', "caf\u00e9 \u20ac \U0001f600", ""]


def test_only_plain_inserts_of_one_placeholder_per_column_are_copied() -> None:
    assert _plain_insert(_PAYMENTS.insert_sql) == ("payments", _PAYMENTS.columns)
    assert _plain_insert(DECISIONS_INSERT) is not None
    assert _plain_insert("INSERT INTO t (a, b) VALUES (?, 'pending')") is None
    assert _plain_insert("INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING") is None
    assert _plain_insert("INSERT INTO t (a, b) VALUES (?)") is None
    assert _plain_insert("INSERT INTO t (a) VALUES (?) RETURNING a") is None
    assert _plain_insert("DELETE FROM t WHERE a = ? AND b = ?") is None


def test_a_batch_of_payments_is_stored_as_answered(postgres_url: str) -> None:
    clock = FakeClock()
    with Ledger(open_store(postgres_url), clock) as ledger:
        platform = Platform(ledger, clock)
        shop = merchant(platform)
        payers = [customer(platform) for _ in range(3)]
        for payer in payers:
            fund(platform, payer.id, "USD", 1_000_000)
        items = [
            PaymentItem(
                payers[i % 3].id,
                "USD",
                100 + i,
                description=TEXTS[i % len(TEXTS)],
                reference=None if i % 2 else TEXTS[-1 - i % len(TEXTS)],
            )
            for i in range(2 * COPY_ROWS_MIN)
        ]
        paid = platform.execute(
            create_payments_batch(platform, shop.id, items, charged_by_merchant=False)
        )
        assert isinstance(paid, list) and all(isinstance(p, Payment) for p in paid), paid
        for payment in paid:
            assert isinstance(payment, Payment)
            assert get_payment(platform, payment.id) == payment


def test_a_duplicate_key_among_copied_rows_loses_the_race_and_writes_none(
    postgres_url: str,
) -> None:
    """A payment id already stored, last among many new rows: the COPY fails as the
    statements would (a lost race: the group runs again and finds the first), none kept."""
    clock = FakeClock()
    with Ledger(open_store(postgres_url), clock) as ledger:
        platform = Platform(ledger, clock)
        shop, payer = merchant(platform), customer(platform)
        fund(platform, payer.id, "USD", 1_000_000)
        paid = platform.execute(
            create_payments_batch(
                platform, shop.id, [PaymentItem(payer.id, "USD", 100)], charged_by_merchant=False
            )
        )
        assert isinstance(paid, list) and isinstance(paid[0], Payment)
        fresh = [replace(paid[0], id=paid[0].id + 1 + i) for i in range(COPY_ROWS_MIN)]
        rows = [_PAYMENTS.values(p) for p in [*fresh, paid[0]]]
        store = ledger.store
        with pytest.raises(TransientStoreError), store.write_transaction() as txn:
            txn.executemany(_PAYMENTS.insert_sql, rows)
        with store.reader() as fetch:
            assert fetch("SELECT count(*) FROM payments", ())[0][0] == 1


def test_a_unit_inserting_many_rows_writes_them_all(postgres_url: str) -> None:
    clock = FakeClock()
    rows = [
        (
            i,
            1,
            2,
            "payment",
            100 + i,
            "USD",
            TEXTS[i % len(TEXTS)],
            "q",
            None,
            None,
            None,
            "payment",
            1,
            "allow",
            0,
            "[]",
            None,
            "r",
            None,
            0,
            None,
        )
        for i in range(1, 3 * COPY_ROWS_MIN)
    ]
    with Ledger(open_store(postgres_url), clock) as ledger:
        platform = Platform(ledger, clock)

        def unit(ctx: UnitContext) -> list[tuple[object, ...]]:
            ctx.executemany(DECISIONS_INSERT, rows)
            return ctx.fetch(
                "SELECT id, created_ns, event_ns, event_type, amount, asset, payer, payee,"
                " device, ip, instrument, subject_kind, subject_id, action, score, reasons,"
                " model_version, rules_version, features, stepped_up, case_id"
                " FROM risk_decisions ORDER BY id"
            )

        assert platform.execute(Operation(unit, 0)) == rows
