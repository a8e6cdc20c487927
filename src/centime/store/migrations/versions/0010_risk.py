"""The risk engine in the platform: every decision taken before money moved, and the cases
an analyst reviews (centime.platform.review.screening, centime.platform.review.service).

``risk_decisions`` keeps one row per decision: the event the screen was asked about, the
answer (action, score, reasons, model and rules versions) and, when the screen exposes
them, its features as JSON. ``risk_cases`` keeps one row per REVIEW decision: what is held
(the request to run again at approval), its status, and the analyst's label.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from centime.store.columns import ROW_KEY, bigints, key, strings, where

revision = "0010_risk"
down_revision = "0009_webhooks"


def upgrade() -> None:
    op.create_table(
        "risk_decisions",
        # A batch's decisions have consecutive ids (centime.platform.review.screening): its rows
        # are appended together. SQLite: the id is the rowid (no index of its own), as the
        # ledger's tables have it.
        key("id", ROW_KEY),
        # created_ns: engine time of the record; then the event as the screen saw it
        # (centime.risk.types.RiskEvent), its amount in the asset's scale.
        *bigints("created_ns", "event_ns"),
        sa.Column("event_type", sa.String(32), nullable=False),
        *bigints("amount"),
        sa.Column("asset", sa.String(16), nullable=False),
        *strings(64, "payer", "payee"),
        sa.Column("device", sa.String(128)),
        # instrument: a fingerprint, never the number itself
        *strings(64, "ip", "instrument", nullable=True),
        # What it was about: payment, transfer, hold, topup, customer, merchant; its id.
        sa.Column("subject_kind", sa.String(16), nullable=False),
        *bigints("subject_id"),
        # The answer.
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),  # 0-99
        sa.Column("reasons", sa.Text, nullable=False),  # JSON list of reason codes
        sa.Column("model_version", sa.String(64)),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("features", sa.Text),  # JSON object, when the screen exposes them
        sa.Column("stepped_up", sa.Integer, nullable=False),  # a fresh passkey met STEP_UP
        *bigints("case_id", nullable=True),  # the case a REVIEW opened
    )
    op.create_index("risk_decisions_by_payer", "risk_decisions", ["payer", "created_ns"])
    # A case's related accounts: who else was seen on a device, an IP, an instrument. Partial:
    # most payments (a merchant's batches) carry none, and cost no index entry.
    for column in ("device", "ip", "instrument"):
        op.create_index(
            f"risk_decisions_by_{column}",
            "risk_decisions",
            [column, "payer"],
            **where(f"{column} IS NOT NULL"),
        )
    op.create_table(
        "risk_cases",
        key("id", ROW_KEY),
        *bigints("decision_id"),
        # status: open, approved, declined; party_kind: customer or merchant
        *strings(16, "status", "subject_kind"),
        *bigints("subject_id"),
        *strings(16, "party_kind"),
        *bigints("party_id"),
        sa.Column("asset", sa.String(16), nullable=False),
        *bigints("amount"),  # held (or asked for), in scale
        sa.Column("reserved", sa.Text, nullable=False),  # JSON [[leg, transfer id, amount]]
        sa.Column("request", sa.Text, nullable=False),  # JSON: the operation to run at approval
        sa.Column("label", sa.String(16)),  # fraud, not_fraud (for training)
        *bigints("created_ns"),
        *bigints("resolved_ns", nullable=True),
        sa.Column("resolved_by", sa.String(64)),  # the analyst's key (key_...), or a command
        *bigints("labelled_ns", nullable=True),
    )
    op.create_index("risk_cases_by_status", "risk_cases", ["status", "created_ns", "id"])
    op.create_index("risk_cases_by_time", "risk_cases", ["created_ns", "id"])
    op.create_index(
        "risk_cases_by_subject", "risk_cases", ["subject_kind", "subject_id"], unique=True
    )


def downgrade() -> None:
    op.drop_table("risk_cases")
    op.drop_table("risk_decisions")
