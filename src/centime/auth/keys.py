"""API keys: who a request is, and what it may do.

A key belongs to a merchant or to the operator. Its text is
``ck_<key id>_<secret>``: ``ck_key_0a1b2c3d4e5f6_`` then the 43 characters of
``secrets.token_urlsafe(32)``. The public id lets the server find the row without scanning;
the secret is 256 random bits, so a plain SHA-256 of it is all the row keeps (a slow hash
protects guessable passwords, not 256-bit secrets), compared in constant time. The full key
is shown once, when it is created, and never stored, logged or shown again.

Scopes: ``read`` (GET anything of the owner's), ``payments``, ``refunds``, ``payouts``
(move the owner's money that way), ``admin`` (manage the owner's keys; the operator's admin
does everything, for customers and the platform). ``admin`` implies every other scope: a key
that can mint keys can mint itself any scope, so pretending otherwise would protect nothing.

Revocation is effective at once in the process that revoked (``KeyVerifier.forget``); other
processes trust a verified key for at most ``API_KEY_CACHE_TTL_S`` more.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from centime.ledger.units import UnitContext
from centime.limits import (
    API_KEY_CACHE_MAX,
    API_KEY_CACHE_TTL_S,
    API_KEY_NAME_LEN_MAX,
    API_KEYS_PER_OWNER_MAX,
)
from centime.platform.chart import OPERATOR
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.events import Change, credential_changed
from centime.platform.ids import format_id, new_id, parse_id
from centime.platform.pages import Cursor, Page, fetch_page
from centime.platform.parties import Status, load_merchant
from centime.platform.rows import row_by_id

__all__ = [
    "TOKEN_PREFIX",
    "ApiKey",
    "KeyVerifier",
    "NewKey",
    "OwnerKind",
    "Principal",
    "Scope",
    "create_key",
    "get_key",
    "list_keys",
    "parse_scopes",
    "parse_token",
    "revoke_key",
]

OwnerKind = Literal["merchant", "operator"]

TOKEN_PREFIX: Final = "ck_"
_ID_TEXT_LEN: Final = len(format_id("key", 1))  # "key_" and 13 digits
_SECRET_LEN: Final = 43  # token_urlsafe(32): 256 bits in unpadded base64url
_TOKEN_LEN: Final = len(TOKEN_PREFIX) + _ID_TEXT_LEN + 1 + _SECRET_LEN
_URLSAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
NS_PER_S: Final = 1_000_000_000


class Scope(enum.Enum):
    """What an API key may do: each scope opens its part of the API, ``ADMIN`` all of it
    (:meth:`Principal.allows`)."""

    READ = "read"
    PAYMENTS = "payments"
    REFUNDS = "refunds"
    PAYOUTS = "payouts"
    ADMIN = "admin"
    # The risk analyst's: the review queue (read cases, approve, decline, freeze the party,
    # label); nothing else (not pricing, not parties beyond the freeze of a case's party).
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: the key's owner, the key, and what the key may do."""

    kind: OwnerKind
    owner_id: int  # the merchant's id, or OPERATOR (0)
    key_id: int
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    @property
    def owner(self) -> str:
        """The owner as one string (``operator``, ``merchant:42``): what idempotency keys
        are scoped by, so two merchants may use the same key string independently."""
        return "operator" if self.is_operator else f"merchant:{self.owner_id}"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored: never its secret."""

    id: int
    owner_kind: OwnerKind
    owner_id: int
    name: str
    scopes: frozenset[Scope]
    created_ns: int
    revoked_ns: int | None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created, with its full text: the only time anyone sees it."""

    key: ApiKey
    token: str


def parse_scopes(names: Iterable[str]) -> frozenset[Scope] | None:
    """The scopes named, or None if any name is not a scope (or none is given)."""
    found = set()
    for name in names:
        try:
            found.add(Scope(name))
        except ValueError:
            return None
    return frozenset(found) or None


def _scopes_text(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def parse_token(token: object) -> tuple[int, str] | None:
    """(key id, secret) of a well-formed key text, or None. Looks at the shape only."""
    if type(token) is not str or len(token) != _TOKEN_LEN or not token.startswith(TOKEN_PREFIX):
        return None
    id_end = len(TOKEN_PREFIX) + _ID_TEXT_LEN
    key_id = parse_id("key", token[len(TOKEN_PREFIX) : id_end])
    secret = token[id_end + 1 :]
    if key_id is None or token[id_end] != "_" or not _URLSAFE.issuperset(secret):
        return None
    return key_id, secret


def _new_secret() -> str:
    secret = secrets.token_urlsafe(32)
    if len(secret) != _SECRET_LEN:  # the encoding of 32 bytes is fixed; a change is a bug
        raise RuntimeError("token_urlsafe(32) did not give 43 characters")
    return secret


# ------------------------------------------------------------------ rows

_COLUMNS: Final = "id, owner_kind, owner_id, name, scopes, created_ns, revoked_ns"


def _key(row: Sequence[Any]) -> ApiKey:
    scopes = frozenset(Scope(name) for name in str(row[4]).split())
    kind: OwnerKind = "operator" if row[1] == "operator" else "merchant"
    return ApiKey(
        int(row[0]),
        kind,
        int(row[2]),
        row[3],
        scopes,
        int(row[5]),
        None if row[6] is None else int(row[6]),
    )


# ------------------------------------------------------------------ operations


def create_key(
    platform: Platform,
    owner_kind: OwnerKind,
    owner_id: int,
    name: str,
    scopes: frozenset[Scope],
) -> Operation[NewKey | Refusal]:
    """A new key for the operator (``owner_id`` OPERATOR) or a merchant. Who may ask for
    which key is the caller's decision (the API's authorisation); this checks the owner
    exists and has room for another key."""
    refusal = _check_new_key(owner_kind, owner_id, name, scopes)
    # Drawn outside the unit: a unit re-run after a lost race must write the same key.
    key_id, secret = new_id(), _new_secret()

    def unit(ctx: UnitContext) -> NewKey | Refusal:
        if refusal is not None:
            return refusal
        if owner_kind == "merchant":
            merchant = load_merchant(ctx, owner_id)
            if merchant is None:
                return Refusal(Code.MERCHANT_NOT_FOUND, "no such merchant")
            if merchant.status is Status.CLOSED:
                return Refusal(Code.MERCHANT_CLOSED, "the merchant's account is closed")
        active = ctx.fetch(
            "SELECT count(*) FROM api_keys"
            " WHERE owner_kind = ? AND owner_id = ? AND revoked_ns IS NULL",
            (owner_kind, owner_id),
        )[0][0]
        if int(active) >= API_KEYS_PER_OWNER_MAX:
            return Refusal(
                Code.API_KEY_LIMIT_REACHED,
                f"at most {API_KEYS_PER_OWNER_MAX} active keys; revoke one first",
            )
        key = ApiKey(key_id, owner_kind, owner_id, name, scopes, ctx.now_ns, None)
        ctx.execute(
            f"INSERT INTO api_keys ({_COLUMNS}, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key_id,
                owner_kind,
                owner_id,
                name,
                _scopes_text(scopes),
                ctx.now_ns,
                None,
                _hash(secret),
            ),
        )
        # A key is a credential: its owner hears of it (a thief's new key included).
        what = f"key {format_id('key', key_id)} {name!r}: {_scopes_text(scopes)}"
        credential_changed(ctx, owner_kind, owner_id, Change.API_KEY_CREATED, what)
        return NewKey(key, f"{TOKEN_PREFIX}{format_id('key', key_id)}_{secret}")

    return Operation(unit, 0)


def _check_new_key(
    owner_kind: str, owner_id: int, name: object, scopes: frozenset[Scope]
) -> Refusal | None:
    if owner_kind == "operator" and owner_id != OPERATOR:
        return Refusal(Code.INVALID_REQUEST, "the operator's keys have owner 0")
    if owner_kind not in ("operator", "merchant"):
        return Refusal(Code.INVALID_REQUEST, "a key belongs to a merchant or the operator")
    if type(name) is not str or not name.strip() or len(name) > API_KEY_NAME_LEN_MAX:
        return Refusal(Code.INVALID_REQUEST, f"name must be 1-{API_KEY_NAME_LEN_MAX} characters")
    if not scopes or not all(isinstance(s, Scope) for s in scopes):
        return Refusal(Code.INVALID_REQUEST, "a key needs at least one scope")
    return None


def revoke_key(
    platform: Platform, key_id: int, owner: tuple[OwnerKind, int] | None = None
) -> Operation[ApiKey | Refusal]:
    """Revoke a key; ``owner`` (kind, id) limits it to that owner's keys (another's is
    ``api_key_not_found``, not forbidden: its existence is none of the caller's business),
    None is the operator's reach over every key. Revoking twice keeps the first time.
    Call ``KeyVerifier.forget`` once it committed."""

    def unit(ctx: UnitContext) -> ApiKey | Refusal:
        rows = ctx.fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        if not rows or (owner is not None and (rows[0][1], rows[0][2]) != owner):
            return Refusal(Code.API_KEY_NOT_FOUND, "no such API key")
        key = _key(rows[0])
        if key.revoked_ns is not None:
            return key
        ctx.execute("UPDATE api_keys SET revoked_ns = ? WHERE id = ?", (ctx.now_ns, key_id))
        credential_changed(
            ctx,
            key.owner_kind,
            key.owner_id,
            Change.API_KEY_REVOKED,
            f"key {format_id('key', key_id)} {key.name!r}",
        )
        return ApiKey(
            key.id, key.owner_kind, key.owner_id, key.name, key.scopes, key.created_ns, ctx.now_ns
        )

    return Operation(unit, 0)


# ------------------------------------------------------------------ reads


def get_key(platform: Platform, key_id: int) -> ApiKey | None:
    with platform.read() as fetch:
        return row_by_id(fetch, "api_keys", _COLUMNS, key_id, _key)


def list_keys(
    platform: Platform, owner_kind: OwnerKind, owner_id: int, cursor: Cursor | None, limit: int
) -> Page[ApiKey]:
    """The owner's keys, revoked ones included, newest first."""
    filters = [("owner_kind", owner_kind), ("owner_id", owner_id)]
    return fetch_page(platform, "api_keys", _COLUMNS, filters, cursor, limit, _key)


# ------------------------------------------------------------------ verification


class Rejected(enum.Enum):
    """The cache knows the key text is not valid (wrong secret, revoked)."""

    REJECTED = "rejected"


REJECTED: Final = Rejected.REJECTED


@dataclass(frozen=True, slots=True)
class _Entry:
    secret_hash: bytes
    principal: Principal | None  # None: revoked, or its merchant closed
    expires_ns: int


class KeyVerifier:
    """Turns a key's text into its :class:`Principal`, with a bounded cache of verified
    keys (least recently used out first) so that most requests read nothing.

    A cache entry lives ``cache_ttl_s`` (by the platform's clock): that bounds how long a
    key revoked by another process (or a merchant closed there) keeps working here.
    ``forget`` drops a key at once; an epoch makes sure a read that began before the
    revocation cannot put the stale key back afterwards. Thread-safe.
    """

    def __init__(
        self,
        platform: Platform,
        *,
        cache_max: int = API_KEY_CACHE_MAX,
        cache_ttl_s: float = API_KEY_CACHE_TTL_S,
    ) -> None:
        self._platform = platform
        self._cache: OrderedDict[int, _Entry] = OrderedDict()
        self._cache_max = max(0, cache_max)
        self._ttl_ns = int(cache_ttl_s * NS_PER_S)
        self._epoch = 0
        self._lock = threading.Lock()

    def from_cache(self, token: str) -> Principal | Rejected | None:
        """The answer if the cache holds the key (fast, no I/O), else None."""
        parsed = parse_token(token)
        if parsed is None:
            return REJECTED
        key_id, secret = parsed
        now_ns = self._platform.clock.now_ns()
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is None or entry.expires_ns <= now_ns:
                return None
            self._cache.move_to_end(key_id)
        if not hmac.compare_digest(entry.secret_hash, _hash(secret)):
            return REJECTED
        return entry.principal or REJECTED

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None (reads the store on a miss:
        call it off the event loop)."""
        cached = self.from_cache(token)
        if isinstance(cached, Principal):
            return cached
        if cached is REJECTED:
            return None
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._lock:
            epoch = self._epoch
        entry = self._read(key_id)
        if entry is None:
            # Remembered as rejected for the cache's lifetime too: a stream of made-up key
            # ids then costs one read each, not one per request. (Ids are drawn at random
            # when a key is created, so none is remembered before its key exists.)
            now_ns = self._platform.clock.now_ns()
            entry = _Entry(b"", None, now_ns + self._ttl_ns)
        with self._lock:
            if epoch == self._epoch and self._cache_max:
                self._cache[key_id] = entry
                self._cache.move_to_end(key_id)
                while len(self._cache) > self._cache_max:
                    self._cache.popitem(last=False)
        if not hmac.compare_digest(entry.secret_hash, _hash(secret)):
            return None
        return entry.principal

    def __len__(self) -> int:
        """Keys cached now (at most ``cache_max``)."""
        with self._lock:
            return len(self._cache)

    def forget(self, key_id: int) -> None:
        """Drop a key (just revoked) so the next request reads its row again."""
        with self._lock:
            self._epoch += 1
            self._cache.pop(key_id, None)

    def _read(self, key_id: int) -> _Entry | None:
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT k.owner_kind, k.owner_id, k.scopes, k.secret_hash, k.revoked_ns,"
                " m.status FROM api_keys k LEFT JOIN merchants m"
                " ON k.owner_kind = 'merchant' AND m.id = k.owner_id WHERE k.id = ?",
                (key_id,),
            )
        if not rows:
            return None
        kind, owner_id, scopes, secret_hash, revoked_ns, merchant_status = rows[0]
        usable = revoked_ns is None and (
            kind == "operator" or (merchant_status is not None and merchant_status != "closed")
        )
        principal = None
        if usable:
            owner_kind: OwnerKind = "operator" if kind == "operator" else "merchant"
            principal = Principal(
                owner_kind,
                int(owner_id),
                key_id,
                frozenset(Scope(name) for name in str(scopes).split()),
            )
        expires_ns = self._platform.clock.now_ns() + self._ttl_ns
        return _Entry(bytes(secret_hash), principal, expires_ns)
