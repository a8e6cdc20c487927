"""An SVG bar chart drawn on the server (no chart library, no script): integer geometry.

Heights are ``value * HEIGHT // peak`` (rounded down; a non-zero day gets at least one
pixel so it shows). Labels are the exact amounts (``show_money``), never floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .common import show_money

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


def earnings_chart(days: Sequence[int], asset: str) -> Chart:
    count = max(1, len(days))
    slot = WIDTH // count
    peak = max([0, *days])
    bars = []
    for index, value in enumerate(days):
        height = 0 if peak <= 0 or value <= 0 else max(1, value * HEIGHT // peak)
        ago = len(days) - 1 - index
        when = "today" if ago == 0 else f"{ago} day{'s' if ago > 1 else ''} ago"
        bars.append(Bar(index * slot + GAP // 2, HEIGHT - height, slot - GAP, height,
                        f"{when}: {show_money(value, asset)} {asset}"))  # fmt: skip
    return Chart(WIDTH, HEIGHT, bars, show_money(sum(days), asset), show_money(peak, asset))
