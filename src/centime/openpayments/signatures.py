"""HTTP Message Signatures (RFC 9421) as the GNAP profile of Open Payments uses them.

Every signed request carries ``Signature-Input`` and ``Signature`` (one signature, Ed25519,
with ``keyid`` and ``created``) covering at least ``@method`` and ``@target-uri``, plus
``authorization`` when the request carries an access token and ``content-digest`` when it
has a body; the body must match its ``Content-Digest`` (SHA-256 or SHA-512). Parsing,
signature bases and digests are the ``http-message-signatures`` library's; this module only
states the policy: which components, how old a signature may be, which keys.

``@target-uri`` is rebuilt from the server's configured base URL and the request's path and
query, never from the Host header a client chose.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from .errors import OpError

__all__ = ["SIGNATURE_AGE_MAX_S", "ReplayGuard", "SignedRequest", "verify_signature"]

# How old a signature may be when it arrives: long enough for a slow network, short enough
# that a captured request is useless soon after.
SIGNATURE_AGE_MAX_S: Final = 60
SKEW_S: Final = 5
REPLAY_ENTRIES_MAX: Final = 200_000


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    target_uri: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _Headers:
    """The request's header lines as the library reads them (``items()``, in order)."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._pairs = pairs

    def items(self) -> tuple[tuple[str, str], ...]:
        return self._pairs


class _Message:
    def __init__(self, request: SignedRequest) -> None:
        self.method = request.method
        self.url = request.target_uri
        self.headers = _Headers(request.headers)


class _Verifier(HTTPMessageVerifier):
    max_clock_skew = datetime.timedelta(seconds=SKEW_S)
    require_created = True


def _has_header(request: SignedRequest, name: str) -> bool:
    return any(key.lower() == name for key, _ in request.headers)


def verify_signature(request: SignedRequest, keys: Mapping[str, Ed25519PublicKey]) -> str:
    """The ``keyid`` of the one valid signature of ``request`` made with one of ``keys``;
    OpError 401 ``invalid_client`` otherwise (missing, malformed, too old, a component
    not covered, a body that does not match its digest, an unknown key)."""
    if not _has_header(request, "signature") or not _has_header(request, "signature-input"):
        raise OpError(401, "invalid_client", "the request must be signed (RFC 9421)")
    required = ["@method", "@target-uri"]
    if _has_header(request, "authorization"):
        required.append("authorization")
    verifier = _Verifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys=dict(keys), private_keys={}),
    )
    try:
        [result] = verifier.verify(
            _Message(request),
            max_age=datetime.timedelta(seconds=SIGNATURE_AGE_MAX_S),
            require_components=required,
            body=request.body,
        )
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as refused:
        raise OpError(401, "invalid_client", f"invalid signature: {refused}") from None
    keyid = result.parameters.get("keyid")
    if type(keyid) is not str:
        raise OpError(401, "invalid_client", "invalid signature: no keyid")
    return keyid


class ReplayGuard:
    """Signatures of state-changing requests seen within their validity window: the same
    signature again is a replay and refused. In-process and bounded; money-moving requests
    are also idempotent by their signature (centime.openpayments.outgoing), so a replay that
    reaches another process meets the payment already made instead of a second one."""

    def __init__(self, window_s: float = SIGNATURE_AGE_MAX_S + 2 * SKEW_S) -> None:
        self._window_s = window_s
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, signature: str, now_s: float | None = None) -> bool:
        now = time.monotonic() if now_s is None else now_s
        digest = hashlib.sha256(signature.encode()).digest()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self._window_s:
                self._seen.popitem(last=False)
            if digest in self._seen:
                return False
            if len(self._seen) >= REPLAY_ENTRIES_MAX:
                raise OpError(503, "too_fast", "too many signed requests; retry shortly")
            self._seen[digest] = now
            return True
