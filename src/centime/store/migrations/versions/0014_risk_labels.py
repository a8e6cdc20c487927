"""Risk labels: what became known about earlier events, and when it became known.

``risk_labels`` keeps one row per label: an analyst's decision on a case, a chargeback or
dispute, an operator's import (``POST /v1/risk/labels``, ``centime risk label``). A label
names its event by time, payer and payee (what the risk engine's features are keyed by), and
carries its ARRIVAL time: the label-feedback features count it from then on, never before.
``(source, external_id)`` is unique: a label sent again is the same label (idempotent).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import ROW_KEY, bigints, key, strings

revision = "0014_risk_labels"
down_revision = "0017_open_payments"


def upgrade() -> None:
    op.create_table(
        "risk_labels",
        key("id", ROW_KEY, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),  # analyst, chargeback, dispute, import
        sa.Column("external_id", sa.String(128), nullable=False),  # unique per source
        *bigints("event_ns"),
        *strings(256, "payer", "payee"),  # payee: "" when none
        sa.Column("label", sa.String(16), nullable=False),  # fraud, not_fraud
        *bigints("arrived_ns"),
    )
    op.create_index("risk_labels_by_key", "risk_labels", ["source", "external_id"], unique=True)
    op.create_index("risk_labels_by_arrival", "risk_labels", ["arrived_ns", "id"])


def downgrade() -> None:
    op.drop_table("risk_labels")
