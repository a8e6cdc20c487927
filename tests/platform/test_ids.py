"""Time-ordered ids: increasing within a process, unique, in 1..2^63-1, time in the high bits,
blocks reserved whole; a forked child draws its own start."""

from __future__ import annotations

import itertools
import os
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from centime.limits import ID_MAX
from centime.platform.ids import (
    LANES,
    format_id,
    new_id,
    new_id_block,
    parse_id,
    random_id,
    set_id_lane,
)

# The layout of centime.platform.ids: the time unit (2^30 ns) above 31 bits.
TICK_SHIFT = 30
LOW_BITS = 31
LANE_SIZE = 1 << 23  # the ids of one lane in a unit


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=13), min_size=1, max_size=40))
def test_ids_and_blocks_increase_and_never_overlap(block_bits: list[int]) -> None:
    taken: list[tuple[int, int]] = []  # (first, last) of every id or block, in call order
    for bits in block_bits:
        first = new_id() if bits == 0 else new_id_block(bits)
        assert first % (1 << bits) == 0
        taken.append((first, first + (1 << bits) - 1))
    for (_, last), (first, _) in itertools.pairwise(taken):
        assert first > last  # strictly increasing: no block holds a later id
    assert all(first >= 1 and last <= ID_MAX for first, last in taken)


def test_many_ids_are_unique_and_increasing() -> None:
    ids = [new_id() for _ in range(200_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert ids[0] >= 1 and ids[-1] <= ID_MAX


def test_threads_never_share_an_id() -> None:
    results: list[list[int]] = [[] for _ in range(4)]

    def make(out: list[int]) -> None:
        out.extend(new_id() for _ in range(20_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for out in results for i in out]
    assert len(set(everything)) == len(everything)
    assert all(out == sorted(out) for out in results)


def test_the_time_is_in_the_high_bits() -> None:
    before = time.time_ns() >> TICK_SHIFT
    made = new_id()
    after = time.time_ns() >> TICK_SHIFT
    # A unit holds 2^31 ids, the run starting in its lower half: no test overflows one.
    assert before <= made >> LOW_BITS <= after


def test_a_forked_child_draws_its_own_ids() -> None:
    reader, writer = os.pipe()
    parent_next = new_id()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(writer, str(new_id()).encode())
        os._exit(0)
    os.close(writer)
    child_id = int(os.read(reader, 64))
    os.close(reader)
    os.waitpid(pid, 0)
    mine = new_id()
    # Had the child kept the parent's sequence, its id would be the parent's next one.
    assert mine == parent_next + 1 or mine >> LOW_BITS > parent_next >> LOW_BITS
    assert child_id != parent_next + 1
    assert 1 <= child_id <= ID_MAX


def test_blocks_are_bounded() -> None:
    for bits in (-1, 21):
        try:
            new_id_block(bits)
        except ValueError:
            continue
        raise AssertionError(f"a block of 2^{bits} ids was handed out")


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_random_and_new_ids_format_and_parse_back(data: st.DataObject) -> None:
    for value in (new_id(), random_id(), new_id_block(data.draw(st.integers(0, 13)))):
        assert parse_id("pay", format_id("pay", value)) == value


def test_a_lane_keeps_a_process_in_its_range_and_increasing() -> None:
    before = new_id()
    try:
        for lane in (0, LANES - 1, 3):
            set_id_lane(lane)
            made = [new_id() for _ in range(2_000)] + [new_id_block(13)]
            assert made == sorted(made) and made[0] > before
            for value in made:
                low = value & ((1 << LOW_BITS) - 1)
                assert lane * LANE_SIZE <= low < (lane + 1) * LANE_SIZE
            before = made[-1] + (1 << 13) - 1
    finally:
        set_id_lane(None)
    assert new_id() > before


def test_lanes_are_bounded() -> None:
    for lane in (-1, LANES):
        try:
            set_id_lane(lane)
        except ValueError:
            continue
        raise AssertionError(f"lane {lane} was accepted")


def test_processes_of_one_postgres_database_hold_distinct_lanes(postgres_url: str) -> None:
    from centime.app import id_lane

    with id_lane(postgres_url) as mine:
        assert mine is not None and 0 <= mine < LANES
        low = new_id() & ((1 << LOW_BITS) - 1)
        assert mine * LANE_SIZE <= low < (mine + 1) * LANE_SIZE
        # Another process of the same database (here: a child) gets another lane.
        code = (
            f"from centime.app import id_lane\nwith id_lane({postgres_url!r}) as lane: print(lane)"
        )
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        other = int(done.stdout.strip())
        assert other != mine
    with id_lane("sqlite:///nowhere.db") as none:
        assert none is None


def _format_id_by_digits(prefix: str, value: int) -> str:
    """format_id as it was written first: thirteen divmods by 32, least significant first."""
    digits = []
    for _ in range(13):
        value, digit = divmod(value, 32)
        digits.append("0123456789abcdefghjkmnpqrstvwxyz"[digit])
    return f"{prefix}_{''.join(reversed(digits))}"


@given(st.sampled_from(["pay", "cus", "mer", "man"]), st.integers(-(2**70), 2**70))
def test_format_id_is_the_digit_by_digit_text(prefix: str, value: int) -> None:
    """The table of pairs gives the same text as a digit at a time, for every integer
    (beyond 65 bits and below zero too, where both keep the low 65 bits' digits)."""
    assert format_id(prefix, value) == _format_id_by_digits(prefix, value)
