"""The one injectable clock. Engine time is integer nanoseconds since the Unix epoch."""

from __future__ import annotations

import threading
import time
from typing import Final, Protocol

__all__ = ["NS_PER_DAY", "NS_PER_S", "Clock", "FakeClock", "SystemClock"]

# Engine time's units, defined once (every module converting seconds or days to engine time
# used to define its own).
NS_PER_S: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_S


class Clock(Protocol):
    def now_ns(self) -> int: ...


class SystemClock:
    """Wall-clock time; the engine makes its timestamps strictly increasing on top of it."""

    def now_ns(self) -> int:
        return time.time_ns()


class FakeClock:
    """A clock that moves only when told to, for tests of timeouts and expiry."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now_ns = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now_ns

    def advance(self, seconds: int = 0, *, ns: int = 0) -> None:
        with self._lock:
            self._now_ns += seconds * NS_PER_S + ns
