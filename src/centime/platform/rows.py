"""A platform value as its table's row, and back: the table's columns are the value's
fields, in order, under the same names (checked when the reader is made, at import).

A column comes as the database driver gives it (integers as int, text as str, NULL as
None: both stores agree); only an enum field is converted (stored as its value), and a
``bool`` field (SQLite has no boolean: stored 0 or 1)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_type_hints

__all__ = ["row_reader", "row_values"]

T = TypeVar("T")


def _fields(cls: type[Any], columns: str) -> list[tuple[str, Any]]:
    """The dataclass's (name, type) pairs, checked against ``columns``."""
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if [c.strip() for c in columns.split(",")] != names:
        raise TypeError(f"the columns of {cls.__name__} are not its fields in order")
    return [(name, hints[name]) for name in names]


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, enum.Enum)


def _compiled(source: str, names: dict[str, Any]) -> Any:
    """``source`` (a lambda over the fields' names, which are identifiers) compiled once:
    as fast as the hand-written converter it replaces, as dataclasses and namedtuple make
    their methods."""
    return eval(source, names)


def row_reader(cls: type[T], columns: str) -> Callable[[Sequence[Any]], T]:
    """The reader of ``cls`` from a row of ``columns`` (its fields, in order)."""
    names: dict[str, Any] = {"cls": cls}
    cells = []
    for i, (name, kind) in enumerate(_fields(cls, columns)):
        if _is_enum(kind) or kind is bool:
            names[f"_{name}"] = kind
            cells.append(f"_{name}(row[{i}])")
        else:
            cells.append(f"row[{i}]")
    reader: Callable[[Sequence[Any]], T] = _compiled(f"lambda row: cls({', '.join(cells)})", names)
    return reader


def row_values(cls: type[T], columns: str) -> Callable[[T], tuple[Any, ...]]:
    """The writer of a ``cls`` as the values of ``columns`` (its fields, in order): an
    enum as its value, everything else as it is."""
    cells = [
        f"item.{name}.value" if _is_enum(kind) else f"item.{name}"
        for name, kind in _fields(cls, columns)
    ]
    values: Callable[[T], tuple[Any, ...]] = _compiled(f"lambda item: ({', '.join(cells)},)", {})
    return values
