"""A platform value as its wire Struct, written from the two types instead of by hand.

Every resource's ``*_out`` was the same field-by-field copy with the same few rules; they
are said once here, per wire field (by its name, the Struct's type, and the platform
value's type of the field it is read from):

- ``id``: the value's ``id`` as the resource's public id (``format_id(prefix, id)``);
- ``<thing>_id`` (``customer_id``, ``mandate_id``...): the public id of that thing;
- ``<when>_at``: the value's ``<when>_ns`` (or ``<when>_at_ns``) as RFC 3339 text;
- a ``Money`` field: the amount in the value's ``asset``;
- an enum: its value; anything else as it is.

A field the value may leave None stays None. ``renamed`` reads a wire field from another
attribute; ``computed`` gives a field from a function of the value. A wire field the value
does not have, with no default, or a ``<thing>_id`` of no known prefix, is an error when the
converter is made (at import).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, Union, get_args, get_origin, get_type_hints

import msgspec

from centime import wire
from centime.platform.ids import format_id

__all__ = ["converter"]

S = TypeVar("S")
W = TypeVar("W", bound=msgspec.Struct)

# The public id prefix of what a ``<thing>_id`` field names.
_ID_PREFIXES: Final = {
    "customer_id": "cus",
    "sender_id": "cus",
    "recipient_id": "cus",
    "merchant_id": "mer",
    "payment_id": "pay",
    "hold_id": "hold",
    "mandate_id": "man",
    "method_id": "pm",
    "quote_id": "quo",
    "payout_id": "po",
    "promo_code_id": "promo",
    "endpoint_id": "we",
    "delivery_id": "wd",
    "event_id": "evt",
}


def _members(kind: Any) -> tuple[Any, ...]:
    """The types a union is made of (``kind`` alone when it is none)."""
    union = get_origin(kind) in (Union, types.UnionType)
    return get_args(kind) if union else (kind,)


def _is_enum(kind: Any) -> bool:
    return any(isinstance(k, type) and issubclass(k, enum.Enum) for k in _members(kind))


def _unless_none(source: str, expression: str, may_be_none: bool) -> str:
    return f"(None if {source} is None else {expression})" if may_be_none else expression


def _cell(
    field: msgspec.structs.FieldInfo, attribute: str, hints: Mapping[str, Any], prefix: str | None
) -> str:
    """The expression of one wire field, from the value ``s``'s ``attribute``."""
    source = f"s.{attribute}"
    kind = hints[attribute]
    may_be_none = type(None) in _members(kind)
    if field.name == "id":
        if prefix is None:
            raise TypeError("an id needs its public prefix")
        return f"format_id({prefix!r}, {source})"
    if field.name in _ID_PREFIXES:
        return _unless_none(
            source, f"format_id({_ID_PREFIXES[field.name]!r}, {source})", may_be_none
        )
    if field.name.endswith("_at"):
        return _unless_none(source, f"rfc3339({source})", may_be_none)
    if wire.Money in _members(field.type):
        return _unless_none(source, f"money({source}, s.asset)", may_be_none)
    if _is_enum(kind):
        return _unless_none(source, f"{source}.value", may_be_none)
    if field.name.endswith("_id") and int in _members(kind):
        # An internal id copied as it is would put a number where the wire has a public id.
        raise TypeError(f"no public id prefix is known for {field.name}")
    return source


def _hints(value_type: type) -> dict[str, Any]:
    """The types of the value's fields and of its properties (what they return)."""
    hints = get_type_hints(value_type)
    for name, member in vars(value_type).items():
        if isinstance(member, property) and member.fget is not None:
            hints[name] = get_type_hints(member.fget)["return"]
    return hints


def _attribute(name: str, hints: Mapping[str, Any]) -> str:
    """The value's attribute a wire field is read from: its own name, or a time's in ns."""
    if not name.endswith("_at"):
        return name
    stem = name.removesuffix("_at")
    return f"{stem}_ns" if f"{stem}_ns" in hints else f"{name}_ns"


def converter(
    value_type: type[S],
    wire_type: type[W],
    prefix: str | None = None,
    renamed: Mapping[str, str] | None = None,
    computed: Mapping[str, Callable[[S], Any]] | None = None,
) -> Callable[[S], W]:
    """The conversion of a ``value_type`` to ``wire_type`` (its ``id`` a ``prefix`` id; a
    wire type without an id, a balance, needs no prefix), compiled once to the lambda that
    would be written by hand (as fast)."""
    hints = _hints(value_type)
    names: dict[str, Any] = {
        "W": wire_type,
        "format_id": format_id,
        "money": wire.money,
        "rfc3339": wire.rfc3339,
    }
    cells = []
    for field in msgspec.structs.fields(wire_type):
        if computed and field.name in computed:
            names[f"_{field.name}"] = computed[field.name]
            cells.append(f"{field.name}=_{field.name}(s)")
            continue
        attribute = (renamed or {}).get(field.name) or _attribute(field.name, hints)
        if attribute in hints:
            cells.append(f"{field.name}={_cell(field, attribute, hints, prefix)}")
        elif field.required:
            raise TypeError(f"{value_type.__name__} has no {attribute} for {wire_type.__name__}")
    made: Callable[[S], W] = eval(f"lambda s: W({', '.join(cells)})", names)
    return made
