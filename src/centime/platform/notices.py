"""Telling a person that one of its credentials changed: a passkey added or removed, its
recovery codes replaced or one used, a bank account for payouts added or removed, an API
confirmation issued, an API key created or revoked.

Each change writes, in the unit that makes it (so the notice exists exactly when the change
does), two outbox rows for the party:

- ``account.credential_changed``: the machine-readable event (what changed, when);
- ``account.notice``: an email-shaped notice (``to``, ``subject``, ``body``) for the mail
  relay the operator runs; ``to`` is the party's email address, null when none is known.

Neither is a webhook type: they are for the owner's inbox, not for integrations, and a
merchant's webhook endpoint (which an attacker holding its API key could point anywhere)
must not be where the owner learns of a takeover.
"""

from __future__ import annotations

import enum
from typing import Final

from centime.ledger.units import UnitContext

from .outbox import emit

__all__ = ["NOTICE_TYPES", "Change", "credential_changed"]

NOTICE_TYPES: Final = ("account.credential_changed", "account.notice")


class Change(enum.Enum):
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced"
    RECOVERY_CODE_USED = "recovery_code_used"
    PAYOUT_METHOD_ADDED = "payout_method_added"
    PAYOUT_METHOD_REMOVED = "payout_method_removed"
    API_CONFIRMATION_ISSUED = "api_confirmation_issued"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"


_SUBJECTS: Final = {
    Change.PASSKEY_ADDED: "A passkey was added to your account",
    Change.PASSKEY_REMOVED: "A passkey was removed from your account",
    Change.RECOVERY_CODES_REPLACED: "Your recovery codes were replaced",
    Change.RECOVERY_CODE_USED: "A recovery code was used to sign in",
    Change.PAYOUT_METHOD_ADDED: "A bank account for payouts was added",
    Change.PAYOUT_METHOD_REMOVED: "A bank account for payouts was removed",
    Change.API_CONFIRMATION_ISSUED: "A bank-account change through the API was allowed",
    Change.API_KEY_CREATED: "An API key was created",
    Change.API_KEY_REVOKED: "An API key was revoked",
}

_TABLES: Final = {"customer": "customers", "merchant": "merchants"}
DETAIL_LEN_MAX: Final = 200


def _email(ctx: UnitContext, party_kind: str, party_id: int) -> str | None:
    table = _TABLES.get(party_kind)
    if table is None:
        return None
    rows = ctx.fetch(f"SELECT email FROM {table} WHERE id = ?", (party_id,))
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def credential_changed(
    ctx: UnitContext, party_kind: str, party_id: int, change: Change, detail: str
) -> None:
    """Write the event and the notice of ``change`` for the party, in the unit's transaction.
    ``detail`` names what changed (a passkey's name, a bank account's last four), never a
    secret."""
    detail = detail[:DETAIL_LEN_MAX]
    emit(
        ctx,
        "account.credential_changed",
        party_id,
        {
            "party_kind": party_kind,
            "change": change.value,
            "detail": detail,
            "at_ns": str(ctx.now_ns),
        },
    )
    body = (
        f"{_SUBJECTS[change]}: {detail}.\n\n"
        "If this was you, there is nothing to do. If it was not, sign in with one of your"
        " passkeys or a recovery code now (a recovery sign-in ends every other session),"
        " remove what you do not recognise, and contact support."
    )
    emit(
        ctx,
        "account.notice",
        party_id,
        {
            "to": _email(ctx, party_kind, party_id),
            "subject": _SUBJECTS[change],
            "body": body,
        },
    )
