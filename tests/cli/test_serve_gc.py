"""``centime serve`` moves what it built to start out of the collector's generations (a
full collection would otherwise walk them again, about once per batch of payments)."""

from __future__ import annotations

import gc

from centime.cli.serve import _freeze_start_objects


def test_the_start_objects_are_frozen_and_later_ones_are_not() -> None:
    gc.unfreeze()
    try:
        started = {"kept": [object()]}
        _freeze_start_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        later = {"kept": [object()]}
        assert gc.get_freeze_count() == frozen
        tracked = gc.get_objects()  # the three generations: not the frozen objects
        assert not any(o is started for o in tracked)
        assert any(o is later for o in tracked)
    finally:
        gc.unfreeze()
