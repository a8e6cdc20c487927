"""The web apps: people who sign in with passkeys, their sessions, and hosted checkout.

- ``web_users``: a person who signs in, mapped to the party it acts as (a customer, a
  merchant, or the operator with a role).
- ``passkeys``: WebAuthn credentials (public key, sign counter), several per person.
- ``recovery_codes``: one-time codes, SHA-256 only (each is 79 random bits).
- ``webauthn_challenges``: challenges handed out, single use, short lived, kept server-side.
- ``web_enrollments``: one-time links that let a person register a passkey for an existing
  party (the demo's accounts, an operator invited by the command line); hashed.
- ``web_sessions``: signed-in sessions, by the SHA-256 of their random id.
- ``payment_links``: a merchant's link to a hosted payment page (single or multi use).
- ``pay_budgets``: a spending budget a customer approved for a merchant (a metered hold) and
  what one-click payments used of it.

Revision ID: 0011_web
Revises: 0010_risk
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_web"
down_revision = "0010_risk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),  # customer, merchant, operator
        sa.Column("party_id", sa.BigInteger, nullable=False),  # OPERATOR (0) for operators
        sa.Column("role", sa.String(16), nullable=True),  # operators: admin, analyst
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("web_users_by_party", "web_users", ["kind", "party_id"])
    op.create_table(
        "passkeys",
        sa.Column("credential_id", sa.String(1400), primary_key=True),  # base64url
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE key
        sa.Column("sign_count", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("last_used_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("passkeys_by_user", "passkeys", ["user_id"])
    op.create_table(
        "recovery_codes",
        sa.Column("code_hash", sa.LargeBinary, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("used_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("recovery_codes_by_user", "recovery_codes", ["user_id"])
    op.create_table(
        "webauthn_challenges",
        sa.Column("challenge_hash", sa.LargeBinary, primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),  # register, login, stepup
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("data", sa.Text, nullable=False),  # JSON: what the ceremony is for
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("webauthn_challenges_by_expiry", "webauthn_challenges", ["expires_ns"])
    op.create_table(
        "web_enrollments",
        sa.Column("token_hash", sa.LargeBinary, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("party_id", sa.BigInteger, nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("used_ns", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.LargeBinary, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("stepped_up_ns", sa.BigInteger, nullable=True),
        sa.Column("ended_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("web_sessions_by_user", "web_sessions", ["user_id"])
    op.create_table(
        "payment_links",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("merchant_id", sa.BigInteger, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("single_use", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # active, used, disabled
        sa.Column("paid_count", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("payment_links_by_merchant", "payment_links", ["merchant_id", "id"])
    op.create_table(
        "pay_budgets",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # = hold id
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("merchant_id", sa.BigInteger, nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.Column("uses", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # open, settled
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("pay_budgets_by_party", "pay_budgets", ["customer_id", "merchant_id"])
    op.create_index("pay_budgets_by_expiry", "pay_budgets", ["status", "expires_at_ns"])


def downgrade() -> None:
    for table in (
        "pay_budgets",
        "payment_links",
        "web_sessions",
        "web_enrollments",
        "webauthn_challenges",
        "recovery_codes",
        "passkeys",
        "web_users",
    ):
        op.drop_table(table)
