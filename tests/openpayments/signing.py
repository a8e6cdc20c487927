"""The test client's side: centime.openpayments.client.ClientKey signs (as the official
Node client does, plus a ``nonce`` so that two identical requests in the same second are
not taken for a replay); :func:`request` sends what it signed."""

from __future__ import annotations

from typing import Any

from centime.openpayments.client import ClientKey

__all__ = ["ClientKey", "request"]


def request(
    http: Any,
    key: ClientKey,
    method: str,
    url: str,
    body: object = None,
    token: str | None = None,
    **kwargs: Any,
) -> Any:
    headers, content = key.sign(method, url, body, token, **kwargs)
    return http.request(method, url, headers=headers, content=content or None)
