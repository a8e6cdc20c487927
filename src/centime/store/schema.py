"""The ledger's tables, one definition for both stores (SQLAlchemy Core).

Alembic migrations (``store/migrations``) create and evolve them; this module is what the
migrations and ``centime db`` compare against. The hot path does not go through SQLAlchemy:
the stores talk to sqlite3 and psycopg directly, with the column order defined here.

Every amount and balance is a signed 64-bit integer column; the engine keeps every value
within ``limits.AMOUNT_MAX`` so nothing can overflow. There are no floats anywhere.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from .columns import ROW_KEY, bigints, binaries, key, where

metadata = MetaData()

# The four balances of an account, as they stand now (accounts) or stood (account_balances).
BALANCES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

# SQLite makes an INTEGER PRIMARY KEY (ROW_KEY) the table's rowid: an append-only B-tree when
# keys only grow, as engine timestamps do.
accounts = Table(
    "accounts",
    metadata,
    key("id", ROW_KEY),
    Column("asset", String(12), nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    *bigints("user_data", *BALANCES),
    Column("timestamp", BigInteger, nullable=False, unique=True),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0"
        " AND credits_posted >= 0",
        name="accounts_balances_not_negative",
    ),
)

transfers = Table(
    "transfers",
    metadata,
    key("timestamp", ROW_KEY),
    Column("id", BigInteger, nullable=False, unique=True),
    *bigints("debit_account_id", "credit_account_id", "amount"),
    Column("asset", String(12), nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    *bigints("pending_id"),
    Column("timeout_s", Integer, nullable=False),
    *bigints("user_data"),
    CheckConstraint("amount >= 0", name="transfers_amount_not_negative"),
)
# Per account, in timestamp order. On SQLite migration 0015 narrows both to the account id
# alone: every index entry there ends with the rowid, which is the timestamp.
Index("transfers_by_debit_account", transfers.c.debit_account_id, transfers.c.timestamp)
Index("transfers_by_credit_account", transfers.c.credit_account_id, transfers.c.timestamp)
Index("transfers_by_pending_id", transfers.c.pending_id, **where("pending_id != 0"))

# The state of every pending transfer: pending, posted, voided or expired, and when.
pending_transfers = Table(
    "pending_transfers",
    metadata,
    key("transfer_id"),
    Column("status", String(8), nullable=False),
    *bigints("expires_at", "timestamp"),
)
Index(
    "pending_transfers_due",
    pending_transfers.c.expires_at,
    pending_transfers.c.transfer_id,
    **where("status = 'pending' AND expires_at > 0"),
)

# Ids of transfers that failed for a reason that depends on the ledger's state: they stay
# failed (status id_already_failed), so a retried payment can never succeed later.
failed_transfers = Table(
    "failed_transfers",
    metadata,
    key(),
    Column("status", String(64), nullable=False),
    *bigints("timestamp"),
)

# Balances of HISTORY accounts after every event that changed them.
account_balances = Table(
    "account_balances",
    metadata,
    *bigints("account_id", "timestamp", *BALANCES),
    PrimaryKeyConstraint("account_id", "timestamp"),
)

# The last engine timestamp handed out. Every writer transaction locks and advances this one
# row, which keeps timestamps unique and in commit order across writer processes.
ledger_clock = Table(
    "ledger_clock",
    metadata,
    key("id", Integer),
    *bigints("timestamp"),
    CheckConstraint("id = 1", name="ledger_clock_single_row"),
)


# ------------------------------------------------------------------ the audit log (docs/audit.md)

# One row per committed group that changed anything: the Merkle tree after it, the hash of its
# state changes (the state blob itself), and the hash chain (prev_hash -> batch_hash).
audit_batches = Table(
    "audit_batches",
    metadata,
    key("seq", ROW_KEY),
    *bigints("tree_size", "leaf_count", "timestamp_first"),
    Column("timestamp_last", BigInteger, nullable=False, unique=True),
    *binaries("root_hash", "prev_hash", "state_hash", "state", "peaks", "batch_hash"),
)

# Complete-subtree hashes of the Merkle tree, every level, in segments of consecutive nodes
# that never cross a 256-node tile boundary and are never rewritten.
audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    *bigints("first_index"),
    *binaries("hashes"),
    PrimaryKeyConstraint("level", "first_index"),
)

# Signed tree heads.
audit_heads = Table(
    "audit_heads",
    metadata,
    *bigints("timestamp"),
    *binaries("key_id"),
    *bigints("tree_size"),
    *binaries("root_hash"),
    *bigints("batch_seq"),
    *binaries("batch_hash", "signature"),
    PrimaryKeyConstraint("timestamp", "key_id"),
)
Index("audit_heads_by_tree_size", audit_heads.c.tree_size, audit_heads.c.timestamp)

# Every public key that ever signed heads (published at /.well-known/centime-audit-keys.json).
audit_keys = Table(
    "audit_keys",
    metadata,
    key("key_id", LargeBinary),
    *binaries("public_key"),
    *bigints("created_ns"),
    *binaries("endorsement"),
)
