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

__all__ = ["Bar", "Chart", "bars", "earnings_chart"]

WIDTH: Final = 560
HEIGHT: Final = 160
GAP: Final = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One bar, in the SVG's user units from its top left corner (keyword-only: four ints
    in a row are easily swapped)."""

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


def bars(values: Sequence[int], labels: Sequence[str]) -> list[Bar]:
    """``values`` as SVG bars side by side, each with its label (integer geometry:
    ``value * HEIGHT // peak``, a non-zero value at least a pixel high)."""
    slot = WIDTH // max(1, len(values))
    peak = max([0, *values])
    made = []
    for index, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = 0 if peak <= 0 or value <= 0 else max(1, value * HEIGHT // peak)
        x = index * slot + GAP // 2
        made.append(Bar(x=x, y=HEIGHT - height, width=slot - GAP, height=height, label=label))
    return made


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
    labels = []
    for index, value in enumerate(days):
        ago = len(days) - 1 - index
        when = (
            words.gettext("today")
            if ago == 0
            else (words.ngettext("%(num)d day ago", "%(num)d days ago", ago) % {"num": ago})
        )
        labels.append(f"{when}: {formats.money(value, asset)}")
    peak = max([0, *days])
    return Chart(
        WIDTH,
        HEIGHT,
        bars(days, labels),
        formats.money(sum(days), asset),
        formats.money(peak, asset),
    )
