"""Risk labels: what became known about earlier events, and when it became known.

``risk_labels`` keeps one row per label: an analyst's decision on a case, a chargeback or
dispute, an operator's import (``POST /v1/risk/labels``, ``centime risk label``). A label
names its event by time, payer and payee (what the risk engine's features are keyed by), and
carries its ARRIVAL time: the label-feedback features count it from then on, never before.
``(source, external_id)`` is unique: a label sent again is the same label (idempotent).

Revision ID: 0014_risk_labels
Revises: 0011_web
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_risk_labels"
down_revision = "0017_open_payments"
branch_labels = None
depends_on = None

_ROW_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_labels",
        sa.Column("id", _ROW_KEY, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),  # analyst, chargeback, dispute, import
        sa.Column("external_id", sa.String(128), nullable=False),  # unique per source
        sa.Column("event_ns", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(256), nullable=False),
        sa.Column("payee", sa.String(256), nullable=False),  # "" when none
        sa.Column("label", sa.String(16), nullable=False),  # fraud, not_fraud
        sa.Column("arrived_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("risk_labels_by_key", "risk_labels", ["source", "external_id"], unique=True)
    op.create_index("risk_labels_by_arrival", "risk_labels", ["arrived_ns", "id"])


def downgrade() -> None:
    op.drop_table("risk_labels")
