"""Fetching a foreign client's keys (``<wallet address>/jwks.json``) safely.

A grant request names its client by a wallet address URL anyone may choose, so fetching
it must not become a way into our network or a way to tie the server up:

- https only, default or explicit port, no user info, at most 1024 characters;
- the host is resolved once, EVERY address must be a public one (no loopback, private,
  link-local, multicast, reserved or unspecified address), and the connection goes to
  the checked address (the name only travels as Host and TLS SNI, which the certificate is
  verified against): a DNS answer that changes between check and connect cannot redirect
  it;
- no redirects, a total timeout, a body cap, JSON only;
- answers are cached for a few minutes (bounded), so a busy client costs one fetch.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlsplit

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import OpError
from .keys import public_key

__all__ = ["JWKS_BYTES_MAX", "JwksFetcher", "keys_of_jwks", "public_address"]

JWKS_BYTES_MAX: Final = 64 * 1024
FETCH_TIMEOUT_S: Final = 3.0
CACHE_TTL_S: Final = 300.0
CACHE_ENTRIES_MAX: Final = 1000
KEYS_MAX: Final = 20

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def public_address(text: str) -> bool:
    """True for a globally routable unicast address only."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not address.is_multicast


def keys_of_jwks(document: object) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWKS document by kid (others are ignored)."""
    keys: dict[str, Ed25519PublicKey] = {}
    items = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise OpError(400, "invalid_client", "the client's jwks.json is not a key set")
    for item in items[:KEYS_MAX]:
        if not isinstance(item, dict) or (item.get("kty"), item.get("crv")) != ("OKP", "Ed25519"):
            continue
        kid, found = item.get("kid"), public_key(item.get("x"))  # type: ignore[arg-type]
        if type(kid) is str and found is not None and item.get("alg", "EdDSA") == "EdDSA":
            keys[kid] = found
    return keys


class JwksFetcher:
    def __init__(
        self, resolver: Resolver = _resolve, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._resolver = resolver
        self._transport = transport
        self._cache: OrderedDict[str, tuple[float, dict[str, Ed25519PublicKey]]] = OrderedDict()

    async def keys(self, wallet_address: str) -> dict[str, Ed25519PublicKey]:
        now = time.monotonic()
        cached = self._cache.get(wallet_address)
        if cached is not None and cached[0] > now:
            return cached[1]
        keys = keys_of_jwks(await self._fetch(wallet_address.rstrip("/") + "/jwks.json"))
        self._cache[wallet_address] = (now + CACHE_TTL_S, keys)
        while len(self._cache) > CACHE_ENTRIES_MAX:
            self._cache.popitem(last=False)
        return keys

    async def _fetch(self, url: str) -> object:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.username or len(url) > 1024:
            raise OpError(400, "invalid_client", "a client's wallet address is an https URL")
        port = parts.port or 443
        try:
            addresses = await asyncio.wait_for(
                self._resolver(parts.hostname, port), FETCH_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            raise OpError(400, "invalid_client", "the client's host does not resolve") from None
        if not addresses or not all(public_address(a) for a in addresses):
            raise OpError(400, "invalid_client", "the client's host is not a public address")
        ip = ipaddress.ip_address(addresses[0])
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        target = f"https://{host}:{port}{parts.path or '/'}"
        return await self._get(target, parts.hostname)

    async def _get(self, target: str, hostname: str) -> object:
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=FETCH_TIMEOUT_S, follow_redirects=False
            ) as client:
                request = client.build_request(
                    "GET",
                    target,
                    headers={"Host": hostname, "Accept": "application/json"},
                    extensions={"sni_hostname": hostname},
                )
                async with asyncio.timeout(FETCH_TIMEOUT_S):
                    response = await client.send(request, stream=True)
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > JWKS_BYTES_MAX:
                            raise OpError(
                                400, "invalid_client", "the client's jwks.json is too large"
                            )
                    await response.aclose()
        except (httpx.HTTPError, TimeoutError):
            raise OpError(
                400, "invalid_client", "the client's jwks.json could not be fetched"
            ) from None
        if response.status_code != 200:
            raise OpError(400, "invalid_client", "the client's jwks.json could not be fetched")
        try:
            return msgspec.json.decode(bytes(body))
        except msgspec.DecodeError:
            raise OpError(400, "invalid_client", "the client's jwks.json is not JSON") from None
