"""API confirmations: how an API key gets to change where a merchant's money goes.

An API key is a server's long-lived secret; whoever steals one must not be able to point
the merchant's payouts at their own bank account. Changing a payout method through the API
(``POST /v1/payout-methods``, ``POST /v1/payout-methods/{id}/remove``) therefore also needs a
*confirmation*: a token a person of that merchant (or an operator admin, for any merchant)
minted on the web right after confirming with a passkey it had before
(:func:`centime.auth.sessions.credential_confirmed`). It is sent in the
``Centime-Confirmation`` header, is single use, lapses after ``CONFIRMATION_TTL_S``, is
kept as SHA-256 only, and minting one tells the owner (:mod:`centime.platform.events.notices`).

"Single use" allows the retry the API promises: the token is spent on one change (``add:``
or ``remove:`` and the method's id, derived from the Idempotency-Key), and the same change
sent again finds it spent on itself and goes on.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from centime.ledger.units import UnitContext
from centime.platform.chart import OPERATOR
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.events import Change, credential_changed

from .passkeys import Role, UserKind, WebUser, confirmation_refusal

__all__ = [
    "CONFIRMATION_HEADER",
    "CONFIRMATION_TTL_S",
    "PREFIX",
    "mint_confirmation",
    "spend_confirmation",
]

CONFIRMATION_HEADER: Final = "centime-confirmation"
CONFIRMATION_TTL_S: Final = 10 * 60
PREFIX: Final = "cfm_"
TOKEN_LEN_MAX: Final = 100
NS_PER_S: Final = 1_000_000_000
SWEPT_MAX: Final = 1000


def _hash(token: str) -> bytes:
    return hashlib.sha256(token[:TOKEN_LEN_MAX].encode("utf-8", "replace")).digest()


def mint_confirmation(
    platform: Platform, user: WebUser, session_hash: bytes
) -> Operation[str | Refusal]:
    """A new token for ``user``'s party (a merchant, or the operator for an admin), from a
    session confirmed lately with an existing credential; returned once."""
    allowed = user.kind is UserKind.MERCHANT or (
        user.kind is UserKind.OPERATOR and user.role is Role.ADMIN
    )
    token = PREFIX + secrets.token_urlsafe(32)

    def unit(ctx: UnitContext) -> str | Refusal:
        if not allowed:
            return Refusal(Code.INVALID_REQUEST, "only merchants and operator admins need one")
        refusal = confirmation_refusal(ctx, user.id, session_hash)
        if refusal is not None:
            return refusal
        ctx.execute(
            "DELETE FROM api_confirmations WHERE token_hash IN (SELECT token_hash FROM"
            f" api_confirmations WHERE expires_ns <= ? LIMIT {SWEPT_MAX})",
            (ctx.now_ns,),
        )
        ctx.execute(
            "INSERT INTO api_confirmations (token_hash, user_id, party_kind, party_id,"
            " created_ns, expires_ns, used_ns, used_for) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                _hash(token),
                user.id,
                user.kind.value,
                user.party_id,
                ctx.now_ns,
                ctx.now_ns + CONFIRMATION_TTL_S * NS_PER_S,
            ),
        )
        credential_changed(
            ctx,
            user.kind.value,
            user.party_id,
            Change.API_CONFIRMATION_ISSUED,
            f"valid {CONFIRMATION_TTL_S // 60} minutes, for one bank-account change",
        )
        return token

    return Operation(unit, 0)


def spend_confirmation(
    ctx: UnitContext, token: str | None, merchant_id: int, used_for: str
) -> Refusal | None:
    """Spend ``token`` on ``used_for`` for the merchant, or the refusal: it must be
    unexpired, the merchant's own or an operator admin's, and unspent or spent on this very
    change (a retry). The UPDATE's condition settles a race between two changes."""
    refused = Refusal(
        Code.STEP_UP_REQUIRED,
        "this change needs a confirmation: a person of the merchant confirms with a passkey"
        " on the dashboard and passes the token in the Centime-Confirmation header",
    )
    if not token or not token.startswith(PREFIX) or len(token) > TOKEN_LEN_MAX:
        return refused
    key = _hash(token)
    rows = ctx.fetch(
        "SELECT party_kind, party_id FROM api_confirmations WHERE token_hash = ?", (key,)
    )
    ours = bool(rows) and (
        (rows[0][0] == UserKind.MERCHANT.value and int(rows[0][1]) == merchant_id)
        or (rows[0][0] == UserKind.OPERATOR.value and int(rows[0][1]) == OPERATOR)
    )
    if not ours:
        return refused
    spent = ctx.execute(
        "UPDATE api_confirmations SET used_ns = ?, used_for = ? WHERE token_hash = ?"
        " AND expires_ns > ? AND (used_ns IS NULL OR used_for = ?)",
        (ctx.now_ns, used_for[:80], key, ctx.now_ns, used_for[:80]),
    )
    return None if spent == 1 else refused
