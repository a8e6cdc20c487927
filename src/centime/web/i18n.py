"""Korean and English: the locale of a request, its catalogue, and amounts, times and
durations formatted for it.

The catalogues are gettext ``.po`` files in the package (``web/locale/<lang>/LC_MESSAGES``),
read with Babel and compiled in memory when the app starts: a fresh clone needs no build
step. The locale comes from the ``centime_lang`` cookie (the language switch) or else the
browser's ``Accept-Language``; times are shown in the browser's zone (``centime_tz``, set by
``static/locale.js``), UTC until it is known.

Amounts are formatted from their exact decimal text (``Decimal`` of the asset's formatting,
never a float): the locale's grouping and decimal signs, the currency's usual minor digits
at least (none for KRW and JPY), and every digit the amount really has beyond them (a
micro-amount stays exact).
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Final

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from centime.money import ASSETS
from centime.timetext import human_duration

__all__ = [
    "DEFAULT_LOCALE",
    "LANG_COOKIE",
    "LOCALES",
    "TZ_COOKIE",
    "Formats",
    "choose_locale",
    "choose_zone",
    "plain_amount",
    "translations",
]

LOCALES: Final = ("en", "ko")
DEFAULT_LOCALE: Final = "en"
LANG_COOKIE: Final = "centime_lang"
TZ_COOKIE: Final = "centime_tz"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
ACCEPT_LANGUAGE_LEN_MAX: Final = 500
ACCEPT_LANGUAGE_TAGS_MAX: Final = 20
ZONE_LEN_MAX: Final = 64
LANGUAGE_NAMES: Final = {"en": "English", "ko": "한국어"}


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The locale's catalogue (English is the source language: no catalogue)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


# RFC 9110's qvalue: 0 to 1 with at most three decimals.
_QVALUE: Final = re.compile(r"(0)(?:\.(\d{0,3}))?|1(?:\.0{0,3})?")


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    """The switch's choice if it names a locale we speak; else the browser's first
    preference (by q) that we speak; else English."""
    if cookie in LOCALES:
        return str(cookie)
    best: tuple[int, int, str] | None = None
    header = (accept_language or "")[:ACCEPT_LANGUAGE_LEN_MAX]
    for index, part in enumerate(header.split(",")[:ACCEPT_LANGUAGE_TAGS_MAX]):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        if language not in LOCALES:
            continue
        quality = 1000  # thousandths (RFC 9110 qvalue: at most three decimals)
        if params.strip().startswith("q="):
            found = _QVALUE.fullmatch(params.strip()[2:])
            if found is None:
                continue
            if found.group(1) is not None:  # 0.xyz; otherwise 1 (or 1.000): the default
                quality = int((found.group(2) or "").ljust(3, "0"))
        if quality > 0 and (best is None or (-quality, index) < (-best[0], best[1])):
            best = (quality, index, language)
    return best[2] if best else DEFAULT_LOCALE


def choose_zone(cookie: str | None) -> zoneinfo.ZoneInfo | dt.timezone:
    """The browser's IANA zone from its cookie, or UTC (unknown or malformed names)."""
    name = (cookie or "")[:ZONE_LEN_MAX]
    if not name or ".." in name or name.startswith("/"):
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def plain_amount(amount: int, asset: str) -> str:
    """An amount as a form field holds it, to be sent back: no grouping, a decimal point,
    the currency's minor digits at least and every digit the amount has (it parses back to
    the same integer: ``1000.00``, ``0.067763``, ``1000`` yen)."""
    return ASSETS[asset].short(amount)


@dataclass(frozen=True, slots=True)
class Formats:
    """Amounts, times and durations for one locale and time zone."""

    locale: str
    zone: zoneinfo.ZoneInfo | dt.timezone = dt.UTC

    def amount(self, amount: int, asset: str) -> str:
        """The number alone: ``1,234.50`` (en), ``1,000`` for whole won, ``0.0125``."""
        known = ASSETS[asset]
        exact = Decimal(known.format(amount))  # the exact decimal text, never a float
        least = min(known.minor_digits, known.scale)
        pattern = "#,##0" + ("." + "0" * least + "#" * (known.scale - least) if known.scale else "")
        return format_decimal(exact, format=pattern, locale=self.locale, decimal_quantization=False)

    def money(self, amount: int, asset: str) -> str:
        """The amount with its currency: ``2.50 USD`` (the code, unambiguous beside other
        currencies); won as people write it, ``₩1,234`` in English and ``1,234원`` in Korean."""
        number = self.amount(amount, asset)
        if asset != "KRW":
            return f"{number} {asset}"
        sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
        return f"{sign}{digits}원" if self.locale == "ko" else f"{sign}₩{digits}"

    def when(self, ns: int | None) -> str:
        """A moment in the viewer's zone, in the locale's medium style with the zone."""
        if ns is None:
            return ""
        moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.UTC).astimezone(self.zone)
        return format_datetime(moment, "medium", tzinfo=self.zone, locale=self.locale) + (
            f" ({moment.tzname()})"
        )

    def date(self, ns: int) -> str:
        moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.UTC).astimezone(self.zone)
        return format_datetime(moment, "short", tzinfo=self.zone, locale=self.locale)

    def duration(self, seconds: int) -> str:
        units = ("일", "시간", "분", "초") if self.locale == "ko" else ("d", "h", "min", "s")
        return human_duration(seconds, units)
