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
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, drop_tables, key, money, status

revision = "0011_web"
down_revision = "0010_risk"


def _who() -> list[sa.Column[object]]:
    """The party a person acts as, and the person's name."""
    return [
        sa.Column("kind", sa.String(16), nullable=False),  # customer, merchant, operator
        *bigints("party_id"),  # OPERATOR (0) for operators
        sa.Column("role", sa.String(16), nullable=True),  # operators: admin, analyst
        sa.Column("name", sa.String(200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table("web_users", key(), *_who(), *bigints("created_ns"))
    op.create_index("web_users_by_party", "web_users", ["kind", "party_id"])
    op.create_table(
        "passkeys",
        key("credential_id", sa.String(1400)),  # base64url
        *bigints("user_id"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE key
        *bigints("sign_count", "created_ns"),
        *bigints("last_used_ns", nullable=True),
    )
    op.create_index("passkeys_by_user", "passkeys", ["user_id"])
    op.create_table(
        "recovery_codes",
        key("code_hash", sa.LargeBinary),
        *bigints("user_id"),
        *bigints("used_ns", nullable=True),
    )
    op.create_index("recovery_codes_by_user", "recovery_codes", ["user_id"])
    op.create_table(
        "webauthn_challenges",
        key("challenge_hash", sa.LargeBinary),
        sa.Column("purpose", sa.String(16), nullable=False),  # register, login, stepup
        *bigints("user_id", nullable=True),
        sa.Column("data", sa.Text, nullable=False),  # JSON: what the ceremony is for
        *bigints("expires_ns"),
    )
    op.create_index("webauthn_challenges_by_expiry", "webauthn_challenges", ["expires_ns"])
    op.create_table(
        "web_enrollments",
        key("token_hash", sa.LargeBinary),
        *_who(),
        *bigints("expires_ns"),
        *bigints("used_ns", nullable=True),
    )
    op.create_table(
        "web_sessions",
        key("id_hash", sa.LargeBinary),
        *bigints("user_id", "created_ns", "expires_ns"),
        *bigints("stepped_up_ns", "ended_ns", nullable=True),
    )
    op.create_index("web_sessions_by_user", "web_sessions", ["user_id"])
    op.create_table(
        "payment_links",
        key(),
        *bigints("merchant_id"),
        *money("amount"),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("single_use", sa.Boolean, nullable=False),
        status(),  # active, used, disabled
        *bigints("paid_count", "created_ns"),
    )
    op.create_index("payment_links_by_merchant", "payment_links", ["merchant_id", "id"])
    op.create_table(
        "pay_budgets",
        key(),  # = hold id
        *bigints("customer_id", "merchant_id"),
        *money("amount", "used", "uses"),
        status(),  # open, settled
        *bigints("expires_at_ns", "created_ns"),
    )
    op.create_index("pay_budgets_by_party", "pay_budgets", ["customer_id", "merchant_id"])
    op.create_index("pay_budgets_by_expiry", "pay_budgets", ["status", "expires_at_ns"])


def downgrade() -> None:
    drop_tables(
        "pay_budgets",
        "payment_links",
        "web_sessions",
        "web_enrollments",
        "webauthn_challenges",
        "recovery_codes",
        "passkeys",
        "web_users",
    )
