"""Open Payments (centime.openpayments): client keys, GNAP grants and tokens, and the
resources of the resource server.

- ``op_client_keys``: Ed25519 public keys a customer or merchant registered for its wallet
  addresses (served at ``<wallet address>/jwks.json``).
- ``op_grants``: GNAP grants: the client (its wallet address), the access asked and granted,
  the interaction (redirect and finish), the continuation token (SHA-256 only).
- ``op_tokens``: access tokens of grants, by the SHA-256 of their value; rotated and revoked.
- ``op_incoming_payments``: what a wallet expects to receive and what it received.
- ``op_quotes``: a binding offer to pay an incoming payment, until it expires.
- ``op_outgoing_payments``: payments made under grants, naming the ledger operation that
  carried the money.
- ``op_streams``: Web Monetization streams: many small payments of one grant to one merchant
  accrue under a metered hold (a pending ledger transfer) and are settled in batches.

Revision ID: 0017_open_payments
Revises: 0016_product
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_open_payments"
down_revision = "0015_ledger_indexes"
branch_labels = None
depends_on = None


def _party() -> list[sa.Column[object]]:
    return [
        sa.Column("party_kind", sa.String(16), nullable=False),  # customer, merchant
        sa.Column("party_id", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "op_client_keys",
        *_party(),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("x", sa.String(64), nullable=False),  # base64url of the Ed25519 public key
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("revoked_ns", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("party_kind", "party_id", "kid"),
    )
    op.create_table(
        "op_grants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),  # the key that asked for it
        sa.Column("access", sa.Text, nullable=False),  # JSON: the access granted
        sa.Column("status", sa.String(16), nullable=False),  # pending, approved, denied, ...
        sa.Column("continue_hash", sa.LargeBinary, nullable=False),
        sa.Column("interact_id", sa.String(36), nullable=True, unique=True),
        sa.Column("interact_nonce", sa.String(64), nullable=True),  # our finish nonce
        sa.Column("finish_uri", sa.String(1024), nullable=True),
        sa.Column("finish_nonce", sa.String(256), nullable=True),  # the client's
        sa.Column("interact_ref", sa.String(64), nullable=True),
        sa.Column("party_kind", sa.String(16), nullable=True),  # whose money it spends
        sa.Column("party_id", sa.BigInteger, nullable=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),  # of the interaction
        sa.Column("decided_ns", sa.BigInteger, nullable=True),
        sa.Column("last_continue_ns", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "op_tokens",
        sa.Column("id", sa.String(36), primary_key=True),  # its management URI's id
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("value_hash", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("revoked_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("op_tokens_by_grant", "op_tokens", ["grant_id"])
    op.create_table(
        "op_incoming_payments",
        sa.Column("id", sa.String(36), primary_key=True),
        *_party(),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("incoming_amount", sa.BigInteger, nullable=True),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("completed", sa.Boolean, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),  # JSON
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "op_incoming_by_wallet",
        "op_incoming_payments",
        ["party_kind", "party_id", "asset", "created_ns"],
    )
    op.create_table(
        "op_quotes",
        sa.Column("id", sa.String(36), primary_key=True),
        *_party(),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("receiver", sa.String(36), nullable=False),  # an incoming payment's id
        sa.Column("debit", sa.BigInteger, nullable=False),
        sa.Column("receive", sa.BigInteger, nullable=False),
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
    )
    op.create_table(
        "op_outgoing_payments",
        sa.Column("id", sa.String(36), primary_key=True),
        *_party(),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("receiver", sa.String(36), nullable=False),  # an incoming payment's id
        sa.Column("quote_id", sa.String(36), nullable=True),
        sa.Column("debit", sa.BigInteger, nullable=False),
        sa.Column("receive", sa.BigInteger, nullable=False),
        sa.Column("sent", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("ledger_kind", sa.String(16), nullable=False),  # payment, transfer
        sa.Column("ledger_id", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "op_streams",
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("merchant_id", sa.BigInteger, nullable=False),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("hold_id", sa.BigInteger, nullable=False),  # the reserve in force
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("accrued", sa.BigInteger, nullable=False),  # owed, not yet settled
        sa.Column("payments", sa.BigInteger, nullable=False),  # accrued since settlement
        sa.Column("expires_ns", sa.BigInteger, nullable=False),  # of the hold
        sa.Column("last_ns", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "merchant_id"),
    )
    op.create_index("op_streams_by_last", "op_streams", ["last_ns"])
    op.create_index("op_outgoing_by_grant", "op_outgoing_payments", ["grant_id", "created_ns"])
    op.create_index(
        "op_outgoing_by_wallet",
        "op_outgoing_payments",
        ["party_kind", "party_id", "asset", "created_ns"],
    )


def downgrade() -> None:
    for table in (
        "op_streams",
        "op_outgoing_payments",
        "op_quotes",
        "op_incoming_payments",
        "op_tokens",
        "op_grants",
        "op_client_keys",
    ):
        op.drop_table(table)
