"""ISO 8601 repeating intervals of outgoing-payment grants (``R12/2024-01-01T00:00:00Z/P1M``).

A grant's limit (``debitAmount`` or ``receiveAmount``) applies per repetition: what the
grant's payments spent counts only within the repetition that contains the payment's time.
Forms understood: ``R[n]/<start>/<duration>`` and ``R[n]/<start>/<end>`` (the duration is
end - start). A form with no start (``R/<duration>/<end>``) has no first repetition to count
from and is refused at the grant request. Durations with months or years step by calendar
(isodate); the rest by exact time. Pure: ``now`` is an argument.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Final

import isodate

__all__ = ["Interval", "parse_interval"]

_REPEAT: Final = re.compile(r"R([0-9]{0,9})")
STEPS_MAX: Final = 64  # correcting a calendar estimate takes a step or two; bound it anyway
_UTC: Final = datetime.UTC


@dataclass(frozen=True, slots=True)
class Interval:
    repetitions: int | None  # None: unbounded
    start: datetime.datetime
    step: datetime.timedelta | isodate.Duration

    def window_ns(self, now_ns: int) -> tuple[int, int] | None:
        """``(start_ns, end_ns)`` of the repetition containing ``now_ns``; None before the
        first or after the last."""
        now = datetime.datetime.fromtimestamp(now_ns // 1_000_000_000, _UTC)
        if now < self.start:
            return None
        index = self._estimate(now)
        for _ in range(STEPS_MAX):
            begin, end = self._at(index), self._at(index + 1)
            if now < begin:
                index -= 1
            elif now >= end:
                index += 1
            else:
                if self.repetitions is not None and index >= self.repetitions:
                    return None
                return _ns(begin), _ns(end)
        raise RuntimeError("an interval's repetition was not found")  # a bug: never loops

    def _at(self, index: int) -> datetime.datetime:
        moved: datetime.datetime = self.start + self.step * index
        return moved

    def _estimate(self, now: datetime.datetime) -> int:
        reference: datetime.timedelta = (self.start + self.step) - self.start
        return max(0, (now - self.start) // reference)


def _ns(moment: datetime.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def parse_interval(text: object) -> Interval | None:
    """The interval, or None when ``text`` is not one of the understood forms (or its step
    is not positive)."""
    if type(text) is not str or len(text) > 100:
        return None
    parts = text.split("/")
    if len(parts) != 3 or not (match := _REPEAT.fullmatch(parts[0])):
        return None
    repetitions = int(match.group(1)) if match.group(1) else None
    try:
        start = isodate.parse_datetime(parts[1])
        if parts[2].startswith("P"):
            step: datetime.timedelta | isodate.Duration = isodate.parse_duration(parts[2])
        else:
            step = isodate.parse_datetime(parts[2]) - start
    except (isodate.ISO8601Error, ValueError, TypeError, OverflowError):
        return None
    if start.tzinfo is None:
        return None
    start = start.astimezone(_UTC)
    try:
        if start + step <= start:
            return None
    except (OverflowError, ValueError):
        return None
    return Interval(repetitions, start, step)
