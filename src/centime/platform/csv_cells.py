"""CSV cells a spreadsheet will not run: text that starts like a formula (``=``, ``+``,
``-``, ``@``, a tab or a carriage return) gets a leading apostrophe, so opening an export
in a spreadsheet shows the text instead of evaluating it (CSV/formula injection). Every
CSV the platform writes with text others chose (merchants' references, device headers)
goes through :func:`cell`."""

from __future__ import annotations

from typing import Final

__all__ = ["cell"]

_FORMULA_FIRST: Final = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_FIRST) else value
