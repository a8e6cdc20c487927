"""API keys (centime.api.routes.keys)."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from centime.limits import API_KEY_NAME_LEN_MAX

from .common import (
    TEXT_PATTERN,
    Cursor,
    Input,
    Output,
    ScopeName,
)

__all__ = [
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPage",
]

Scopes = Annotated[list[ScopeName], Meta(min_length=1, max_length=5)]


class ApiKey(Output):
    id: str  # key_...
    owner: str  # "operator", or the merchant's id
    name: str
    scopes: list[ScopeName]
    created_at: str
    revoked_at: str | None


class ApiKeyCreated(ApiKey):
    """The new key's full text, shown this once: ``secret`` is null when an idempotent
    retry replays the creation (the secret is never stored; revoke the key and make
    another)."""

    secret: str | None


class ApiKeyCreate(Input):
    name: Annotated[str, Meta(min_length=1, max_length=API_KEY_NAME_LEN_MAX, pattern=TEXT_PATTERN)]
    scopes: Scopes
    # For which merchant (the operator's choice; a merchant may name only itself). Left
    # out: a key for the caller's own owner.
    merchant_id: str | UnsetType = UNSET


class ApiKeyPage(Output):
    data: list[ApiKey]
    next_cursor: Cursor
