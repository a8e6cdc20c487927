"""``settle_heap``: what ``centime serve`` does to the collector before serving."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from centime.cli.serve import SERVE_GC_GEN0_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was, whatever the test did to it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_the_heap_alive_at_start_is_frozen_and_the_young_generation_collected_less() -> None:
    kept = [object() for _ in range(100)]  # alive when the server starts
    _, gen1, gen2 = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (SERVE_GC_GEN0_THRESHOLD, gen1, gen2)


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_while_serving_are_still_collected() -> None:
    settle_heap()

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    del a, b
    assert gc.collect() >= 2
