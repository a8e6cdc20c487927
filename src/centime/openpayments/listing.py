"""The cursors of the pages of a wallet's incoming or outgoing payments (newest first, by
``(created_ns, id)``: ``centime.openpayments.table.WalletTable.page``). A cursor is the last
item's ``<created_ns>.<id>``; a malformed one is refused by :func:`parse_cursor`."""

from __future__ import annotations

import re
from typing import Final

from .addresses import valid_uuid

__all__ = ["Cursor", "cursor_of", "parse_cursor"]

Cursor = tuple[int, str]
_CURSOR: Final = re.compile(r"([0-9]{1,20})\.(.{36})")


def cursor_of(created_ns: int, resource_id: str) -> str:
    return f"{created_ns}.{resource_id}"


def parse_cursor(text: str) -> Cursor | None:
    match = _CURSOR.fullmatch(text)
    if match is None or not valid_uuid(match.group(2)):
        return None
    return int(match.group(1)), match.group(2)
