"""The screen of a platform that was given none: it blocks everything. It lives in the
platform's kernel because :class:`~centime.platform.context.Platform` defaults to it, and the
kernel imports no context (the decisions of the review context re-export it)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from centime.risk.types import Action, Decision, RiskEvent

__all__ = ["REASON_SCREEN_MISSING", "NoScreen"]

log = logging.getLogger("centime.risk")

REASON_SCREEN_MISSING: Final = "risk_screen_missing"
_MISSING: Final = Decision(Action.BLOCK, 99, (REASON_SCREEN_MISSING,), None, "none")


class NoScreen:
    """The screen of a platform nobody gave one: every decision is BLOCK
    (``risk_screen_missing``), logged. Composition roots set the real engine."""

    def decide(self, event: RiskEvent) -> Decision:
        log.error("no risk screen is configured: %s blocked", event.type)
        return _MISSING

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        if events:
            log.error("no risk screen is configured: %d events blocked", len(events))
        return [_MISSING] * len(events)

    def observe(self, event: RiskEvent) -> None:
        return None
