"""A platform value as its table's row, and back: the table's columns are the value's
fields, in order, under the same names (checked when the reader is made, at import).

A column comes as the database driver gives it (integers as int, text as str, NULL as
None: both stores agree); only an enum field is converted (stored as its value), and a
``bool`` field (SQLite has no boolean: stored 0 or 1)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, get_type_hints

from centime.ledger.port import Fetch
from centime.ledger.units import UnitContext

from .context import Platform
from .pages import Cursor, Filters, Page, fetch_by_id, fetch_page

__all__ = ["Rows", "Table", "frozen_maker", "row_by_id", "row_reader", "row_update", "row_values"]

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


def frozen_maker(cls: type[T]) -> Callable[..., T]:
    """``cls(*values)`` for a frozen, slotted dataclass (every field given, in order), for the
    paths that make thousands of values per request (a batch's payments and items).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (3.8 µs
    for a Payment's 23 fields); this sets them on a twin class of the same slots with plain
    assignments and then makes the value a ``cls`` (``__class__`` assignment, which Python
    allows between classes of the same layout): 0.55 µs. Nothing else differs: the value is
    a ``cls``, equal to ``cls(*values)``, as frozen as it (tests/platform/test_rows.py)."""
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or cls.__bases__ != (object,)
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields)
    ):
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass of its own fields")
    twin = type(f"_{cls.__name__}Fill", (), {"__slots__": cls.__dict__["__slots__"]})
    names = [f.name for f in fields]
    source = (
        f"def make({', '.join(names)}):\n    made = new(twin)\n"
        + "".join(f"    made.{name} = {name}\n" for name in names)
        + "    set_class(made, '__class__', cls)\n    return made\n"
    )
    space: dict[str, Any] = {
        "new": object.__new__,
        "twin": twin,
        "cls": cls,
        "set_class": object.__setattr__,
    }
    exec(source, space)  # names are the dataclass's field names: identifiers
    make: Callable[..., T] = space["make"]
    return make


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


def _item_values(fields: Sequence[tuple[str, Any]]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of ``fields`` (name, type) of an item, in order: an enum as its value,
    everything else as it is."""
    cells = [f"item.{name}.value" if _is_enum(kind) else f"item.{name}" for name, kind in fields]
    values: Callable[[Any], tuple[Any, ...]] = _compiled(f"lambda item: ({', '.join(cells)},)", {})
    return values


def row_values(cls: type[T], columns: str) -> Callable[[T], tuple[Any, ...]]:
    """The writer of a ``cls`` as the values of ``columns`` (its fields, in order): an
    enum as its value, everything else as it is."""
    return _item_values(_fields(cls, columns))


def row_update(
    cls: type[T], table: str, columns: str, *, stamp_ns: str | None = None
) -> Callable[[UnitContext, T], T]:
    """The writer, in a unit, of a ``cls`` to its ``table`` row (the one of its ``id``): the
    ``columns`` named (the fields that change over the row's life, under their fields'
    names), an enum as its value; it returns the item as written. ``stamp_ns`` names the
    field (one of ``columns``) set to the unit's time first: when the row last changed.
    The UPDATE text and the order of its values come from the one list, where each module
    used to keep the two in step by hand."""
    hints = get_type_hints(cls)
    names = [c.strip() for c in columns.split(",")]
    if any(name not in hints for name in [*names, "id"]) or stamp_ns not in (None, *names):
        raise TypeError(f"the columns {columns!r} are not all fields of {cls.__name__}")
    sql = f"UPDATE {table} SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?"
    values = _item_values([(name, hints[name]) for name in [*names, "id"]])

    def update(ctx: UnitContext, item: T) -> T:
        if stamp_ns is not None:
            item = dataclasses.replace(item, **{stamp_ns: ctx.now_ns})  # type: ignore[type-var]
        ctx.execute(sql, values(item))
        return item

    return update


def row_by_id(
    fetch: Fetch,
    table: str,
    columns: str,
    row_id: int,
    row_to_item: Callable[[Sequence[Any]], T],
) -> T | None:
    """The ``table`` row of id ``row_id`` as an item, or None. ``fetch`` is a unit's (a read
    inside the unit's transaction) or a plain read's; ``table`` and ``columns`` come from the
    calling module, never from a request. One query text for every "load by id", so that a
    module's loader is its table and its reader."""
    rows = fetch(f"SELECT {columns} FROM {table} WHERE id = ?", (row_id,))
    return row_to_item(rows[0]) if rows else None


class Rows(Generic[T]):
    """A platform table's reads: its ``name``, its ``columns`` and ``read``, the reader of a
    row of them as a value (a table whose values need a reader of their own; a
    :class:`Table` makes it from its dataclass's fields). The name and the columns come from
    the calling module, never from a request."""

    __slots__ = ("columns", "name", "read")

    def __init__(self, name: str, columns: str, read: Callable[[Sequence[Any]], T]) -> None:
        self.name = name
        self.columns = columns
        self.read = read

    def load(self, fetch: Fetch, row_id: int) -> T | None:
        """The row of id ``row_id`` (:func:`row_by_id`: a unit's or a read's ``fetch``)."""
        return row_by_id(fetch, self.name, self.columns, row_id, self.read)

    def by_id(self, platform: Platform, row_id: int, filters: Filters = ()) -> T | None:
        """The row when it matches every filter (:func:`~.pages.fetch_by_id`)."""
        return fetch_by_id(platform, self.name, self.columns, row_id, self.read, filters)

    def page(
        self, platform: Platform, filters: Filters, cursor: Cursor | None, limit: int
    ) -> Page[T]:
        """A page of the rows matching every filter (:func:`~.pages.fetch_page`)."""
        return fetch_page(platform, self.name, self.columns, filters, cursor, limit, self.read)


class Table(Rows[T]):
    """A platform table whose rows are ``row_type`` values (a dataclass): its columns are the
    fields, in order, under the same names (as :mod:`centime.openpayments.table` does for
    its tables). A module makes its table once, at import; the column list, the reader, the
    INSERT and the reads by id and by page all come from the one field list, where each
    module used to restate the fields as a column string and hand the table's name, that
    string and its reader to every read."""

    __slots__ = ("insert_sql", "row_type", "values")

    def __init__(self, row_type: type[T], name: str) -> None:
        fields = dataclasses.fields(row_type)  # type: ignore[arg-type]
        columns = ", ".join(field.name for field in fields)
        super().__init__(name, columns, row_reader(row_type, columns))
        self.row_type = row_type
        self.values = row_values(row_type, columns)
        marks = ", ".join("?" * len(fields))
        self.insert_sql = f"INSERT INTO {name} ({columns}) VALUES ({marks})"

    def insert(self, ctx: UnitContext, item: T) -> None:
        """Write ``item`` as a new row, in the unit."""
        ctx.execute(self.insert_sql, self.values(item))

    def updater(
        self, columns: str, *, stamp_ns: str | None = None
    ) -> Callable[[UnitContext, T], T]:
        """The writer of the ``columns`` that change over a row's life (:func:`row_update`)."""
        return row_update(self.row_type, self.name, columns, stamp_ns=stamp_ns)
