"""A test client's side of Open Payments: Ed25519 keys and RFC 9421 signatures made with
the http-message-signatures library (the way the official Node client signs: ``@method``,
``@target-uri``, ``authorization`` when present, ``content-digest`` over the body), plus a
``nonce`` so that two identical requests in the same second are not taken for a replay."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from centime.openpayments.keys import b64url


class _Headers(dict[str, str]):
    pass


class _Message:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, _Headers(headers)


@dataclass
class ClientKey:
    kid: str
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def x(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64url(raw)

    def sign(self, method: str, url: str, body: object = None, token: str | None = None,
             created: datetime.datetime | None = None) -> tuple[dict[str, str], bytes]:  # fmt: skip
        """The headers and body of a signed request."""
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
        signer.sign(message, key_id=self.kid, label="sig1", include_alg=False,
                    covered_component_ids=components, body=content if body is not None else None,
                    created=created or datetime.datetime.now(datetime.UTC),
                    nonce=secrets.token_hex(8))  # fmt: skip
        return dict(message.headers), content


def request(http: Any, key: ClientKey, method: str, url: str, body: object = None,
            token: str | None = None, **kwargs: Any) -> Any:  # fmt: skip
    headers, content = key.sign(method, url, body, token, **kwargs)
    return http.request(method, url, headers=headers, content=content or None)


def as_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)
