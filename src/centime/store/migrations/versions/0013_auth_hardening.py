"""Account-takeover hardening: which credential confirmed a session, which session added a
passkey, and the one-time confirmations that let an API key change a bank account.

- ``web_sessions.confirmed_by``: what the session's last confirmation was made with (a
  passkey's credential id, or ``recovery`` for a recovery-code sign-in);
  ``confirmed_key_created_ns``: when that passkey was registered.
- ``passkeys.added_session_hash``: the session that registered the passkey (NULL for a
  sign-up's or an enrollment's first passkey). A confirmation made with a passkey its own
  session added does not count for credential changes.
- ``api_confirmations``: a token (SHA-256 only) a person minted on the web after a fresh
  confirmation, bound to its party, single use, short lived; ``POST /v1/payout-methods``
  and its removal need one in ``Centime-Confirmation``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, key

revision = "0013_auth_hardening"
down_revision = "0012_card_tokens"


def upgrade() -> None:
    op.add_column("web_sessions", sa.Column("confirmed_by", sa.String(1400), nullable=True))
    op.add_column(
        "web_sessions", sa.Column("confirmed_key_created_ns", sa.BigInteger, nullable=True)
    )
    op.add_column("passkeys", sa.Column("added_session_hash", sa.LargeBinary, nullable=True))
    op.create_table(
        "api_confirmations",
        key("token_hash", sa.LargeBinary),
        *bigints("user_id"),
        sa.Column("party_kind", sa.String(16), nullable=False),  # merchant, operator
        *bigints("party_id", "created_ns", "expires_ns"),
        *bigints("used_ns", nullable=True),
        sa.Column("used_for", sa.String(80), nullable=True),  # e.g. "add:<method id>"
    )
    op.create_index("api_confirmations_by_expiry", "api_confirmations", ["expires_ns"])


def downgrade() -> None:
    op.drop_table("api_confirmations")
    with op.batch_alter_table("passkeys") as batch:
        batch.drop_column("added_session_hash")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("confirmed_key_created_ns")
        batch.drop_column("confirmed_by")
