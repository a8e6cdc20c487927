"""The audit log: batches (hash chain), Merkle tree nodes, signed tree heads, public keys.

See docs/audit.md. Every table only grows: rows are inserted, never updated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import ROW_KEY, bigints, binaries, drop_tables, key

revision = "0004_audit"
down_revision = "0003_transfers_by_pending_id"


def upgrade() -> None:
    op.create_table(
        "audit_batches",
        key("seq", ROW_KEY),
        *bigints("tree_size", "leaf_count", "timestamp_first"),
        sa.Column("timestamp_last", sa.BigInteger, nullable=False, unique=True),
        *binaries("root_hash", "prev_hash", "state_hash", "state", "peaks", "batch_hash"),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer, nullable=False),
        *bigints("first_index"),
        *binaries("hashes"),
        sa.PrimaryKeyConstraint("level", "first_index"),
    )
    op.create_table(
        "audit_heads",
        *bigints("timestamp"),
        *binaries("key_id"),
        *bigints("tree_size"),
        *binaries("root_hash"),
        *bigints("batch_seq"),
        *binaries("batch_hash", "signature"),
        sa.PrimaryKeyConstraint("timestamp", "key_id"),
    )
    op.create_index("audit_heads_by_tree_size", "audit_heads", ["tree_size", "timestamp"])
    if op.get_bind().dialect.name == "postgresql":
        # Hashes do not compress: without this, PostgreSQL spends (measured) tens of ms per
        # 8189-transfer batch trying to pglz-compress the leaf tiles and the state record.
        for table, column in (
            ("audit_nodes", "hashes"),
            ("audit_batches", "state"),
            ("audit_batches", "peaks"),
        ):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")
    op.create_table(
        "audit_keys",
        sa.Column("key_id", sa.LargeBinary, primary_key=True),
        *binaries("public_key"),
        *bigints("created_ns"),
        *binaries("endorsement"),
    )


def downgrade() -> None:
    drop_tables("audit_keys", "audit_heads", "audit_nodes", "audit_batches")
