"""Cursor pagination: bounded pages, opaque cursors.

A listing is newest first on ``(created_ns, id)`` (centime.platform.pages); the API hands
the position after a page's last row to the client as an opaque string: version, the pair,
and a keyed BLAKE2b tag over the listing's name and the pair. A cursor that was changed,
cut, or taken from another listing is a 400 ``invalid_cursor``, never a wrong page.

The tag is for integrity, not secrecy or authority: every listing is also filtered by the
caller's own rows, so even a forged cursor could only move within what the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Protocol, TypeVar

from litestar.connection import ASGIConnection
from litestar.params import Parameter

from centime.http.problems import ApiCode, ProblemError
from centime.limits import API_CURSOR_LEN_MAX, API_PAGE_SIZE_DEFAULT, API_PAGE_SIZE_MAX
from centime.platform.pages import Cursor
from centime.wire import FieldError

from .state import api_state

__all__ = [
    "API_PAGE_SIZE_DEFAULT",
    "CursorParam",
    "LimitParam",
    "decode_cursor",
    "encode_cursor",
    "listed_page",
    "next_cursor",
    "page_of",
]

_VERSION: Final = 1
_PAYLOAD: Final = struct.Struct(">BqQ")  # version, created_ns, id
_TAG_LEN: Final = 8
_INT64_MAX: Final = 2**63 - 1
_KEY: Final = b"centime cursor v1"

LimitParam = Annotated[
    int,
    Parameter(ge=1, le=API_PAGE_SIZE_MAX, description=f"Items per page, 1-{API_PAGE_SIZE_MAX}."),
]
CursorParam = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=API_CURSOR_LEN_MAX,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The next_cursor of the previous page; left out: the first page.",
    ),
]


def _tag(listing: str, payload: bytes) -> bytes:
    return hashlib.blake2b(
        listing.encode() + b"\x00" + payload, key=_KEY, digest_size=_TAG_LEN
    ).digest()


def encode_cursor(listing: str, cursor: Cursor) -> str:
    """The opaque text of the position ``cursor`` in ``listing``."""
    payload = _PAYLOAD.pack(_VERSION, cursor[0], cursor[1])
    raw = payload + _tag(listing, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def next_cursor(listing: str, cursor: Cursor | None) -> str | None:
    """A page's ``next_cursor``: None on the last page."""
    return None if cursor is None else encode_cursor(listing, cursor)


def decode_cursor(listing: str, text: str | None) -> Cursor | None:
    """The position a cursor of ``listing`` names (None: from the start); 400 otherwise."""
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    payload, tag = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if len(raw) != _PAYLOAD.size + _TAG_LEN or not hmac.compare_digest(tag, _tag(listing, payload)):
        raise ProblemError(
            ApiCode.INVALID_CURSOR,
            "the cursor is not one this listing gave",
            errors=[FieldError(field="cursor", detail="not a cursor of this listing")],
        )
    version, created_ns, row_id = _PAYLOAD.unpack(payload)
    if version != _VERSION:
        raise ProblemError(ApiCode.INVALID_CURSOR, "the cursor is of an older version")
    if not (0 <= created_ns <= _INT64_MAX and 0 <= row_id <= _INT64_MAX):
        # The tag is not a secret (every listing is filtered to the caller's rows), so a
        # forged cursor can carry any 64-bit value; the stores hold signed 64-bit integers.
        raise ProblemError(ApiCode.INVALID_CURSOR, "the cursor is not one this listing gave")
    return created_ns, row_id


T_co = TypeVar("T_co", covariant=True)
P = TypeVar("P")


class Listed(Protocol[T_co]):
    """One page of a listing as the platform answers it (``centime.platform.pages.Page``)."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> Cursor | None: ...


def listed_page(
    page_type: Callable[..., P],
    listing: str,
    cursor: str | None,
    fetch: Callable[[Cursor | None], Listed[Any]],
    render: Callable[[Any], Any],
) -> P:
    """The wire page of ``listing`` that starts at the client's ``cursor``: the platform's
    page (``fetch`` from the decoded position), each item rendered, the next cursor bound to
    ``listing``."""
    page = fetch(decode_cursor(listing, cursor))
    return page_type(
        data=[render(item) for item in page.items],
        next_cursor=next_cursor(listing, page.next_cursor),
    )


def page_of(
    request: ASGIConnection[Any, Any, Any, Any],
    page_type: Callable[..., P],
    listing: str,
    cursor: str | None,
    limit: int,
    rows: Callable[..., Listed[Any]],
    render: Callable[[Any], Any],
    *keys: object,
) -> P:
    """``listed_page`` of a platform listing called the platform's way:
    ``rows(platform, *keys, position, limit)``."""
    platform = api_state(request).platform
    return listed_page(
        page_type, listing, cursor, lambda at: rows(platform, *keys, at, limit), render
    )
