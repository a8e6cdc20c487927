"""Pricing rules, promotion codes, merchants' monthly volumes, referrals.

- ``pricing_rule_sets``: immutable, versioned rule sets (JSON); the highest version is the
  one in force. Rows are only ever inserted.
- ``merchant_volumes``: each merchant's gross payment volume per asset and UTC month,
  updated in the payment's own unit, so a fee tier is known without a scan of payments.
- ``promo_codes`` and ``promo_redemptions``: codes the operator creates, and each use.
- Payments and top-ups record what priced them: the rule set's version, the rule applied
  (text), the discount or bonus and who paid for it.
- ``referral_codes``, ``referrals``, ``party_devices``: a code per customer and merchant,
  who referred whom, and the devices seen at sign-up (hashed) for the shared-identity check.

Revision ID: 0008_pricing
Revises: 0007_payouts
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_pricing"
down_revision = "0007_payouts"
branch_labels = None
depends_on = None

_ID = sa.BigInteger


def _amount(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "pricing_rule_sets",
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("rules", sa.Text, nullable=False),  # canonical JSON; integers as strings
        sa.Column("digest", sa.String(32), nullable=False),  # BLAKE2b-128 hex of rules
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("published_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "merchant_volumes",
        sa.Column("merchant_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("asset", sa.String(12), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),  # year * 12 + month - 1 (UTC)
        _amount("volume"),
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", _ID, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("discount_bp", sa.Integer, nullable=False),
        sa.Column("discount_max", sa.BigInteger, nullable=False),  # per payment
        _amount("min_amount"),
        sa.Column("uses_max", sa.BigInteger, nullable=False),
        sa.Column("per_customer_max", sa.Integer, nullable=False),
        sa.Column("budget", sa.BigInteger, nullable=False),  # total discounts, at most
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        _amount("uses"),
        _amount("spent"),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "promo_redemptions",
        sa.Column("payment_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("code_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("discount", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("promo_redemptions_by_code", "promo_redemptions", ["code_id", "customer_id"])
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("pricing_version", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("fee_rule", sa.String(64), nullable=True))
        batch.add_column(_amount("discount"))  # paid by the promotions budget
        batch.add_column(_amount("discount_refunded"))  # given back to the promotions budget
        batch.add_column(sa.Column("promo_code_id", _ID, nullable=True))
    with op.batch_alter_table("topups") as batch:
        batch.add_column(sa.Column("pricing_version", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("bonus_rule", sa.String(64), nullable=True))
        batch.add_column(_amount("bonus"))
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("owner_kind", sa.String(8), nullable=False),  # customer, merchant
        sa.Column("owner_id", _ID, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("owner_kind", "owner_id", name="referral_codes_one_per_owner"),
    )
    op.create_table(
        "referrals",
        sa.Column("referred_kind", sa.String(8), primary_key=True),
        sa.Column("referred_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("referrer_kind", sa.String(8), nullable=False),
        sa.Column("referrer_id", _ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending, rewarded, refused
        sa.Column("asset", sa.String(12), nullable=True),
        _amount("referrer_reward"),
        _amount("referred_reward"),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("pricing_version", sa.BigInteger, nullable=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("decided_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("referrals_by_status", "referrals", ["status", "created_ns"])
    op.create_index("referrals_by_referrer", "referrals", ["referrer_kind", "referrer_id"])
    op.create_table(
        "party_devices",
        sa.Column("party_kind", sa.String(8), primary_key=True),
        sa.Column("party_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("device_hash", sa.String(64), primary_key=True),  # BLAKE2b hex, not the id
        sa.Column("seen_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("party_devices_by_hash", "party_devices", ["device_hash"])


def downgrade() -> None:
    for table in (
        "party_devices",
        "referrals",
        "referral_codes",
        "promo_redemptions",
        "promo_codes",
        "merchant_volumes",
        "pricing_rule_sets",
    ):
        op.drop_table(table)
    with op.batch_alter_table("topups") as batch:
        for column in ("bonus", "bonus_rule", "pricing_version"):
            batch.drop_column(column)
    with op.batch_alter_table("payments") as batch:
        for column in (
            "promo_code_id",
            "discount_refunded",
            "discount",
            "fee_rule",
            "pricing_version",
        ):
            batch.drop_column(column)
