"""The ledger: accounts, transfers, pending states, failed ids, balance history, clock.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

_ROW_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", _ROW_KEY, primary_key=True, autoincrement=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("user_data", sa.BigInteger, nullable=False),
        sa.Column("debits_pending", sa.BigInteger, nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False),
        sa.Column("credits_pending", sa.BigInteger, nullable=False),
        sa.Column("credits_posted", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False, unique=True),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0"
            " AND credits_posted >= 0",
            name="accounts_balances_not_negative",
        ),
    )
    op.create_table(
        "transfers",
        sa.Column("timestamp", _ROW_KEY, primary_key=True, autoincrement=False),
        sa.Column("id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("debit_account_id", sa.BigInteger, nullable=False),
        sa.Column("credit_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("pending_id", sa.BigInteger, nullable=False),
        sa.Column("timeout_s", sa.Integer, nullable=False),
        sa.Column("user_data", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount >= 0", name="transfers_amount_not_negative"),
    )
    op.create_index("transfers_by_debit_account", "transfers", ["debit_account_id", "timestamp"])
    op.create_index("transfers_by_credit_account", "transfers", ["credit_account_id", "timestamp"])
    op.create_table(
        "pending_transfers",
        sa.Column("transfer_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    due = sa.text("status = 'pending' AND expires_at > 0")
    op.create_index(
        "pending_transfers_due",
        "pending_transfers",
        ["expires_at", "transfer_id"],
        sqlite_where=due,
        postgresql_where=due,
    )
    op.create_table(
        "failed_transfers",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "account_balances",
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("debits_pending", sa.BigInteger, nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False),
        sa.Column("credits_pending", sa.BigInteger, nullable=False),
        sa.Column("credits_posted", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "timestamp"),
    )
    op.create_table(
        "ledger_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_clock_single_row"),
    )
    op.execute("INSERT INTO ledger_clock (id, timestamp) VALUES (1, 0)")


def downgrade() -> None:
    for table in (
        "ledger_clock",
        "account_balances",
        "failed_transfers",
        "pending_transfers",
        "transfers",
        "accounts",
    ):
        op.drop_table(table)
