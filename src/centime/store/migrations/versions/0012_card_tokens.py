"""No card, bank account or phone number at rest; no webhook answer kept.

- ``topups``: ``instrument`` now holds the provider's token; ``instrument_fingerprint``
  (HMAC-SHA256 under the platform's instrument key, centime.platform.funding.instruments) and
  ``instrument_last4`` are added. Existing rows are converted: a sandbox top-up's number
  becomes its sandbox token (what the sandbox charges from now on); other providers'
  instruments already were their tokens (the funding port's contract).
- ``risk_cases``: a top-up awaiting review keeps the same three, not the number.
- ``risk_decisions``: a top-up's instrument is its new keyed fingerprint (the old one was an
  unkeyed hash, which a list of card numbers could be matched against); a decision without
  its top-up keeps none.
- ``webhook_attempts``: the ``response`` column (the first KiB of what an endpoint
  answered, which could be an internal service's) is blanked and never written again.

Converting rows needs the instrument key: ``CENTIME_INSTRUMENT_KEY`` or
``CENTIME_INSTRUMENT_KEY_FILE``, or on SQLite the file ``<database>.instrument-key`` (made
when missing, as ``centime serve`` does). A database with no top-ups needs none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

from centime.platform.funding import fingerprint, instrument_key_from_env
from centime.providers.funding import Method
from centime.providers.sandbox import sandbox_token

revision = "0012_card_tokens"
down_revision = "0011_web"

_SANDBOX = "sandbox"
_CHUNK = 500


def upgrade() -> None:
    op.add_column("topups", sa.Column("instrument_fingerprint", sa.String(64), nullable=True))
    op.add_column("topups", sa.Column("instrument_last4", sa.String(4), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # what is overwritten is zeroed, not left in free pages
        bind.execute(sa.text("PRAGMA secure_delete = ON"))
    bind.execute(sa.text("UPDATE webhook_attempts SET response = NULL"))
    key: bytes | None = None
    if (
        bind.execute(sa.text("SELECT 1 FROM topups LIMIT 1")).first() is not None
        or bind.execute(
            sa.text("SELECT 1 FROM risk_cases WHERE subject_kind = 'topup' LIMIT 1")
        ).first()
        is not None
    ):
        key = instrument_key_from_env(_default_key_file(bind))
    if key is not None:
        _convert_topups(bind, key)
        _convert_cases(bind, key)
    bind.execute(
        sa.text(
            "UPDATE risk_decisions SET instrument = (SELECT t.instrument_fingerprint FROM topups t"
            " WHERE t.id = risk_decisions.subject_id) WHERE subject_kind = 'topup'"
        )
    )


def _default_key_file(bind: sa.Connection) -> Path | None:
    url = bind.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(f"{url.database}.instrument-key")


def _vaulted(key: bytes, provider: str, method: str, instrument: str) -> tuple[str, str, str]:
    """(token, fingerprint, last4) of a number kept in clear before this revision."""
    chosen = Method(method)
    token = sandbox_token(chosen, instrument) if provider == _SANDBOX else instrument
    plain = "".join(instrument.split())
    return token, fingerprint(key, chosen, instrument), plain[-4:]


def _convert_topups(bind: sa.Connection, key: bytes) -> None:
    last_id = -(2**63)
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, provider, method, instrument FROM topups"
                " WHERE id > :after AND instrument_fingerprint IS NULL ORDER BY id LIMIT :n"
            ),
            {"after": last_id, "n": _CHUNK},
        ).fetchall()
        if not rows:
            return
        updates = []
        for topup_id, provider, method, instrument in rows:
            token, print_, last4 = _vaulted(key, provider, method, instrument)
            updates.append({"id": topup_id, "token": token, "fp": print_, "last4": last4})
        bind.execute(
            sa.text(
                "UPDATE topups SET instrument = :token, instrument_fingerprint = :fp,"
                " instrument_last4 = :last4 WHERE id = :id"
            ),
            updates,
        )
        last_id = int(rows[-1][0])


def _convert_cases(bind: sa.Connection, key: bytes) -> None:
    rows = bind.execute(
        sa.text("SELECT id, request FROM risk_cases WHERE subject_kind = 'topup'")
    ).fetchall()
    for case_id, text in rows:
        request: dict[str, Any] = json.loads(text)
        if "instrument" not in request or "instrument_fingerprint" in request:
            continue
        token, print_, last4 = _vaulted(
            key, _SANDBOX, request["method"], str(request["instrument"])
        )
        request.update(instrument=token, instrument_fingerprint=print_, instrument_last4=last4)
        bind.execute(
            sa.text("UPDATE risk_cases SET request = :r WHERE id = :id"),
            {"r": json.dumps(request), "id": case_id},
        )


def downgrade() -> None:
    """The columns go; the tokens stay (the numbers are gone for good)."""
    with op.batch_alter_table("topups") as batch:
        batch.drop_column("instrument_last4")
        batch.drop_column("instrument_fingerprint")
