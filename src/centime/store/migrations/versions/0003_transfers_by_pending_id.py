"""An index on transfers.pending_id, for the posts and voids that resolve a pending transfer.

`centime ledger check` verifies that every posted or voided pending transfer has the transfer
that resolved it; without this index each such check scanned the whole transfers table
(measured: 43 s of a 44 s check on a 181,000-transfer store). Partial: plain transfers, the
vast majority, have pending_id 0 and cost the index nothing.
"""

from __future__ import annotations

from alembic import op

from centime.store.columns import where

revision = "0003_transfers_by_pending_id"
down_revision = "0002_accounts_fillfactor"


def upgrade() -> None:
    op.create_index(
        "transfers_by_pending_id", "transfers", ["pending_id"], **where("pending_id != 0")
    )


def downgrade() -> None:
    op.drop_index("transfers_by_pending_id", table_name="transfers")
