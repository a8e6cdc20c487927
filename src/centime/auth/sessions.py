"""Web sessions, CSRF tokens, step-up freshness and sign-in throttling.

A session id is 256 random bits (``secrets.token_urlsafe(32)``) handed to the browser in a
cookie (``Secure``, ``HttpOnly``, ``SameSite=Lax``: the hosted checkout is reached by a link
from a merchant's site) and kept as its SHA-256 only, with an absolute expiry
(``SESSION_TTL_S``); signing out ends it at once.

CSRF: every form and every script request carries a token derived from the browser's cookie
(the session's, or before sign-in a random pre-session cookie): HMAC-SHA-256, keyed by a
server secret (:func:`centime.keyfile.key_from_env`: ``CENTIME_WEB_KEY``, its file, or a
0600 file beside the SQLite database), of a label and the cookie's value. Another site can
neither read the cookie nor the page holding the token, and whoever can plant a cookie
(a sibling subdomain) still cannot compute the token without the secret; nothing is stored.

Step-up: a session is stepped up for ``STEP_UP_FRESH_S`` after a user-verified passkey
assertion (:func:`centime.auth.passkeys.stepup_finish`); sensitive actions ask for it. The
session remembers what confirmed it (``confirmed_by``: a credential id, or ``recovery``)
and whether that confirmation may change credentials (:attr:`Session.strong`): not when
the confirming passkey was added by this very session (a stolen session that somehow
added a passkey cannot bootstrap itself into the owner's recovery codes with it).

Throttling: sign-in ceremonies per client address and failed ones per (address, passkey) are
counted in token buckets (:class:`LoginThrottle`: the source is locked, never the owner), in
the rate store the API's limits use (this process's, or Redis shared by every process).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from centime.http.ratelimit import LocalRateStore, RateStore
from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform

__all__ = [
    "RECOVERY",
    "SESSION_TTL_S",
    "STEP_UP_FRESH_S",
    "LoginThrottle",
    "NewSession",
    "Session",
    "credential_confirmed",
    "csrf_matches",
    "csrf_token",
    "end_other_sessions",
    "end_session",
    "load_session",
    "open_session",
    "session_hash",
    "session_of_row",
    "stepped_up",
    "unit_session",
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
    confirmed_by: str | None = None  # a passkey's credential id, or RECOVERY
    strong: bool = False  # the confirmation may change credentials (module note)


RECOVERY: Final = "recovery"  # confirmed_by of a session opened with a recovery code


def session_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def open_session(ctx: UnitContext, user_id: int, *, recovered: bool = False) -> NewSession:
    """Open a session for the person, inside the unit that verified who it is. A
    recovery-code sign-in counts as a confirmation (made with ``RECOVERY``): the person who
    lost every passkey must be able to add one."""
    token = secrets.token_urlsafe(32)
    expires_ns = ctx.now_ns + SESSION_TTL_S * NS_PER_S
    ctx.execute(
        "INSERT INTO web_sessions (id_hash, user_id, created_ns, expires_ns, stepped_up_ns,"
        " ended_ns, confirmed_by) VALUES (?, ?, ?, ?, ?, NULL, ?)",
        (
            session_hash(token),
            user_id,
            ctx.now_ns,
            expires_ns,
            ctx.now_ns if recovered else None,
            RECOVERY if recovered else None,
        ),
    )
    return NewSession(token, expires_ns)


# The session, and the confirming passkey's row when there is one (to tell whether this
# session added it).
_SESSION_SELECT: Final = (
    "SELECT s.id_hash, s.user_id, s.created_ns, s.expires_ns, s.stepped_up_ns,"
    " s.confirmed_by, p.user_id, p.added_session_hash FROM web_sessions s"
    " LEFT JOIN passkeys p ON p.credential_id = s.confirmed_by"
    " WHERE s.id_hash = ? AND s.ended_ns IS NULL"
)


def session_of_row(row: Sequence[Any]) -> Session:
    """A :data:`_SESSION_SELECT` row as a session, with its confirmation's strength."""
    id_hash, user_id = bytes(row[0]), int(row[1])
    stepped = None if row[4] is None else int(row[4])
    by = None if row[5] is None else str(row[5])
    key_owner, added_by = row[6], row[7]
    strong = by == RECOVERY or (
        by is not None
        and key_owner is not None
        and int(key_owner) == user_id
        and (added_by is None or bytes(added_by) != id_hash)
    )
    return Session(id_hash, user_id, int(row[2]), int(row[3]), stepped, by, strong)


def load_session(platform: Platform, token: str | None) -> Session | None:
    """The live session of a cookie's value, or None (unknown, ended, expired)."""
    if not token or len(token) != SESSION_TOKEN_LEN:
        return None
    with platform.read() as fetch:
        rows = fetch(_SESSION_SELECT, (session_hash(token),))
    if not rows or int(rows[0][3]) <= platform.clock.now_ns():
        return None
    return session_of_row(tuple(rows[0]))


def unit_session(ctx: UnitContext, id_hash: bytes) -> Session | None:
    """:func:`load_session` inside a write unit, by the session's hash (what a credential
    change checks in the same transaction as the change)."""
    rows = ctx.fetch(_SESSION_SELECT, (id_hash,))
    if not rows or int(rows[0][3]) <= ctx.now_ns:
        return None
    return session_of_row(tuple(rows[0]))


def end_other_sessions(ctx: UnitContext, user_id: int, keep_hash: bytes | None = None) -> int:
    """End every live session of the person but ``keep_hash``'s; how many ended."""
    return ctx.execute(
        "UPDATE web_sessions SET ended_ns = ? WHERE user_id = ? AND ended_ns IS NULL"
        " AND id_hash <> ?",
        (ctx.now_ns, user_id, keep_hash or b""),
    )


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


def credential_confirmed(session: Session, now_ns: int) -> bool:
    """Whether the session may change credentials now: fresh, and confirmed with a
    credential that this session did not add itself (module note)."""
    return session.strong and stepped_up(session, now_ns)


def csrf_token(key: bytes, cookie_value: str) -> str:
    """The CSRF token of a browser, from its session or pre-session cookie, under the
    server's secret ``key``."""
    message = _CSRF_LABEL + b"\x00" + cookie_value.encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_matches(key: bytes, cookie_value: str | None, token: object) -> bool:
    if not cookie_value or type(token) is not str or len(cookie_value) > COOKIE_LEN_MAX:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged token).
    expected = csrf_token(key, cookie_value).encode()
    return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


# ------------------------------------------------------------------ throttling


class LoginThrottle:
    """At most ``per_ip`` sign-in ceremonies per client address, and ``failures_per_source``
    failed ones per (address, credential), per ``window_s``: token buckets of that burst
    refilled over the window, in ``store`` (centime.http.ratelimit: this process's by
    default, ``keys_max`` keys remembered; Redis when the processes share one). Thread-safe.

    Failures lock the *source* of the attempts, never the credential's owner: whoever
    replays someone's passkey id from one address locks that address out for that passkey
    (and, past ``per_ip`` ceremonies, for everything), while the owner signing in from
    elsewhere is untouched. Guessing a passkey's signature is hopeless anyway; what the
    lock stops is a source hammering the verifier."""

    def __init__(
        self,
        now_s: Callable[[], float],
        *,
        per_ip: int = 30,
        failures_per_source: int = 5,
        window_s: float = 300.0,
        keys_max: int = 10_000,
        store: RateStore | None = None,
    ) -> None:
        self._store = LocalRateStore(keys_max, now_s) if store is None else store
        self._per_ip = (per_ip / window_s, float(per_ip))  # rate per second, burst
        self._failures = (failures_per_source / window_s, float(failures_per_source))

    def attempt(self, ip: str) -> bool:
        """Count a sign-in attempt from ``ip``: False when the address is over its limit."""
        return self._store.check(f"login:{ip[:64]}", *self._per_ip, "take") == 0.0

    @staticmethod
    def _pair(ip: str, account: str) -> str:
        return f"login-fail:{ip[:64]}|{account[:1400]}"

    def locked(self, ip: str, account: str) -> bool:
        """Whether ``ip`` failed with ``account`` (a credential id, a person) too often."""
        return self._store.check(self._pair(ip, account), *self._failures, "peek") > 0.0

    def failed(self, ip: str, account: str) -> None:
        """Count a failed attempt from ``ip`` with ``account`` (a wrong passkey answer)."""
        self._store.check(self._pair(ip, account), *self._failures, "spend")
