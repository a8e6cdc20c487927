"""Ring-bucket windows against a brute-force list of events, and the LRU bound."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk.windows import STANDARD_WINDOWS, WindowSet, WindowSpec, window_spec

SPECS = (window_spec("1m", 60, 6), window_spec("1h", 3_600, 12), WindowSpec("tiny", 7, 3))
S = 1_000_000_000


def brute_force(events: list[tuple[int, int]], now: int, spec: WindowSpec) -> tuple[int, int]:
    """Count and sum of the events whose bucket is one of the window's: (now_b - n, now_b]."""
    now_bucket = now // spec.width_ns
    inside = [v for t, v in events if now_bucket - spec.buckets < t // spec.width_ns <= now_bucket]
    return len(inside), sum(inside)


# Gaps between events (ns): small ones, bucket-sized ones and jumps past every window.
gaps = st.one_of(
    st.integers(0, 20), st.integers(0, 5 * S), st.integers(0, 400 * S), st.integers(0, 10_000 * S)
)


@settings(max_examples=150)
@given(st.lists(st.tuples(gaps, st.integers(0, 1_000), st.booleans()), max_size=60))
def test_windows_match_a_brute_force_reference(steps: list[tuple[int, int, bool]]) -> None:
    windows = WindowSet(SPECS)
    events: list[tuple[int, int]] = []
    now = 1_700_000_000 * S
    for gap, value, read in steps:
        now += gap
        windows.add(now, float(value))
        events.append((now, value))
        if read:
            check(windows, events, now)
    check(windows, events, now + 30 * S)  # later, with nothing new: some windows emptied


def check(windows: WindowSet, events: list[tuple[int, int]], now: int) -> None:
    counts, sums = windows.read(now)
    for i, spec in enumerate(SPECS):
        count, total = brute_force(events, now, spec)
        assert counts[i] == count
        assert sums[i] == float(total)  # small integers: float sums are exact


def test_an_event_older_than_the_newest_bucket_counts_in_the_newest() -> None:
    windows = WindowSet(STANDARD_WINDOWS)
    windows.add(100 * 60 * S, 1.0)
    windows.add(10 * 60 * S, 2.0)  # 90 minutes earlier: absorbed, history is not rewritten
    counts, sums = windows.read(100 * 60 * S)
    assert counts == [2, 2, 2, 2, 2]
    assert sums == [3.0] * 5
    counts, _ = windows.read(100 * 60 * S + 61 * S)
    assert counts[0] == 0 and counts[1] == 2
