"""The platform's tables: parties, their operations, API keys and idempotent responses.

Money lives in the ledger; these rows say what the money movements were for (a payment of
customer C to merchant M, its fee, what was refunded of it) and are written by write units
in the same transaction as the ledger chain they describe (centime.ledger.units). Amounts
are integers in the asset's scale, like the ledger's.

Revision ID: 0005_platform
Revises: 0004_audit
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_platform"
down_revision = "0004_audit"
branch_labels = None
depends_on = None

_ID = sa.BigInteger


# Payments: on SQLite the id is the table's rowid (INTEGER PRIMARY KEY), one B-tree instead of
# a table plus a primary-key index. A batch's payments have consecutive ids (the API gives
# them the batch's id with the index in the low bits), and 8189 such rows went in in 57 ms
# against 79 ms (medians of 55 batches side by side). Elsewhere ids are random, and random
# rowids cost more than a random key in an index (158 ms against 118 ms): BIGINT keys.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id(*, rowid: bool = False) -> sa.Column[int]:
    return sa.Column("id", _ROW_ID if rowid else _ID, primary_key=True, autoincrement=False)


def _ns(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def _amount(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "customers",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),  # active, frozen, closed
        sa.Column("kyc_tier", sa.Integer, nullable=False),
        _ns("created_ns"),
    )
    op.create_table(
        "merchants",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kyc_tier", sa.Integer, nullable=False),
        sa.Column("fee_bp", sa.Integer, nullable=False),  # basis points of each payment
        _ns("created_ns"),
    )
    # The fixed part of a merchant's fee, per asset (in that asset's scale).
    op.create_table(
        "merchant_fixed_fees",
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("fee_fixed", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "asset"),
    )
    # A top-up's row says what the ledger did for it (centime.platform.funding.topups): the
    # customer's
    # wallet got ``amount`` (card, bank transfer) or the restricted balance did (carrier) once
    # it succeeded; ``released`` moved from restricted to the wallet at settlement; a
    # chargeback took ``chargeback_restricted`` + ``chargeback_wallet`` from the customer
    # and booked ``chargeback_loss`` to the operator's losses (their sum: ``charged_back``).
    op.create_table(
        "topups",
        _id(),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),  # card, bank_transfer, carrier
        sa.Column("instrument", sa.String(64), nullable=False),  # token, account, phone
        sa.Column("provider", sa.String(32), nullable=False),
        # pending, succeeded, declined, failed, charged_back
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(64), nullable=True),  # null until accepted
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),  # charge calls made
        sa.Column("restricted", sa.Integer, nullable=False),  # 1: carrier-billed
        _ns("settles_at_ns", nullable=True),  # expected settlement (carrier, once succeeded)
        _ns("settled_ns", nullable=True),
        _amount("released"),
        _amount("charged_back"),
        _amount("chargeback_restricted"),
        _amount("chargeback_wallet"),
        _amount("chargeback_loss"),
        _ns("created_ns"),
        _ns("updated_ns"),
        sa.UniqueConstraint("provider", "provider_ref", name="topups_provider_ref"),
    )
    op.create_index("topups_by_customer", "topups", ["customer_id", "created_ns"])
    op.create_index("topups_by_status", "topups", ["status", "settles_at_ns"])
    op.create_table(
        "payments",
        _id(rowid=True),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        _amount("restricted_amount"),  # the part paid from restricted money
        _amount("refunded"),
        _amount("fee_refunded"),
        _amount("restricted_refunded"),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("hold_id", _ID, nullable=True),  # set when a hold's capture made it
        sa.Column("mandate_id", _ID, nullable=True),  # the consent a merchant charged under
        _ns("created_ns"),
        # The ledger transfers that carried the fee, the restricted part and the wallet part
        # (a unit's payments travel together: see docs/platform.md).
        sa.Column("fee_transfer_id", _ID, nullable=True),
        sa.Column("restricted_transfer_id", _ID, nullable=True),
        sa.Column("wallet_transfer_id", _ID, nullable=True),
    )
    op.create_index("payments_by_merchant", "payments", ["merchant_id", "created_ns"])
    op.create_index("payments_by_customer", "payments", ["customer_id", "created_ns"])
    op.create_table(
        "refunds",
        _id(),
        sa.Column("payment_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("fee_returned", sa.BigInteger, nullable=False),
        _amount("restricted_amount"),
        sa.Column("reason", sa.String(500), nullable=True),
        _ns("created_ns"),
    )
    op.create_index("refunds_by_payment", "refunds", ["payment_id", "created_ns"])
    op.create_index("refunds_by_merchant", "refunds", ["merchant_id", "created_ns"])
    op.create_table(
        "holds",
        _id(),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        _amount("restricted_amount"),
        _amount("captured"),
        # authorized, captured, released, expired
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        _ns("expires_at_ns"),
        _ns("resolved_ns", nullable=True),
        sa.Column("payment_id", _ID, nullable=True),
        sa.Column("mandate_id", _ID, nullable=True),
        _ns("created_ns"),
    )
    op.create_index("holds_by_merchant", "holds", ["merchant_id", "created_ns"])
    op.create_index("holds_by_customer", "holds", ["customer_id", "created_ns"])
    op.create_index("holds_by_status", "holds", ["status", "expires_at_ns"])  # expire_holds
    op.create_table(
        "p2p_transfers",
        _id(),
        sa.Column("sender_id", _ID, nullable=False),
        sa.Column("recipient_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        _ns("created_ns"),
    )
    op.create_index("p2p_by_sender", "p2p_transfers", ["sender_id", "created_ns"])
    op.create_index("p2p_by_recipient", "p2p_transfers", ["recipient_id", "created_ns"])
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("owner_kind", sa.String(16), nullable=False),  # merchant, operator
        sa.Column("owner_id", _ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),  # never the secret itself
        sa.Column("scopes", sa.String(200), nullable=False),  # space-separated
        _ns("created_ns"),
        _ns("revoked_ns", nullable=True),
    )
    # An owner's keys, newest first (centime.auth.keys.list_keys).
    op.create_index("api_keys_by_owner", "api_keys", ["owner_kind", "owner_id", "created_ns"])
    # The first response to each (principal, Idempotency-Key), replayed for a retry.
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.LargeBinary, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        _ns("created_ns"),
        sa.PrimaryKeyConstraint("principal", "key"),
    )
    op.create_index("idempotency_keys_by_age", "idempotency_keys", ["created_ns"])
    # A customer's consent that a merchant may charge it up to amount_max_daily a day
    # (centime.platform.payments.mandates); spent_today is what was charged on ``day`` (UTC day
    # number).
    op.create_table(
        "mandates",
        _id(),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount_max_daily", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # active, revoked
        _amount("spent_today"),
        sa.Column("day", sa.BigInteger, nullable=False),
        _ns("created_ns"),
        _ns("revoked_ns", nullable=True),
    )
    op.create_index("mandates_by_customer", "mandates", ["customer_id", "created_ns"])
    op.create_index("mandates_by_merchant", "mandates", ["merchant_id", "created_ns"])
    # The operator's listings of customers and merchants, newest first (the API's keyset).
    op.create_index("customers_by_created", "customers", ["created_ns", "id"])
    op.create_index("merchants_by_created", "merchants", ["created_ns", "id"])


def downgrade() -> None:
    op.drop_table("mandates")
    for table in (
        "idempotency_keys",
        "api_keys",
        "p2p_transfers",
        "holds",
        "refunds",
        "payments",
        "topups",
        "merchant_fixed_fees",
        "merchants",
        "customers",
    ):
        op.drop_table(table)
