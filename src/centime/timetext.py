"""Durations as people read them: "23 h 59 min", not "86398 seconds"."""

from __future__ import annotations

__all__ = ["human_duration"]


def human_duration(seconds: int, units: tuple[str, str, str, str] = ("d", "h", "min", "s")) -> str:
    """The two largest non-zero units, the rest cut off: 86_398 -> "23 h 59 min",
    90_061 -> "1 d 1 h", 59 -> "59 s". ``units`` names day, hour, minute and second (a
    locale's words)."""
    seconds = max(0, seconds)
    if seconds < 60:
        return f"{seconds} {units[3]}"
    days, rest = divmod(seconds // 60, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, units[0]), (hours, units[1]), (minutes, units[2])]
    first = next(i for i, (value, _) in enumerate(parts) if value)
    return " ".join(f"{v} {u}" for v, u in parts[first : first + 2] if v)
