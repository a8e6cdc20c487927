"""An SVG bar chart drawn on the server (no chart library, no script): integer geometry.

Heights are ``value * HEIGHT // peak`` (rounded down; a non-zero day gets at least one
pixel so it shows). Labels are the exact amounts (``Formats.money``), never floats, in the
reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from gettext import NullTranslations
from typing import Final

from .i18n import Formats

__all__ = ["Bar", "Chart", "earnings_chart"]

WIDTH: Final = 560
HEIGHT: Final = 160
GAP: Final = 4


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str  # what a screen reader says: "day 3: 1.25 USD"


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    total: str
    peak: str


def earnings_chart(
    days: Sequence[int],
    asset: str,
    formats: Formats | None = None,
    words: NullTranslations | None = None,
) -> Chart:
    """Bars of the days, oldest first; labels like "3 days ago: 1.25 USD" (in the reader's
    language with ``words``, their catalogue)."""
    formats = formats or Formats("en")
    words = words or NullTranslations()
    count = max(1, len(days))
    slot = WIDTH // count
    peak = max([0, *days])
    bars = []
    for index, value in enumerate(days):
        height = 0 if peak <= 0 or value <= 0 else max(1, value * HEIGHT // peak)
        ago = len(days) - 1 - index
        when = (
            words.gettext("today")
            if ago == 0
            else (words.ngettext("%(num)d day ago", "%(num)d days ago", ago) % {"num": ago})
        )
        bars.append(
            Bar(
                index * slot + GAP // 2,
                HEIGHT - height,
                slot - GAP,
                height,
                f"{when}: {formats.money(value, asset)}",
            )
        )
    return Chart(WIDTH, HEIGHT, bars, formats.money(sum(days), asset), formats.money(peak, asset))
