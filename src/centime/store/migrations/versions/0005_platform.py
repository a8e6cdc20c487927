"""The platform's tables: parties, their operations, API keys and idempotent responses.

Money lives in the ledger; these rows say what the money movements were for (a payment of
customer C to merchant M, its fee, what was refunded of it) and are written by write units
in the same transaction as the ledger chain they describe (centime.ledger.units). Amounts
are integers in the asset's scale, like the ledger's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from centime.store.columns import (
    ROW_KEY,
    amounts,
    bigints,
    drop_tables,
    key,
    money,
    newest_first,
    status,
    strings,
)

revision = "0005_platform"
down_revision = "0004_audit"


def _party(*fee: sa.Column[int]) -> list[sa.Column[Any]]:
    """A customer's or merchant's columns (a merchant's add its fee)."""
    return [
        key(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True, unique=True),
        status(),  # active, frozen, closed
        sa.Column("kyc_tier", sa.Integer, nullable=False),
        *fee,
        *bigints("created_ns"),
    ]


def upgrade() -> None:
    op.create_table("customers", *_party())
    op.create_table(
        "merchants",
        # basis points of each payment
        *_party(sa.Column("fee_bp", sa.Integer, nullable=False)),
    )
    # The fixed part of a merchant's fee, per asset (in that asset's scale).
    op.create_table(
        "merchant_fixed_fees",
        *bigints("merchant_id"),
        *money("fee_fixed"),
        sa.PrimaryKeyConstraint("merchant_id", "asset"),
    )
    _topups()
    # Payments: on SQLite the id is the table's rowid (ROW_KEY). A batch's payments have
    # consecutive ids (the API gives them the batch's id with the index in the low bits),
    # and 8189 such rows went in in 57 ms against 79 ms (medians of 55 batches side by
    # side). Elsewhere ids are random, and random rowids cost more than a random key in an
    # index (158 ms against 118 ms): BIGINT keys.
    op.create_table(
        "payments",
        key("id", ROW_KEY),
        *bigints("customer_id", "merchant_id"),
        *money("amount", "fee"),
        # restricted_amount: the part paid from restricted money
        *amounts("restricted_amount", "refunded", "fee_refunded", "restricted_refunded"),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        # hold_id: set when a hold's capture made it; mandate_id: the consent a merchant
        # charged under.
        *bigints("hold_id", "mandate_id", nullable=True),
        *bigints("created_ns"),
        # The ledger transfers that carried the fee, the restricted part and the wallet part
        # (a unit's payments travel together: see docs/platform.md).
        *bigints("fee_transfer_id", "restricted_transfer_id", "wallet_transfer_id", nullable=True),
    )
    newest_first("payments", "merchant", "customer")
    op.create_table(
        "refunds",
        key(),
        *bigints("payment_id", "customer_id", "merchant_id"),
        *money("amount", "fee_returned"),
        *amounts("restricted_amount"),
        sa.Column("reason", sa.String(500), nullable=True),
        *bigints("created_ns"),
    )
    newest_first("refunds", "payment", "merchant")
    _holds_and_transfers()
    _keys_and_mandates()
    # The operator's listings of customers and merchants, newest first (the API's keyset).
    op.create_index("customers_by_created", "customers", ["created_ns", "id"])
    op.create_index("merchants_by_created", "merchants", ["created_ns", "id"])


def _topups() -> None:
    # A top-up's row says what the ledger did for it (centime.platform.funding.topups): the
    # customer's wallet got ``amount`` (card, bank transfer) or the restricted balance did
    # (carrier) once it succeeded; ``released`` moved from restricted to the wallet at
    # settlement; a chargeback took ``chargeback_restricted`` + ``chargeback_wallet`` from
    # the customer and booked ``chargeback_loss`` to the operator's losses (their sum:
    # ``charged_back``).
    op.create_table(
        "topups",
        key(),
        *bigints("customer_id"),
        *money("amount"),
        sa.Column("method", sa.String(16), nullable=False),  # card, bank_transfer, carrier
        sa.Column("instrument", sa.String(64), nullable=False),  # token, account, phone
        sa.Column("provider", sa.String(32), nullable=False),
        # pending, succeeded, declined, failed, charged_back
        status(),
        # provider_ref: null until accepted
        *strings(64, "provider_ref", "failure_code", nullable=True),
        sa.Column("failure_message", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),  # charge calls made
        sa.Column("restricted", sa.Integer, nullable=False),  # 1: carrier-billed
        # settles_at_ns: expected settlement (carrier, once succeeded)
        *bigints("settles_at_ns", "settled_ns", nullable=True),
        *amounts(
            "released",
            "charged_back",
            "chargeback_restricted",
            "chargeback_wallet",
            "chargeback_loss",
        ),
        *bigints("created_ns", "updated_ns"),
        sa.UniqueConstraint("provider", "provider_ref", name="topups_provider_ref"),
    )
    newest_first("topups", "customer")
    op.create_index("topups_by_status", "topups", ["status", "settles_at_ns"])


def _holds_and_transfers() -> None:
    op.create_table(
        "holds",
        key(),
        *bigints("customer_id", "merchant_id"),
        *money("amount"),
        *amounts("restricted_amount", "captured"),
        # authorized, captured, released, expired
        status(),
        sa.Column("description", sa.String(500), nullable=True),
        *bigints("expires_at_ns"),
        *bigints("resolved_ns", "payment_id", "mandate_id", nullable=True),
        *bigints("created_ns"),
    )
    newest_first("holds", "merchant", "customer")
    op.create_index("holds_by_status", "holds", ["status", "expires_at_ns"])  # expire_holds
    op.create_table(
        "p2p_transfers",
        key(),
        *bigints("sender_id", "recipient_id"),
        *money("amount"),
        sa.Column("note", sa.String(500), nullable=True),
        *bigints("created_ns"),
    )
    newest_first("p2p_transfers", "sender", "recipient", prefix="p2p")


def _keys_and_mandates() -> None:
    op.create_table(
        "api_keys",
        key(),
        sa.Column("owner_kind", sa.String(16), nullable=False),  # merchant, operator
        *bigints("owner_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),  # never the secret itself
        sa.Column("scopes", sa.String(200), nullable=False),  # space-separated
        *bigints("created_ns"),
        *bigints("revoked_ns", nullable=True),
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
        *bigints("created_ns"),
        sa.PrimaryKeyConstraint("principal", "key"),
    )
    op.create_index("idempotency_keys_by_age", "idempotency_keys", ["created_ns"])
    # A customer's consent that a merchant may charge it up to amount_max_daily a day
    # (centime.platform.payments.mandates); spent_today is what was charged on ``day`` (UTC
    # day number).
    op.create_table(
        "mandates",
        key(),
        *bigints("customer_id", "merchant_id"),
        *money("amount_max_daily"),
        status(),  # active, revoked
        *amounts("spent_today"),
        *bigints("day", "created_ns"),
        *bigints("revoked_ns", nullable=True),
    )
    newest_first("mandates", "customer", "merchant")


def downgrade() -> None:
    drop_tables(
        "mandates",
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
    )
