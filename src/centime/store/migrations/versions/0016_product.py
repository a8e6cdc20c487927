"""The sandbox payout rail's own records, kept in the database as a real rail keeps its own.

- ``sandbox_rail_accounts``: the accounts registered (token -> account number; a sandbox's
  test numbers, never a real person's: a real rail keeps these in its vault).
- ``sandbox_rail_payouts``: each payout the rail decided (the request and the answer), so
  that sending it again after a restart answers the same and pays once.
- ``sandbox_rail_events``: events planned and not yet acknowledged by the platform.

Revision ID: 0016_product
Revises: 0011_web
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_product"
down_revision = "0013_auth_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_rail_accounts",
        sa.Column("rail", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("number", sa.String(64), nullable=False),
    )
    op.create_table(
        "sandbox_rail_payouts",
        sa.Column("rail", sa.String(64), primary_key=True),
        sa.Column("payout_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),  # the order decided: oldest go first
        sa.Column("request", sa.Text, nullable=False),  # JSON
        sa.Column("result", sa.Text, nullable=False),  # JSON
    )
    op.create_index("sandbox_rail_payouts_by_seq", "sandbox_rail_payouts", ["rail", "seq"])
    op.create_table(
        "sandbox_rail_events",
        sa.Column("rail", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("due_ns", sa.BigInteger, nullable=False),
        sa.Column("event", sa.Text, nullable=False),  # JSON
    )


def downgrade() -> None:
    for table in ("sandbox_rail_events", "sandbox_rail_payouts", "sandbox_rail_accounts"):
        op.drop_table(table)
