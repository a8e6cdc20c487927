"""Test doubles of the risk engine's PORT (centime.risk.types.Screen), for the platform's
tests: the real engine (centime.risk) has its own tests; here the platform's side is tested
against chosen answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from centime.risk.types import Action, Decision, RiskEvent, RiskLabel

__all__ = ["ALLOW", "AllowScreen", "RaisingScreen", "ScriptedScreen", "decision"]


def decision(action: Action, *reasons: str, score: int = 50) -> Decision:
    return Decision(action, score, tuple(reasons), "test-model-1", "test-rules-1")


ALLOW = decision(Action.ALLOW, score=1)


@dataclass
class ScriptedScreen:
    """Answers ``rule(event)`` (default: ALLOW) and remembers what it was asked."""

    rule: Callable[[RiskEvent], Decision] = lambda event: ALLOW
    asked: list[RiskEvent] = field(default_factory=list)
    observed: list[RiskEvent] = field(default_factory=list)
    labels: list[RiskLabel] = field(default_factory=list)
    batch_calls: int = 0

    def decide(self, event: RiskEvent) -> Decision:
        self.asked.append(event)
        return self.rule(event)

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        self.batch_calls += 1
        return [self.decide(event) for event in events]

    def observe(self, event: RiskEvent) -> None:
        self.observed.append(event)

    def label(self, label: RiskLabel) -> None:
        self.labels.append(label)


class AllowScreen(ScriptedScreen):
    """Allows everything: for tests that screen nothing in particular."""


class RaisingScreen:
    """A broken engine: every call raises."""

    def decide(self, event: RiskEvent) -> Decision:
        raise RuntimeError("the model file is corrupt")

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        raise RuntimeError("the model file is corrupt")

    def observe(self, event: RiskEvent) -> None:
        raise RuntimeError("the model file is corrupt")
