"""Ids from the wire: a URL's id that does not parse names nothing (404, the code of what
was looked for); a body's id that does not parse is a bad field (400 naming it). What a
parsed id does not find (or finds outside what the caller may see) is the same 404
(``must_find``)."""

from __future__ import annotations

from typing import TypeVar

from centime.http.problems import ApiCode, ProblemError
from centime.platform.errors import Code
from centime.platform.ids import PREFIXES, parse_id
from centime.wire import FieldError

__all__ = ["body_id", "must_find", "path_id"]

T = TypeVar("T")


def path_id(prefix: str, text: str, not_found: Code) -> int:
    value = parse_id(prefix, text)
    if value is None:
        raise ProblemError(not_found, f"no such {PREFIXES[prefix]}")
    return value


def body_id(prefix: str, text: str, field: str) -> int:
    value = parse_id(prefix, text)
    if value is None:
        detail = f"not a {PREFIXES[prefix]} id ({prefix}_ and 13 characters)"
        raise ProblemError(
            ApiCode.INVALID_REQUEST,
            f"{field}: {detail}",
            errors=[FieldError(field=field, detail=detail)],
        )
    return value


def must_find(value: T | None, not_found: Code, detail: str) -> T:
    """What a read found, or the 404 ``not_found`` when it found nothing."""
    if value is None:
        raise ProblemError(not_found, detail)
    return value
