"""Payouts: merchants' bank accounts (a rail's token, a fingerprint, the last four characters
and the holder's name: never the number), payout schedules, payouts and instant-payout
quotes.

Revision ID: 0007_payouts
Revises: 0006_outbox
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_payouts"
down_revision = "0006_outbox"
branch_labels = None
depends_on = None

_ID = sa.BigInteger


def _ns(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payout_methods",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),  # the rail's name for the account
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # active, removed
        _ns("created_ns"),
        _ns("removed_ns", nullable=True),
    )
    op.create_index("payout_methods_by_merchant", "payout_methods", ["merchant_id", "created_ns"])
    # One row per merchant: until when a payout-method change locks its payouts.
    op.create_table(
        "payout_locks",
        sa.Column("merchant_id", _ID, primary_key=True, autoincrement=False),
        _ns("locked_until_ns"),
    )
    op.create_table(
        "payout_schedules",
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),  # daily, weekly, monthly
        sa.Column("weekday", sa.Integer, nullable=False),  # weekly: 0 Monday .. 6 Sunday
        sa.Column("month_day", sa.Integer, nullable=False),  # monthly: 1..28
        sa.Column("minimum_amount", sa.BigInteger, nullable=False),
        sa.Column("reserve_bp", sa.Integer, nullable=False),
        sa.Column("reserve_days", sa.Integer, nullable=False),
        sa.Column("method_id", _ID, nullable=True),  # None: the newest active method
        _ns("updated_ns"),
        sa.PrimaryKeyConstraint("merchant_id", "asset"),
    )
    op.create_table(
        "payouts",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("method_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),  # taken from the earnings
        sa.Column("fee", sa.BigInteger, nullable=False),  # of it, to fee revenue
        sa.Column("kind", sa.String(16), nullable=False),  # scheduled, instant
        # requested, pending, paid, failed, returned
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_ref", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("return_code", sa.String(64), nullable=True),
        sa.Column("quote_id", _ID, nullable=True),
        sa.Column("run_date", sa.String(10), nullable=True),  # scheduled: YYYY-MM-DD
        _ns("created_ns"),
        _ns("updated_ns"),
        _ns("resolved_ns", nullable=True),  # paid or failed
        _ns("returned_ns", nullable=True),
    )
    op.create_index("payouts_by_merchant", "payouts", ["merchant_id", "created_ns"])
    op.create_index("payouts_by_status", "payouts", ["status", "created_ns"])
    op.create_index("payouts_by_time", "payouts", ["created_ns", "id"])
    op.create_table(
        "payout_quotes",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("method_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("days_early", sa.Integer, nullable=False),
        sa.Column("scheduled_date", sa.String(10), nullable=True),  # None: no schedule
        _ns("expires_ns"),
        sa.Column("payout_id", _ID, nullable=True),  # set when confirmed
        _ns("created_ns"),
    )
    op.create_index("payout_quotes_by_merchant", "payout_quotes", ["merchant_id", "created_ns"])


def downgrade() -> None:
    for table in ("payout_quotes", "payouts", "payout_schedules", "payout_locks", "payout_methods"):
        op.drop_table(table)
