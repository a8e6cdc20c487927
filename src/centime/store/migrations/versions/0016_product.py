"""The sandbox payout rail's own records, kept in the database as a real rail keeps its own.

- ``sandbox_rail_accounts``: the accounts registered (token -> account number; a sandbox's
  test numbers, never a real person's: a real rail keeps these in its vault).
- ``sandbox_rail_payouts``: each payout the rail decided (the request and the answer), so
  that sending it again after a restart answers the same and pays once.
- ``sandbox_rail_events``: events planned and not yet acknowledged by the platform.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import drop_tables, key, strings

revision = "0016_product"
down_revision = "0013_auth_hardening"


def upgrade() -> None:
    op.create_table(
        "sandbox_rail_accounts",
        key("rail", sa.String(64)),
        key("token", sa.String(64)),
        *strings(64, "number"),
    )
    op.create_table(
        "sandbox_rail_payouts",
        key("rail", sa.String(64)),
        key("payout_id"),
        sa.Column("seq", sa.BigInteger, nullable=False),  # the order decided: oldest go first
        sa.Column("request", sa.Text, nullable=False),  # JSON
        sa.Column("result", sa.Text, nullable=False),  # JSON
    )
    op.create_index("sandbox_rail_payouts_by_seq", "sandbox_rail_payouts", ["rail", "seq"])
    op.create_table(
        "sandbox_rail_events",
        key("rail", sa.String(64)),
        key("event_id", sa.String(64)),
        sa.Column("due_ns", sa.BigInteger, nullable=False),
        sa.Column("event", sa.Text, nullable=False),  # JSON
    )


def downgrade() -> None:
    drop_tables("sandbox_rail_events", "sandbox_rail_payouts", "sandbox_rail_accounts")
