"""Signing Open Payments requests as a client does (the benchmark, the tests, a Python
integration): RFC 9421 with Ed25519, ``@method``, ``@target-uri``, ``authorization`` when a
token is sent, ``content-digest`` over the body, ``keyid``, ``created`` and a ``nonce``.
The signature bases and digests are the ``http-message-signatures`` library's."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from .keys import b64url

__all__ = ["ClientKey"]


class _Message:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


@dataclass
class ClientKey:
    """A client's Ed25519 key, named ``kid`` in its wallet address's JWKS."""

    kid: str
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def x(self) -> str:
        """The public key as a JWK's ``x``."""
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64url(raw)

    def sign(
        self,
        method: str,
        url: str,
        body: object = None,
        token: str | None = None,
        created: datetime.datetime | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The headers and the body bytes of the signed request."""
        headers: dict[str, str] = {"Accept": "application/json"}
        components = ["@method", "@target-uri"]
        if token is not None:
            headers["Authorization"] = f"GNAP {token}"
            components.append("authorization")
        content = b"" if body is None else msgspec.json.encode(body)
        if body is not None:
            headers["Content-Type"] = "application/json"
        message = _Message(method, url, headers)
        signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={self.kid: self.private}),
        )
        signer.sign(
            message,
            key_id=self.kid,
            label="sig1",
            include_alg=False,
            covered_component_ids=components,
            body=content if body is not None else None,
            created=created or datetime.datetime.now(datetime.UTC),
            nonce=secrets.token_hex(8),
        )
        return dict(message.headers), content
