"""The outbox: events that describe a change, written in the change's own transaction.

A service that changes something a merchant (or customer) may want to hear about writes an
event row here inside its write unit (``centime.platform.events.outbox.emit``), so the event exists
if and only if the change committed. Delivery (webhooks) reads the outbox afterwards; nothing
is lost between a commit and a delivery, and a delivery may repeat (at least once: receivers
drop duplicates by the event's id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, key

revision = "0006_outbox"
down_revision = "0005_platform"


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        # Random (platform.ids.new_id); the delivery worker reads the outbox in
        # (created_ns, id) order with a keyset cursor.
        key(),
        sa.Column("type", sa.String(64), nullable=False),  # payment.created, payout.paid...
        # owner_id: the merchant or customer told
        *bigints("owner_id", "created_ns"),
        sa.Column("data", sa.Text, nullable=False),  # JSON; money as integer strings
    )
    op.create_index("outbox_by_time", "outbox_events", ["created_ns", "id"])
    op.create_index("outbox_by_owner", "outbox_events", ["owner_id", "created_ns", "id"])


def downgrade() -> None:
    op.drop_table("outbox_events")
