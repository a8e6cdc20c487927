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
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, drop_tables, key, money, status, strings

revision = "0017_open_payments"
down_revision = "0015_ledger_indexes"


def _party() -> list[sa.Column[object]]:
    return [
        sa.Column("party_kind", sa.String(16), nullable=False),  # customer, merchant
        *bigints("party_id"),
    ]


def _resource() -> list[sa.Column[object]]:
    """A resource of a wallet address: its id, its owner, the asset of its amounts."""
    return [key("id", sa.String(36)), *_party(), sa.Column("asset", sa.String(12), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "op_client_keys",
        *_party(),
        *strings(64, "kid", "x"),  # x: base64url of the Ed25519 public key
        *bigints("created_ns"),
        *bigints("revoked_ns", nullable=True),
        sa.PrimaryKeyConstraint("party_kind", "party_id", "kid"),
    )
    op.create_table(
        "op_grants",
        key("id", sa.String(36)),
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),  # the key that asked for it
        sa.Column("access", sa.Text, nullable=False),  # JSON: the access granted
        status(),  # pending, approved, denied, ...
        sa.Column("continue_hash", sa.LargeBinary, nullable=False),
        sa.Column("interact_id", sa.String(36), nullable=True, unique=True),
        sa.Column("interact_nonce", sa.String(64), nullable=True),  # our finish nonce
        sa.Column("finish_uri", sa.String(1024), nullable=True),
        sa.Column("finish_nonce", sa.String(256), nullable=True),  # the client's
        sa.Column("interact_ref", sa.String(64), nullable=True),
        sa.Column("party_kind", sa.String(16), nullable=True),  # whose money it spends
        *bigints("party_id", nullable=True),
        *bigints("created_ns", "expires_ns"),  # expires_ns: of the interaction
        *bigints("decided_ns", "last_continue_ns", nullable=True),
    )
    op.create_table(
        "op_tokens",
        key("id", sa.String(36)),  # its management URI's id
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("value_hash", sa.LargeBinary, nullable=False, unique=True),
        *bigints("created_ns", "expires_ns"),
        *bigints("revoked_ns", nullable=True),
    )
    op.create_index("op_tokens_by_grant", "op_tokens", ["grant_id"])
    op.create_table(
        "op_incoming_payments",
        *_resource(),
        *bigints("incoming_amount", nullable=True),
        *bigints("received"),
        sa.Column("completed", sa.Boolean, nullable=False),
        *bigints("expires_ns"),
        sa.Column("metadata", sa.Text, nullable=True),  # JSON
        sa.Column("client", sa.String(1024), nullable=False),
        *bigints("created_ns"),
    )
    op.create_index(
        "op_incoming_by_wallet",
        "op_incoming_payments",
        ["party_kind", "party_id", "asset", "created_ns"],
    )
    op.create_table(
        "op_quotes",
        *_resource(),
        sa.Column("receiver", sa.String(36), nullable=False),  # an incoming payment's id
        *bigints("debit", "receive"),
        sa.Column("client", sa.String(1024), nullable=False),
        *bigints("created_ns", "expires_ns"),
        sa.Column("used", sa.Boolean, nullable=False),
    )
    op.create_table(
        "op_outgoing_payments",
        *_resource(),
        sa.Column("receiver", sa.String(36), nullable=False),  # an incoming payment's id
        sa.Column("quote_id", sa.String(36), nullable=True),
        *bigints("debit", "receive", "sent"),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("client", sa.String(1024), nullable=False),
        sa.Column("ledger_kind", sa.String(16), nullable=False),  # payment, transfer
        *bigints("ledger_id", "created_ns"),
    )
    op.create_table(
        "op_streams",
        sa.Column("grant_id", sa.String(36), nullable=False),
        *bigints("merchant_id", "customer_id"),
        # hold_id: the reserve in force; accrued: owed, not yet settled; payments: accrued
        # since settlement; expires_ns: of the hold.
        *money("hold_id", "reserved", "accrued", "payments", "expires_ns", "last_ns"),
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
    drop_tables(
        "op_streams",
        "op_outgoing_payments",
        "op_quotes",
        "op_incoming_payments",
        "op_tokens",
        "op_grants",
        "op_client_keys",
    )
