"""GNAP grants and their access tokens, stored (the authorization server's state).

- A grant that needs no interaction is issued at once: its access token in the answer.
- An interactive grant waits (``pending``) until the customer whose wallet it spends from
  consents in the web wallet (``approved``) or refuses (``denied``); the client then
  continues it with the ``interact_ref`` it received at its finish URI and gets the token
  (``issued``). Cancelling revokes the grant and its tokens (``revoked``).
- Access tokens and continuation tokens are 256-bit random values shown once; only their
  SHA-256 is stored. A token expires after ``TOKEN_TTL_S``; rotating replaces it (the old
  one stops working at once), revoking ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

from centime.clock import NS_PER_S
from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform

from .addresses import Wallet
from .errors import OpError

__all__ = [
    "INTERACTION_TTL_S",
    "TOKEN_TTL_S",
    "Grant",
    "Issued",
    "cancel_grant",
    "continue_grant",
    "create_grant",
    "decide_grant",
    "load_grant",
    "load_grant_by_interaction",
    "revoke_token",
    "rotate_token",
    "token_grant",
]

TOKEN_TTL_S: Final = 600
INTERACTION_TTL_S: Final = 600
CONTINUE_WAIT_S: Final = 5
_COLUMNS: Final = (
    "id, client, kid, access, status, continue_hash, interact_id, interact_nonce, finish_uri,"
    " finish_nonce, interact_ref, party_kind, party_id, created_ns, expires_ns, decided_ns,"
    " last_continue_ns"
)


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    client: str
    kid: str
    access: list[dict[str, Any]]
    status: str  # pending, approved, denied, issued, revoked
    continue_hash: bytes
    interact_id: str | None
    interact_nonce: str | None
    finish_uri: str | None
    finish_nonce: str | None
    interact_ref: str | None
    party_kind: str | None
    party_id: int | None
    created_ns: int
    expires_ns: int
    decided_ns: int | None
    last_continue_ns: int | None

    def continue_token_matches(self, value: str) -> bool:
        return hmac.compare_digest(self.continue_hash, _hash(value))


@dataclass(frozen=True, slots=True)
class Issued:
    """A grant as its client sees it after a request or a continuation."""

    grant: Grant
    continue_token: str | None  # shown once, at the grant request
    token_id: str | None = None
    token_value: str | None = None  # shown once


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _grant(row: tuple[Any, ...]) -> Grant:
    values = list(row)
    values[3] = json.loads(values[3])
    values[5] = bytes(values[5])
    return Grant(*values)


def _new_token(ctx: UnitContext, grant_id: str) -> tuple[str, str]:
    token_id, value = str(uuid.uuid4()), secrets.token_urlsafe(32)
    ctx.execute(
        "INSERT INTO op_tokens (id, grant_id, value_hash, created_ns, expires_ns, revoked_ns)"
        " VALUES (?, ?, ?, ?, ?, NULL)",
        (token_id, grant_id, _hash(value), ctx.now_ns, ctx.now_ns + TOKEN_TTL_S * NS_PER_S),
    )
    return token_id, value


def create_grant(
    client: str,
    kid: str,
    access: list[dict[str, Any]],
    wallet: Wallet | None,
    finish: dict[str, str] | None,
    interactive: bool,
) -> Operation[Issued]:
    """A new grant: issued at once, or pending the consent of ``wallet``'s owner."""
    grant_id, continue_token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    interact_id = str(uuid.uuid4()) if interactive else None
    nonce = secrets.token_urlsafe(16) if interactive else None

    def unit(ctx: UnitContext) -> Issued:
        status = "pending" if interactive else "issued"
        row = (
            grant_id,
            client,
            kid,
            json.dumps(access),
            status,
            _hash(continue_token),
            interact_id,
            nonce,
            (finish or {}).get("uri"),
            (finish or {}).get("nonce"),
            None,
            wallet.kind if wallet else None,
            wallet.party_id if wallet else None,
            ctx.now_ns,
            ctx.now_ns + INTERACTION_TTL_S * NS_PER_S,
            None,
            None,
        )
        ctx.execute(f"INSERT INTO op_grants ({_COLUMNS}) VALUES ({', '.join('?' * 17)})", row)
        grant = _grant((*row[:3], row[3], *row[4:]))
        if interactive:
            return Issued(grant, continue_token)
        token_id, value = _new_token(ctx, grant_id)
        return Issued(grant, continue_token, token_id, value)

    return Operation(unit, 0)


def load_grant(platform: Platform, grant_id: str) -> Grant | None:
    with platform.read() as fetch:
        rows = fetch(f"SELECT {_COLUMNS} FROM op_grants WHERE id = ?", (grant_id,))
    return _grant(rows[0]) if rows else None


def load_grant_by_interaction(platform: Platform, interact_id: str) -> Grant | None:
    with platform.read() as fetch:
        rows = fetch(f"SELECT {_COLUMNS} FROM op_grants WHERE interact_id = ?", (interact_id,))
    return _grant(rows[0]) if rows else None


def _locked(ctx: UnitContext, grant_id: str) -> Grant | None:
    rows = ctx.fetch(f"SELECT {_COLUMNS} FROM op_grants WHERE id = ?", (grant_id,))
    return _grant(rows[0]) if rows else None


def decide_grant(
    interact_id: str, kind: str, party_id: int, accept: bool
) -> Operation[Grant | OpError]:
    """The wallet owner's answer to a pending grant (only the owner of the wallet it spends
    from may answer; only once; only before the interaction expires)."""

    def unit(ctx: UnitContext) -> Grant | OpError:
        rows = ctx.fetch(f"SELECT {_COLUMNS} FROM op_grants WHERE interact_id = ?", (interact_id,))
        grant = _grant(rows[0]) if rows else None
        if grant is None or (grant.party_kind, grant.party_id) != (kind, party_id):
            return OpError(404, "invalid_request", "no such grant request")
        if grant.status != "pending" or ctx.now_ns >= grant.expires_ns:
            return OpError(409, "request_denied", "this grant request was already answered")
        status, ref = ("approved", str(uuid.uuid4())) if accept else ("denied", None)
        ctx.execute(
            "UPDATE op_grants SET status = ?, interact_ref = ?, decided_ns = ? WHERE id = ?",
            (status, ref, ctx.now_ns, grant.id),
        )
        return _locked(ctx, grant.id) or grant

    return Operation(unit, 0)


def continue_grant(grant_id: str, interact_ref: str | None) -> Operation[Issued | OpError]:
    """The client continues its grant: the token once the owner consented (with the
    ``interact_ref`` it was sent when it gave a finish URI), else ``wait`` again."""

    def unit(ctx: UnitContext) -> Issued | OpError:
        grant = _locked(ctx, grant_id)
        if grant is None or grant.status == "revoked":
            return OpError(404, "invalid_continuation", "no such grant")
        if grant.status == "denied":
            return OpError(401, "request_denied", "the wallet's owner refused the grant")
        if grant.status == "issued":
            return OpError(401, "invalid_continuation", "the grant's token was already issued")
        if grant.status == "pending":
            return _poll(ctx, grant, interact_ref)
        if grant.finish_uri is not None and (
            interact_ref is None or not hmac.compare_digest(interact_ref, grant.interact_ref or "")
        ):
            return OpError(401, "invalid_continuation", "interact_ref does not match")
        ctx.execute("UPDATE op_grants SET status = 'issued' WHERE id = ?", (grant.id,))
        token_id, value = _new_token(ctx, grant.id)
        return Issued(_locked(ctx, grant.id) or grant, None, token_id, value)

    return Operation(unit, 0)


def _poll(ctx: UnitContext, grant: Grant, interact_ref: str | None) -> Issued | OpError:
    if interact_ref is not None:
        return OpError(401, "invalid_continuation", "the interaction has not finished")
    if ctx.now_ns >= grant.expires_ns:
        return OpError(401, "request_denied", "the interaction expired")
    last = grant.last_continue_ns
    if last is not None and ctx.now_ns - last < CONTINUE_WAIT_S * NS_PER_S:
        return OpError(400, "too_fast", f"wait {CONTINUE_WAIT_S} s between continuations")
    ctx.execute("UPDATE op_grants SET last_continue_ns = ? WHERE id = ?", (ctx.now_ns, grant.id))
    return Issued(grant, None)


def cancel_grant(grant_id: str) -> Operation[bool]:
    def unit(ctx: UnitContext) -> bool:
        changed = ctx.execute(
            "UPDATE op_grants SET status = 'revoked' WHERE id = ? AND status <> 'revoked'",
            (grant_id,),
        )
        ctx.execute(
            "UPDATE op_tokens SET revoked_ns = ? WHERE grant_id = ? AND revoked_ns IS NULL",
            (ctx.now_ns, grant_id),
        )
        return changed > 0

    return Operation(unit, 0)


def token_grant(
    platform: Platform,
    value: str,
    now_ns: int,
    token_id: str | None = None,
    *,
    allow_expired: bool = False,
) -> tuple[str, Grant] | None:
    """``(token id, grant)`` of an access token in force (and of ``token_id`` when given),
    or None."""
    with platform.read() as fetch:
        rows = fetch(
            "SELECT id, grant_id, expires_ns FROM op_tokens WHERE value_hash = ?"
            " AND revoked_ns IS NULL",
            (_hash(value),),
        )
    if not rows or (token_id is not None and rows[0][0] != token_id):
        return None
    if rows[0][2] <= now_ns and not allow_expired:
        return None
    grant = load_grant(platform, rows[0][1])
    if grant is None or grant.status != "issued":
        return None
    return rows[0][0], grant


def rotate_token(token_id: str, grant_id: str) -> Operation[Issued | OpError]:
    """A new token for the grant in place of ``token_id`` (revoked in the same unit)."""

    def unit(ctx: UnitContext) -> Issued | OpError:
        grant = _locked(ctx, grant_id)
        if grant is None or grant.status != "issued":  # checked before anything is written
            return OpError(404, "invalid_rotation", "no such token")
        changed = ctx.execute(
            "UPDATE op_tokens SET revoked_ns = ? WHERE id = ? AND grant_id = ?"
            " AND revoked_ns IS NULL",
            (ctx.now_ns, token_id, grant_id),
        )
        if changed == 0:  # nothing was written
            return OpError(404, "invalid_rotation", "no such token")
        new_id, value = _new_token(ctx, grant_id)
        return Issued(grant, None, new_id, value)

    return Operation(unit, 0)


def revoke_token(token_id: str) -> Operation[bool]:
    def unit(ctx: UnitContext) -> bool:
        return (
            ctx.execute(
                "UPDATE op_tokens SET revoked_ns = ? WHERE id = ? AND revoked_ns IS NULL",
                (ctx.now_ns, token_id),
            )
            > 0
        )

    return Operation(unit, 0)
