"""The language a party reads: the notices written for it (``account.notice``) are in it.

``customers.language`` and ``merchants.language``: ``en`` or ``ko``, set when the person
signs up on the web (the page's language) and when they use the language switch; null when
never known, read as English.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_party_language"
down_revision = "0014_risk_labels"

_TABLES = ("customers", "merchants")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
