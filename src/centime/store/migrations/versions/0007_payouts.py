"""Payouts: merchants' bank accounts (a rail's token, a fingerprint, the last four characters
and the holder's name: never the number), payout schedules, payouts and instant-payout
quotes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, drop_tables, key, money, newest_first, status, strings

revision = "0007_payouts"
down_revision = "0006_outbox"


def upgrade() -> None:
    op.create_table(
        "payout_methods",
        key(),
        *bigints("merchant_id"),
        # token: the rail's name for the account
        *strings(64, "provider", "token", "fingerprint"),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("holder_name", sa.String(200), nullable=False),
        status(),  # active, removed
        *bigints("created_ns"),
        *bigints("removed_ns", nullable=True),
    )
    newest_first("payout_methods", "merchant")
    # One row per merchant: until when a payout-method change locks its payouts.
    op.create_table("payout_locks", key("merchant_id"), *bigints("locked_until_ns"))
    op.create_table(
        "payout_schedules",
        *bigints("merchant_id"),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),  # daily, weekly, monthly
        sa.Column("weekday", sa.Integer, nullable=False),  # weekly: 0 Monday .. 6 Sunday
        sa.Column("month_day", sa.Integer, nullable=False),  # monthly: 1..28
        *bigints("minimum_amount"),
        sa.Column("reserve_bp", sa.Integer, nullable=False),
        sa.Column("reserve_days", sa.Integer, nullable=False),
        *bigints("method_id", nullable=True),  # None: the newest active method
        *bigints("updated_ns"),
        sa.PrimaryKeyConstraint("merchant_id", "asset"),
    )
    op.create_table(
        "payouts",
        key(),
        *bigints("merchant_id", "method_id"),
        # amount: taken from the earnings; fee: of it, to fee revenue
        *money("amount", "fee"),
        sa.Column("kind", sa.String(16), nullable=False),  # scheduled, instant
        # requested, pending, paid, failed, returned
        status(),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_ref", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        *strings(64, "failure_code", "return_code", nullable=True),
        *bigints("quote_id", nullable=True),
        sa.Column("run_date", sa.String(10), nullable=True),  # scheduled: YYYY-MM-DD
        *bigints("created_ns", "updated_ns"),
        # resolved_ns: paid or failed
        *bigints("resolved_ns", "returned_ns", nullable=True),
    )
    newest_first("payouts", "merchant")
    op.create_index("payouts_by_status", "payouts", ["status", "created_ns"])
    op.create_index("payouts_by_time", "payouts", ["created_ns", "id"])
    op.create_table(
        "payout_quotes",
        key(),
        *bigints("merchant_id", "method_id"),
        *money("amount", "fee"),
        sa.Column("days_early", sa.Integer, nullable=False),
        sa.Column("scheduled_date", sa.String(10), nullable=True),  # None: no schedule
        *bigints("expires_ns"),
        *bigints("payout_id", nullable=True),  # set when confirmed
        *bigints("created_ns"),
    )
    newest_first("payout_quotes", "merchant")


def downgrade() -> None:
    drop_tables("payout_quotes", "payouts", "payout_schedules", "payout_locks", "payout_methods")
