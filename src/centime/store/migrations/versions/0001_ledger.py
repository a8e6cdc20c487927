"""The ledger: accounts, transfers, pending states, failed ids, balance history, clock."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import ROW_KEY, bigints, drop_tables, key, where

revision = "0001_ledger"
down_revision = None

_BALANCES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def upgrade() -> None:
    op.create_table(
        "accounts",
        key("id", ROW_KEY),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        *bigints("user_data", *_BALANCES),
        sa.Column("timestamp", sa.BigInteger, nullable=False, unique=True),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0"
            " AND credits_posted >= 0",
            name="accounts_balances_not_negative",
        ),
    )
    op.create_table(
        "transfers",
        key("timestamp", ROW_KEY),
        sa.Column("id", sa.BigInteger, nullable=False, unique=True),
        *bigints("debit_account_id", "credit_account_id", "amount"),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        *bigints("pending_id"),
        sa.Column("timeout_s", sa.Integer, nullable=False),
        *bigints("user_data"),
        sa.CheckConstraint("amount >= 0", name="transfers_amount_not_negative"),
    )
    op.create_index("transfers_by_debit_account", "transfers", ["debit_account_id", "timestamp"])
    op.create_index("transfers_by_credit_account", "transfers", ["credit_account_id", "timestamp"])
    op.create_table(
        "pending_transfers",
        key("transfer_id"),
        sa.Column("status", sa.String(8), nullable=False),
        *bigints("expires_at", "timestamp"),
    )
    op.create_index(
        "pending_transfers_due",
        "pending_transfers",
        ["expires_at", "transfer_id"],
        **where("status = 'pending' AND expires_at > 0"),
    )
    op.create_table(
        "failed_transfers",
        key(),
        sa.Column("status", sa.String(64), nullable=False),
        *bigints("timestamp"),
    )
    op.create_table(
        "account_balances",
        *bigints("account_id", "timestamp", *_BALANCES),
        sa.PrimaryKeyConstraint("account_id", "timestamp"),
    )
    op.create_table(
        "ledger_clock",
        key("id", sa.Integer),
        *bigints("timestamp"),
        sa.CheckConstraint("id = 1", name="ledger_clock_single_row"),
    )
    op.execute("INSERT INTO ledger_clock (id, timestamp) VALUES (1, 0)")


def downgrade() -> None:
    drop_tables(
        "ledger_clock",
        "account_balances",
        "failed_transfers",
        "pending_transfers",
        "transfers",
        "accounts",
    )
