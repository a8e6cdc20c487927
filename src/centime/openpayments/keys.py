"""Client keys: the Ed25519 public keys a customer or merchant registered to sign Open
Payments requests with (RFC 9421), served as the JWKS of each of its wallet addresses.

A key is registered by its owner in the web apps after a passkey step-up (the web route
checks that), named by a ``kid`` unique to the owner; revoked keys are no longer served and
no longer verify anything (every request resolves the key afresh).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal

__all__ = [
    "KEYS_PER_PARTY_MAX",
    "ClientKey",
    "b64url",
    "jwk_of",
    "list_keys",
    "public_key",
    "register_key",
    "revoke_key",
]

KEYS_PER_PARTY_MAX: Final = 10
_KID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_X: Final = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url without padding


@dataclass(frozen=True, slots=True)
class ClientKey:
    kid: str
    x: str
    created_ns: int


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_key(x: str) -> Ed25519PublicKey | None:
    """The Ed25519 key of a JWK's ``x``, or None when it is not one."""
    if type(x) is not str or not _X.fullmatch(x):
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    except (ValueError, binascii.Error):
        return None


def jwk_of(key: ClientKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.x,
    }


def list_keys(platform: Platform, kind: str, party_id: int) -> list[ClientKey]:
    """The owner's keys in force, oldest first."""
    with platform.read() as fetch:
        rows = fetch(
            "SELECT kid, x, created_ns FROM op_client_keys WHERE party_kind = ? AND party_id = ?"
            " AND revoked_ns IS NULL ORDER BY created_ns, kid",
            (kind, party_id),
        )
    return [ClientKey(*row) for row in rows]


def register_key(
    platform: Platform, kind: str, party_id: int, kid: str, x: str
) -> Operation[ClientKey | Refusal]:
    """Register ``x`` (base64url of an Ed25519 public key) under ``kid`` for the owner."""
    refusal: Refusal | None = None
    if type(kid) is not str or not _KID.fullmatch(kid):
        refusal = Refusal(Code.INVALID_REQUEST, "kid: 1-64 letters, digits, '.', '_', ':', '-'")
    elif public_key(x) is None:
        refusal = Refusal(Code.INVALID_REQUEST, "x: the base64url of a 32-byte Ed25519 key")

    def unit(ctx: UnitContext) -> ClientKey | Refusal:
        if refusal is not None:
            return refusal
        rows = ctx.fetch(
            "SELECT kid, revoked_ns FROM op_client_keys WHERE party_kind = ? AND party_id = ?",
            (kind, party_id),
        )
        if any(row[0] == kid for row in rows):
            return Refusal(Code.INVALID_REQUEST, "this kid is taken (keys are never reused)")
        if sum(1 for row in rows if row[1] is None) >= KEYS_PER_PARTY_MAX:
            return Refusal(Code.INVALID_REQUEST, f"at most {KEYS_PER_PARTY_MAX} keys in force")
        ctx.execute(
            "INSERT INTO op_client_keys (party_kind, party_id, kid, x, created_ns, revoked_ns)"
            " VALUES (?, ?, ?, ?, ?, NULL)",
            (kind, party_id, kid, x, ctx.now_ns),
        )
        return ClientKey(kid, x, ctx.now_ns)

    return Operation(unit, 0)


def revoke_key(platform: Platform, kind: str, party_id: int, kid: str) -> Operation[bool]:
    """Revoke the owner's key (False: no such key in force)."""

    def unit(ctx: UnitContext) -> bool:
        changed = ctx.execute(
            "UPDATE op_client_keys SET revoked_ns = ? WHERE party_kind = ? AND party_id = ?"
            " AND kid = ? AND revoked_ns IS NULL",
            (ctx.now_ns, kind, party_id, kid),
        )
        return changed > 0

    return Operation(unit, 0)
