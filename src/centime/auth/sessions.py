"""Web sessions, CSRF tokens, step-up freshness and sign-in throttling.

A session id is 256 random bits (``secrets.token_urlsafe(32)``) handed to the browser in a
cookie (``Secure``, ``HttpOnly``, ``SameSite=Lax``: the hosted checkout is reached by a link
from a merchant's site) and kept as its SHA-256 only, with an absolute expiry
(``SESSION_TTL_S``); signing out ends it at once.

CSRF: every form and every script request carries a token derived from the browser's cookie
(the session's, or before sign-in a random pre-session cookie): HMAC-SHA-256 of a fixed label
keyed by the cookie's value. Another site can neither read the cookie nor the page holding
the token, so it cannot forge one; nothing has to be stored.

Step-up: a session is stepped up for ``STEP_UP_FRESH_S`` after a user-verified passkey
assertion (:func:`centime.auth.passkeys.stepup_finish`); sensitive actions ask for it.

Throttling: sign-in ceremonies per client address and failed ones per account are counted in
fixed windows, in this process (several processes each allow the limit; Redis is the scale
path's answer, as for the API's rate limits).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform

__all__ = [
    "SESSION_TTL_S",
    "STEP_UP_FRESH_S",
    "LoginThrottle",
    "NewSession",
    "Session",
    "csrf_matches",
    "csrf_token",
    "end_session",
    "load_session",
    "open_session",
    "session_hash",
    "stepped_up",
]

NS_PER_S: Final = 1_000_000_000
SESSION_TTL_S: Final = 12 * 3600
STEP_UP_FRESH_S: Final = 5 * 60
SESSION_TOKEN_LEN: Final = 43  # token_urlsafe(32)
COOKIE_LEN_MAX: Final = 64
_CSRF_LABEL: Final = b"centime csrf v1"


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: its cookie value (the only time it exists in clear)."""

    token: str
    expires_ns: int


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: bytes
    user_id: int
    created_ns: int
    expires_ns: int
    stepped_up_ns: int | None


def session_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def open_session(ctx: UnitContext, user_id: int) -> NewSession:
    """Open a session for the person, inside the unit that verified who it is."""
    token = secrets.token_urlsafe(32)
    expires_ns = ctx.now_ns + SESSION_TTL_S * NS_PER_S
    ctx.execute(
        "INSERT INTO web_sessions (id_hash, user_id, created_ns, expires_ns, stepped_up_ns,"
        " ended_ns) VALUES (?, ?, ?, ?, NULL, NULL)",
        (session_hash(token), user_id, ctx.now_ns, expires_ns),
    )
    return NewSession(token, expires_ns)


def load_session(platform: Platform, token: str | None) -> Session | None:
    """The live session of a cookie's value, or None (unknown, ended, expired)."""
    if not token or len(token) != SESSION_TOKEN_LEN:
        return None
    with platform.read() as fetch:
        rows = fetch(
            "SELECT id_hash, user_id, created_ns, expires_ns, stepped_up_ns FROM web_sessions"
            " WHERE id_hash = ? AND ended_ns IS NULL",
            (session_hash(token),),
        )
    if not rows or int(rows[0][3]) <= platform.clock.now_ns():
        return None
    row = rows[0]
    stepped = None if row[4] is None else int(row[4])
    return Session(bytes(row[0]), int(row[1]), int(row[2]), int(row[3]), stepped)


def end_session(platform: Platform, token: str) -> Operation[bool]:
    """Sign out: the session ends now (True if it was live)."""
    key = session_hash(token)

    def unit(ctx: UnitContext) -> bool:
        changed = ctx.execute(
            "UPDATE web_sessions SET ended_ns = ? WHERE id_hash = ? AND ended_ns IS NULL",
            (ctx.now_ns, key),
        )
        return changed == 1

    return Operation(unit, 0)


def stepped_up(session: Session, now_ns: int, fresh_s: int = STEP_UP_FRESH_S) -> bool:
    """Whether the session's last user-verified assertion is at most ``fresh_s`` old."""
    if session.stepped_up_ns is None:
        return False
    age_ns = now_ns - session.stepped_up_ns
    return 0 <= age_ns <= fresh_s * NS_PER_S


def csrf_token(cookie_value: str) -> str:
    """The CSRF token of a browser, from its session or pre-session cookie."""
    digest = hmac.new(cookie_value.encode("utf-8", "replace"), _CSRF_LABEL, hashlib.sha256)
    return digest.hexdigest()


def csrf_matches(cookie_value: str | None, token: object) -> bool:
    if not cookie_value or type(token) is not str or len(cookie_value) > COOKIE_LEN_MAX:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged token).
    return hmac.compare_digest(csrf_token(cookie_value).encode(), token.encode("utf-8", "replace"))


# ------------------------------------------------------------------ throttling


class LoginThrottle:
    """At most ``per_ip`` sign-in attempts per client address and ``failures_per_account``
    failed ones per account in each window of ``window_s``; ``keys_max`` keys are
    remembered (least recently seen forgotten first). Thread-safe."""

    def __init__(
        self,
        now_s: Callable[[], float],
        *,
        per_ip: int = 30,
        failures_per_account: int = 5,
        window_s: float = 300.0,
        keys_max: int = 10_000,
    ) -> None:
        self._now_s = now_s
        self._limits = {"ip": per_ip, "account": failures_per_account}
        self._window_s = window_s
        self._keys_max = keys_max
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _count(self, key: str) -> int:
        start, count = self._counts.get(key, (0.0, 0))
        return count if self._now_s() - start < self._window_s else 0

    def _add(self, key: str) -> None:
        now = self._now_s()
        start, count = self._counts.pop(key, (now, 0))
        if now - start >= self._window_s:
            start, count = now, 0
        self._counts[key] = (start, count + 1)
        while len(self._counts) > self._keys_max:
            self._counts.popitem(last=False)

    def attempt(self, ip: str) -> bool:
        """Count a sign-in attempt from ``ip``: False when the address is over its limit."""
        key = f"ip:{ip[:64]}"
        with self._lock:
            if self._count(key) >= self._limits["ip"]:
                return False
            self._add(key)
            return True

    def account_locked(self, account: str) -> bool:
        with self._lock:
            return self._count(f"account:{account}") >= self._limits["account"]

    def failed(self, account: str) -> None:
        """Count a failed sign-in of the account (a wrong passkey, a bad recovery code)."""
        with self._lock:
            self._add(f"account:{account}")
