"""The audit log: batches (hash chain), Merkle tree nodes, signed tree heads, public keys.

See docs/audit.md. Every table only grows: rows are inserted, never updated.

Revision ID: 0004_audit
Revises: 0003_transfers_by_pending_id
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_audit"
down_revision = "0003_transfers_by_pending_id"
branch_labels = None
depends_on = None

_ROW_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_batches",
        sa.Column("seq", _ROW_KEY, primary_key=True, autoincrement=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("leaf_count", sa.BigInteger, nullable=False),
        sa.Column("timestamp_first", sa.BigInteger, nullable=False),
        sa.Column("timestamp_last", sa.BigInteger, nullable=False, unique=True),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary, nullable=False),
        sa.Column("state_hash", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("peaks", sa.LargeBinary, nullable=False),
        sa.Column("batch_hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("first_index", sa.BigInteger, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("level", "first_index"),
    )
    op.create_table(
        "audit_heads",
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.LargeBinary, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("batch_seq", sa.BigInteger, nullable=False),
        sa.Column("batch_hash", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
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
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("endorsement", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_keys", "audit_heads", "audit_nodes", "audit_batches"):
        op.drop_table(table)
