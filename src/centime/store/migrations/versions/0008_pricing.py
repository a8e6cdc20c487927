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
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import amounts, bigints, drop_tables, key, status

revision = "0008_pricing"
down_revision = "0007_payouts"


def upgrade() -> None:
    op.create_table(
        "pricing_rule_sets",
        key("version"),
        sa.Column("rules", sa.Text, nullable=False),  # canonical JSON; integers as strings
        sa.Column("digest", sa.String(32), nullable=False),  # BLAKE2b-128 hex of rules
        sa.Column("note", sa.String(500), nullable=True),
        *bigints("published_ns"),
    )
    op.create_table(
        "merchant_volumes",
        key("merchant_id"),
        key("asset", sa.String(12)),
        key("month", sa.Integer),  # year * 12 + month - 1 (UTC)
        *amounts("volume"),
    )
    op.create_table(
        "promo_codes",
        key(),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("discount_bp", sa.Integer, nullable=False),
        *bigints("discount_max"),  # per payment
        *amounts("min_amount"),
        *bigints("uses_max"),
        sa.Column("per_customer_max", sa.Integer, nullable=False),
        # budget: total discounts, at most
        *bigints("budget", "expires_ns"),
        *amounts("uses", "spent"),
        *bigints("created_ns"),
    )
    op.create_table(
        "promo_redemptions",
        key("payment_id"),
        *bigints("code_id", "customer_id", "discount", "created_ns"),
    )
    op.create_index("promo_redemptions_by_code", "promo_redemptions", ["code_id", "customer_id"])
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("pricing_version", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("fee_rule", sa.String(64), nullable=True))
        # discount: paid by the promotions budget; discount_refunded: given back to it
        for column in amounts("discount", "discount_refunded"):
            batch.add_column(column)
        batch.add_column(sa.Column("promo_code_id", sa.BigInteger, nullable=True))
    with op.batch_alter_table("topups") as batch:
        batch.add_column(sa.Column("pricing_version", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("bonus_rule", sa.String(64), nullable=True))
        batch.add_column(*amounts("bonus"))
    _referrals()


def _referrals() -> None:
    op.create_table(
        "referral_codes",
        key("code", sa.String(16)),
        sa.Column("owner_kind", sa.String(8), nullable=False),  # customer, merchant
        *bigints("owner_id", "created_ns"),
        sa.UniqueConstraint("owner_kind", "owner_id", name="referral_codes_one_per_owner"),
    )
    op.create_table(
        "referrals",
        key("referred_kind", sa.String(8)),
        key("referred_id"),
        sa.Column("referrer_kind", sa.String(8), nullable=False),
        *bigints("referrer_id"),
        status(),  # pending, rewarded, refused
        sa.Column("asset", sa.String(12), nullable=True),
        *amounts("referrer_reward", "referred_reward"),
        sa.Column("detail", sa.String(200), nullable=True),
        *bigints("pricing_version", nullable=True),
        *bigints("created_ns"),
        *bigints("decided_ns", nullable=True),
    )
    op.create_index("referrals_by_status", "referrals", ["status", "created_ns"])
    op.create_index("referrals_by_referrer", "referrals", ["referrer_kind", "referrer_id"])
    op.create_table(
        "party_devices",
        key("party_kind", sa.String(8)),
        key("party_id"),
        # BLAKE2b hex, not the id
        key("device_hash", sa.String(64)),
        *bigints("seen_ns"),
    )
    op.create_index("party_devices_by_hash", "party_devices", ["device_hash"])


def downgrade() -> None:
    drop_tables(
        "party_devices",
        "referrals",
        "referral_codes",
        "promo_redemptions",
        "promo_codes",
        "merchant_volumes",
        "pricing_rule_sets",
    )
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
