"""Platform SQL in one dialect for both stores, translated once per statement.

The platform writes each statement once, with DB-API ``qmark`` placeholders (``?``), the
style sqlite3 binds natively: the SQLite store runs the text as it is. psycopg binds
``%s`` and reads every ``%`` as the start of a placeholder, so the PostgreSQL store runs
:func:`pyformat` of the text. No placeholder style is native to both drivers (sqlite3 has no
``%s``; psycopg's ``$1`` needs its raw cursors and sqlite3 would take ``$1`` for a *named*
parameter), hence one translation, made right once instead of rewritten at every call:

- ``?`` becomes ``%s`` only outside string literals, quoted identifiers and comments, and
  every ``%`` becomes ``%%`` (the per-call ``str.replace("?", "%s")`` it replaces turned a
  ``'?'`` literal into a placeholder and left ``LIKE 'a%'`` for psycopg to reject);
- translations are memoized by statement text in a bounded cache, so a statement pays the
  scan once per process and a call costs one dictionary lookup on the text, whose hash
  Python keeps in the string object (module-level constants and code literals are the same
  object call after call).

The adapters' own statements are module-level constants, written once in ``?`` style where
both stores share them and translated when the module is imported.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["STATEMENTS_CACHED_MAX", "pyformat"]

# Distinct platform statements whose translation is kept (the platform has a few hundred;
# a statement built with varying text, beyond the bound, is translated again when evicted).
STATEMENTS_CACHED_MAX: Final = 4096

# What the scan stops at: a quoted literal or identifier (a doubled quote stays inside it),
# a comment, a placeholder, a percent sign. Everything else is copied as it is.
_TOKENS: Final = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|[?%]",
    re.DOTALL,
)


def _token(match: re.Match[str]) -> str:
    # psycopg reads placeholders without regard to quotes: a ``%`` in a literal, an
    # identifier or a comment is doubled too; only a ``?`` outside them is a placeholder.
    text = match.group()
    return "%s" if text == "?" else text.replace("%", "%%")


@lru_cache(maxsize=STATEMENTS_CACHED_MAX)
def pyformat(sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in psycopg's ``%s`` style."""
    return _TOKENS.sub(_token, sql)
