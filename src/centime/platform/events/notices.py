"""Telling a person that one of its credentials changed: a passkey added or removed, its
recovery codes replaced or one used, a bank account for payouts added or removed, an API
confirmation issued, an API key created or revoked.

Each change writes, in the unit that makes it (so the notice exists exactly when the change
does), two outbox rows for the party:

- ``account.credential_changed``: the machine-readable event (what changed, when);
- ``account.notice``: an email-shaped notice (``to``, ``subject``, ``body``, ``language``)
  for the mail relay the operator runs; ``to`` is the party's email address, null when none
  is known. It is written in the party's language (``customers.language`` /
  ``merchants.language``, kept by :func:`remember_language` from the web's sign-up and
  language switch), English when none is known.

Neither is a webhook type: they are for the owner's inbox, not for integrations, and a
merchant's webhook endpoint (which an attacker holding its API key could point anywhere)
must not be where the owner learns of a takeover.
"""

from __future__ import annotations

import enum
from typing import Final

from centime.ledger.units import UnitContext

from ..context import Operation
from .outbox import emit

__all__ = ["LANGUAGES", "NOTICE_TYPES", "Change", "credential_changed", "remember_language"]

LANGUAGES: Final = ("en", "ko")

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
    "en": {
        Change.PASSKEY_ADDED: "A passkey was added to your account",
        Change.PASSKEY_REMOVED: "A passkey was removed from your account",
        Change.RECOVERY_CODES_REPLACED: "Your recovery codes were replaced",
        Change.RECOVERY_CODE_USED: "A recovery code was used to sign in",
        Change.PAYOUT_METHOD_ADDED: "A bank account for payouts was added",
        Change.PAYOUT_METHOD_REMOVED: "A bank account for payouts was removed",
        Change.API_CONFIRMATION_ISSUED: "A bank-account change through the API was allowed",
        Change.API_KEY_CREATED: "An API key was created",
        Change.API_KEY_REVOKED: "An API key was revoked",
    },
    "ko": {
        Change.PASSKEY_ADDED: "계정에 패스키가 추가되었습니다",
        Change.PASSKEY_REMOVED: "계정에서 패스키가 삭제되었습니다",
        Change.RECOVERY_CODES_REPLACED: "복구 코드가 새로 발급되었습니다",
        Change.RECOVERY_CODE_USED: "복구 코드로 로그인했습니다",
        Change.PAYOUT_METHOD_ADDED: "지급받을 은행 계좌가 추가되었습니다",
        Change.PAYOUT_METHOD_REMOVED: "지급받을 은행 계좌가 삭제되었습니다",
        Change.API_CONFIRMATION_ISSUED: "API를 통한 은행 계좌 변경이 허용되었습니다",
        Change.API_KEY_CREATED: "API 키가 생성되었습니다",
        Change.API_KEY_REVOKED: "API 키가 폐기되었습니다",
    },
}
_ADVICE: Final = {
    "en": (
        "If this was you, there is nothing to do. If it was not, sign in with one of your"
        " passkeys or a recovery code now (a recovery sign-in ends every other session),"
        " remove what you do not recognise, and contact support."
    ),
    "ko": (
        "본인이 한 일이라면 따로 하실 일은 없습니다. 본인이 아니라면 지금 패스키나 복구 코드로"
        " 로그인하시고(복구 코드로 로그인하면 다른 모든 세션이 끝납니다), 모르는 항목을 삭제한 뒤"
        " 고객 지원에 연락해 주세요."
    ),
}

_TABLES: Final = {"customer": "customers", "merchant": "merchants"}
DETAIL_LEN_MAX: Final = 200


def _recipient(ctx: UnitContext, party_kind: str, party_id: int) -> tuple[str | None, str]:
    """The party's email address (None when unknown) and language (English when unknown)."""
    table = _TABLES.get(party_kind)
    if table is None:
        return None, LANGUAGES[0]
    rows = ctx.fetch(f"SELECT email, language FROM {table} WHERE id = ?", (party_id,))
    if not rows:
        return None, LANGUAGES[0]
    email, language = rows[0]
    return (
        None if email is None else str(email),
        language if language in LANGUAGES else LANGUAGES[0],
    )


def notice_text(change: Change, detail: str, language: str) -> tuple[str, str]:
    """The notice's subject and body in ``language`` (English for one not spoken)."""
    words = language if language in LANGUAGES else LANGUAGES[0]
    subject = _SUBJECTS[words][change]
    return subject, f"{subject}: {detail}.\n\n{_ADVICE[words]}"


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
    to, language = _recipient(ctx, party_kind, party_id)
    subject, body = notice_text(change, detail, language)
    emit(
        ctx,
        "account.notice",
        party_id,
        {"to": to, "subject": subject, "body": body, "language": language},
    )


def remember_language(party_kind: str, party_id: int, language: str) -> Operation[bool]:
    """Keep the language the party reads (its notices are written in it); False when the
    party or the language is unknown. No ledger event."""

    def unit(ctx: UnitContext) -> bool:
        table = _TABLES.get(party_kind)
        if table is None or language not in LANGUAGES:
            return False
        ctx.execute(f"UPDATE {table} SET language = ? WHERE id = ?", (language, party_id))
        return True

    return Operation(unit, 0)
