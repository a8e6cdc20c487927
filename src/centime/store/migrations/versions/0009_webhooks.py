"""Webhooks and the worker: endpoints, deliveries and their attempts, the outbox cursor, and
the leases that keep two workers from running the same job.

- ``webhook_endpoints``: a merchant's endpoint (URL, the event types it subscribed to), its
  signing secret encrypted at rest (``secret``; ``secret_previous`` until
  ``previous_expires_ns`` after a rotation), and its health (``failing_since_ns``: the
  first of the failures in a row; ``disabled_reason`` once disabled).
- ``webhook_state``: one row. ``subscriptions_version`` changes (to a new random value)
  with every change of an endpoint, so a unit that reads it knows whether its cached view
  of who subscribed to what is current; ``cursor_ns``/``cursor_id`` is where the delivery
  worker stands in the outbox (``created_ns``, ``id`` order).
- ``webhook_deliveries``: one per (event, endpoint), made when the worker walks the
  outbox; ``pending`` until an attempt succeeds (``succeeded``) or the retry schedule is
  spent (``failed``).
- ``webhook_attempts``: the delivery log, one row per HTTP attempt.
- ``job_leases``: one row per periodic job: who holds it until when, and when it is due.
- ``topups_by_update``: the reconciliation report's index (top-ups changed since a time).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from centime.store.columns import bigints, drop_tables, key, status

revision = "0009_webhooks"
down_revision = "0008_pricing"


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        key(),
        *bigints("merchant_id"),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("event_types", sa.Text, nullable=False),  # space-separated, sorted
        sa.Column("enabled", sa.Integer, nullable=False),  # 1 or 0
        sa.Column("disabled_reason", sa.String(32), nullable=True),
        sa.Column("secret", sa.Text, nullable=False),  # AES-GCM, never in clear
        sa.Column("secret_previous", sa.Text, nullable=True),
        *bigints("previous_expires_ns", "failing_since_ns", nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        *bigints("created_ns", "updated_ns"),
    )
    op.create_index("webhook_endpoints_by_merchant", "webhook_endpoints", ["merchant_id"])
    state = op.create_table(
        "webhook_state",
        key("id", sa.Integer),
        *bigints("subscriptions_version", "cursor_ns", "cursor_id"),
    )
    op.bulk_insert(
        state,
        [
            {
                "id": 1,
                "subscriptions_version": secrets.randbits(62) + 1,
                "cursor_ns": 0,
                "cursor_id": 0,
            }
        ],
    )
    op.create_table(
        "webhook_deliveries",
        key(),
        *bigints("endpoint_id", "event_id", "merchant_id"),
        status(),  # pending, succeeded, failed
        sa.Column("attempts", sa.Integer, nullable=False),  # since the last (re)start
        *bigints("next_attempt_ns", nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        *bigints("created_ns", "updated_ns"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="webhook_deliveries_once"),
    )
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_ns"])
    op.create_index(
        "webhook_deliveries_by_endpoint", "webhook_deliveries", ["endpoint_id", "created_ns", "id"]
    )
    op.create_table(
        "webhook_attempts",
        key(),
        *bigints("delivery_id", "endpoint_id", "event_id"),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),  # None: no answer
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(256), nullable=True),
        sa.Column("response", sa.String(1024), nullable=True),  # the body, cut
        *bigints("created_ns"),
    )
    op.create_index(
        "webhook_attempts_by_endpoint", "webhook_attempts", ["endpoint_id", "created_ns", "id"]
    )
    # The daily reconciliation reads the top-ups that changed since a day began.
    op.create_index("topups_by_update", "topups", ["provider", "updated_ns"])
    op.create_table(
        "job_leases",
        key("name", sa.String(64)),
        sa.Column("holder", sa.String(128), nullable=True),
        *bigints("expires_ns", "due_ns"),
    )


def downgrade() -> None:
    op.drop_index("topups_by_update", "topups")
    drop_tables(
        "job_leases",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_state",
        "webhook_endpoints",
    )
