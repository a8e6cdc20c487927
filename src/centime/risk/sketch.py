"""Counts of pairs (payer-payee, payer-device) sized for real populations.

:class:`PairCounts` counts exactly up to ``exact_max`` distinct pairs (a dict), then counts
each NEW pair in a count-min sketch: ``depth`` rows of ``width`` counters, a pair adding one
to a counter per row (chosen by a salted hash), read as the smallest of its counters. A
sketch never undercounts; it overcounts a pair when other pairs share all its counters, so a
pair never seen may read as seen. Memory is fixed (``width * depth * 4`` bytes) whatever the
number of pairs; ``centime bench risk`` measures the error on simulated traffic. Nothing is
evicted: a pair's count never silently restarts (the old LRU cap of 50,000 made 82% of a
real file's payments look first-time).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

import numpy as np

from centime.limits import (
    RISK_KEYS_EXACT_MAX,
    RISK_PAIRS_EXACT_MAX,
    RISK_SHARED_SLOTS,
    RISK_SKETCH_DEPTH,
    RISK_SKETCH_WIDTH,
)

__all__ = ["BoundedMap", "CountMin", "PairCounts"]

V = TypeVar("V")

_MASK64 = 2**64 - 1


class CountMin:
    """A count-min sketch of hashable keys (Python's hash, salted per row: stable within a
    process, which is where the state lives)."""

    __slots__ = ("_multipliers", "_shift", "_table", "width")

    def __init__(self, width: int = RISK_SKETCH_WIDTH, depth: int = RISK_SKETCH_DEPTH) -> None:
        if width < 2 or width & (width - 1) or depth < 1:
            raise ValueError("a sketch needs a power-of-two width and a depth of at least 1")
        self.width = width
        self._table = np.zeros((depth, width), dtype=np.uint32)
        self._shift = 64 - (width.bit_length() - 1)
        self._multipliers = CountMin.multipliers(depth)

    @staticmethod
    def multipliers(depth: int = RISK_SKETCH_DEPTH) -> tuple[int, ...]:
        """Multiply-shift hashing, one odd multiplier per row (fixed: the state is in process;
        the C state, centime.risk._cstate.RulesState, uses the same): rows must pick their
        counters independently, which salting Python's tuple hash does not (its rows collided
        together: 7% of pairs overcounted instead of 0.1%)."""
        rng = np.random.default_rng(0xC0FFEE)
        return tuple(int(m) | 1 for m in rng.integers(1, 2**63, size=depth))

    def _slots(self, key: Hashable) -> list[int]:
        h = hash(key) & _MASK64
        return [((h * m) & _MASK64) >> self._shift for m in self._multipliers]

    def add(self, key: Hashable, count: int = 1) -> None:
        for row, slot in enumerate(self._slots(key)):
            self._table[row, slot] += count

    def get(self, key: Hashable) -> int:
        return int(min(self._table[row, slot] for row, slot in enumerate(self._slots(key))))

    @property
    def nbytes(self) -> int:
        return int(self._table.nbytes)


class PairCounts:
    """Exact counts up to ``exact_max`` pairs, then a count-min sketch for the new ones."""

    __slots__ = ("_width", "exact", "exact_max", "sketch")

    def __init__(
        self, exact_max: int = RISK_PAIRS_EXACT_MAX, width: int = RISK_SKETCH_WIDTH
    ) -> None:
        self.exact: dict[Hashable, int] = {}
        self.exact_max = exact_max
        self.sketch: CountMin | None = None  # allocated when the exact map is full
        self._width = width

    def get(self, key: Hashable) -> int:
        found = self.exact.get(key)
        if found is not None:
            return found
        return self.sketch.get(key) if self.sketch is not None else 0

    def add(self, key: Hashable) -> int:
        """Count ``key`` once; its count before."""
        exact = self.exact
        before = exact.get(key)
        if before is not None:
            exact[key] = before + 1
            return before
        if len(exact) < self.exact_max:
            exact[key] = 1
            return 0
        if self.sketch is None:
            self.sketch = CountMin(self._width)
        before_sketch = self.sketch.get(key)
        self.sketch.add(key)
        return before_sketch

    def __len__(self) -> int:
        return len(self.exact)


class BoundedMap(Generic[V]):
    """Per-key state, exact for the first ``exact_max`` keys; a key beyond shares one of
    ``slots`` states chosen by its hash (a count-min sketch of depth one: what it counts
    reads high when another key shares its slot, never low). Memory is bounded by design
    (``exact_max + slots`` states) and nothing is evicted: a key never silently restarts,
    which the least-recently-used cap it replaces did (issue 13)."""

    __slots__ = ("_data", "_factory", "_shared", "_shift", "exact_max")

    def __init__(
        self,
        factory: Callable[[], V],
        exact_max: int = RISK_KEYS_EXACT_MAX,
        slots: int = RISK_SHARED_SLOTS,
    ) -> None:
        if exact_max < 1 or slots < 2 or slots & (slots - 1):
            raise ValueError("a bounded map needs a positive limit and power-of-two slots")
        self.exact_max = exact_max
        self._factory = factory
        self._data: dict[str, V] = {}
        self._shared: list[V | None] = []  # allocated when the exact map is full
        self._shift = 64 - (slots.bit_length() - 1)

    def _slot(self, key: str) -> int:
        return ((hash(key) & _MASK64) * _SLOT_MULTIPLIER & _MASK64) >> self._shift

    def get(self, key: str) -> V | None:
        found = self._data.get(key)
        if found is not None or not self._shared:
            return found
        return self._shared[self._slot(key)]

    def get_or_create(self, key: str) -> V:
        data = self._data
        found = data.get(key)
        if found is not None:
            return found
        if len(data) < self.exact_max:
            found = data[key] = self._factory()
            return found
        if not self._shared:
            self._shared = [None] * (1 << (64 - self._shift))
        slot = self._slot(key)
        shared = self._shared[slot]
        if shared is None:
            shared = self._shared[slot] = self._factory()
        return shared

    def __contains__(self, key: str) -> bool:
        return key in self._data or (
            bool(self._shared) and self._shared[self._slot(key)] is not None
        )

    def __len__(self) -> int:
        """The keys held exactly."""
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        """The keys held exactly."""
        return iter(self._data)

    @property
    def shared_states(self) -> int:
        return sum(state is not None for state in self._shared)


_SLOT_MULTIPLIER = 0x9E3779B97F4A7C15  # odd: multiply-shift spreads Python's string hash
