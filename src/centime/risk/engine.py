"""The risk engine: online features -> rules and model score bands -> one decision.

``RiskEngine`` implements the :class:`~centime.risk.types.Screen` port. For each event:
the feature row from what was known before it (then the event counts), the rules that fire,
the model's calibrated score and its band; the decision is the worst action among them, with
the rules' reason codes first, then the model's top contributions (computed only when the
score reaches a band: an allowed payment costs one model call, not two).

Fail closed: any exception inside answers BLOCK with the reason ``engine_error`` and is
logged; nothing is raised to the caller. Thread-safe: one lock around the features of each
decision (and each batch), because they must see events one at a time and in order; the rules
and the model run outside it (the model call, native trees or Booster, releases the GIL).
``centime bench risk`` measures several threads on one engine against one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from centime.clock import Clock, SystemClock
from centime.risk.features import FeatureConfig, OnlineFeatures, Row
from centime.risk.field import FIELD_NAMES, new_field_state
from centime.risk.model import DEFAULT_MODEL_DIR, Model, load_model
from centime.risk.rules import DEFAULT_RULES_PATH, SEVERITY, Rule, Ruleset, RulesFile
from centime.risk.shared_state import Velocity
from centime.risk.types import Action, Decision, RiskEvent, RiskLabel

__all__ = ["BATCH_MAX", "ENGINE_ERROR", "RiskEngine", "build_engine"]

log = logging.getLogger(__name__)

BATCH_MAX: Final = 8189  # events in one decide_many model call; longer batches are chunked
ENGINE_ERROR: Final = "engine_error"
FUTURE_SLACK_NS: Final = 300 * 1_000_000_000


class RiskEngine:
    def __init__(
        self,
        features: OnlineFeatures,
        rules: RulesFile,
        model: Model | None,
        clock: Clock | None = None,
    ) -> None:
        self.features = features  # for the rules
        # For the model (centime.risk.field): each party in C arrays when built.
        self.field = new_field_state(features.config.native_state)
        self.rules = rules
        self.model = model
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        if model is None:
            log.warning("risk engine without a model: decisions come from the rules alone")

    # -- the port ------------------------------------------------------------------------------
    def _bounded(self, event: RiskEvent) -> RiskEvent:
        """``event`` with a timestamp at most a little ahead of the clock: the windows only
        move forward, so one forged far-future timestamp would otherwise empty them all."""
        latest = self.clock.now_ns() + FUTURE_SLACK_NS
        return event if event.timestamp_ns <= latest else event._replace(timestamp_ns=latest)

    def decide(self, event: RiskEvent) -> Decision:
        ruleset: Ruleset | None = None
        try:
            with self._lock:  # only the features need events one at a time, in order
                ruleset = self.rules.current()
                event = self._bounded(event)
                self.features.load((event,))
                fired = self._fired(ruleset, event)
                model_row = self.model_row(event)
                self.features.store()
            score = None
            if self.model is not None:  # the model call releases the GIL: threads overlap
                score = self.model.scores(model_row.reshape(1, -1))[0]
            return self._combine(event, model_row, ruleset, fired, score, None)
        except Exception:
            return self._failed(event, ruleset)

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        decisions: list[Decision] = []
        for start in range(0, len(events), BATCH_MAX):
            decisions += self._decide_chunk(events[start : start + BATCH_MAX])
        return decisions

    def observe(self, event: RiskEvent) -> None:
        try:
            with self._lock:
                event = self._bounded(event)
                self.features.load((event,))
                self.features.update(event)
                self.features.store()
                self.field.update(event)
        except Exception:
            log.exception("risk engine failed to observe %s %s", event.type, event.payer)

    def label(self, label: RiskLabel) -> None:
        """A label arrived (the :class:`~centime.risk.types.LabelSink` port): a fraud label
        counts in its payer's and payee's label-feedback features from its arrival on, at
        the engine's clock if it claims to have arrived later than now."""
        if not label.fraud:
            return  # the rates count fraud labels against all events: nothing to add
        try:
            arrived = min(label.arrived_ns, self.clock.now_ns() + FUTURE_SLACK_NS)
            with self._lock:
                self.field.add_label(label.payer, label.payee, arrived)
        except Exception:
            log.exception("risk engine failed to count a label on %s", label.payer)

    def _fired(self, ruleset: Ruleset, event: RiskEvent) -> list[Rule]:
        """The rules that fire on ``event`` (reading only the features they need), then the
        event counts; under the lock."""
        fired = ruleset.evaluate(event, self.features.row(event))
        self.features.update(event)
        return fired

    def model_row(self, event: RiskEvent) -> Row:
        """The model's feature row of ``event`` (then it counts); under the lock."""
        matrix = np.empty((1, len(FIELD_NAMES)), dtype=np.float64)
        self.field.step_into(matrix, 0, event)
        return matrix[0]

    # -- internals -----------------------------------------------------------------------------
    def _decide_chunk(self, events: Sequence[RiskEvent]) -> list[Decision]:
        ruleset: Ruleset | None = None
        try:
            with self._lock:
                ruleset = self.rules.current()
                events = [self._bounded(event) for event in events]
                self.features.load(events)  # one round trip to shared counters, if any
                fired = []
                matrix = np.empty((len(events), len(FIELD_NAMES)), dtype=np.float64)
                step_into = self.field.step_into
                for i, event in enumerate(events):  # in order: each sees the ones before
                    fired.append(self._fired(ruleset, event))
                    step_into(matrix, i, event)  # the model's row straight into the matrix
                self.features.store()  # and one back
            if not events:
                return []
            model_rows = list(matrix)
            scores: list[int | None] = [None] * len(events)
            if self.model is not None:
                scores = list(self.model.scores(matrix))  # one model call for the batch
            contributions = self._batch_reasons(matrix, ruleset, scores)
            return [
                self._combine(e, m, ruleset, f, s, contributions.get(i, ()))
                for i, (e, m, f, s) in enumerate(
                    zip(events, model_rows, fired, scores, strict=True)
                )
            ]
        except Exception:
            # One failure fails the chunk closed: which events already counted is unknown.
            return [self._failed(event, ruleset) for event in events]

    def _batch_reasons(
        self, matrix: Row, ruleset: Ruleset, scores: Sequence[int | None]
    ) -> dict[int, tuple[str, ...]]:
        """Model reasons for the rows whose score reached a band: one contributions call."""
        if self.model is None:
            return {}
        review = self._band_floor(ruleset)
        banded = [i for i, s in enumerate(scores) if s is not None and s >= review]
        if not banded:
            return {}
        reasons = self.model.reasons_many(matrix[banded])
        return dict(zip(banded, reasons, strict=True))

    def _combine(
        self,
        event: RiskEvent,
        row: Row,
        ruleset: Ruleset,
        fired: list[Rule],
        score: int | None,
        model_reasons: tuple[str, ...] | None,
    ) -> Decision:
        action = fired[0].action if fired else Action.ALLOW
        reasons = [rule.code for rule in fired]
        if score is not None:
            band = self._band(ruleset, score)
            if band is not Action.ALLOW:
                if SEVERITY[band] > SEVERITY[action]:
                    action = band
                if model_reasons is None and self.model is not None:
                    model_reasons = self.model.reasons(row.reshape(1, -1))
                reasons.append(f"model_score_{band.value}")
                reasons += model_reasons or ()
        model_version = self.model.version if self.model is not None and score is not None else None
        return Decision(
            action,
            score if score is not None else _rules_score(action),
            tuple(reasons),
            model_version,
            ruleset.version,
        )

    def _band(self, ruleset: Ruleset, score: int) -> Action:
        """The model's action for ``score``: its own operating points (chosen at training
        for target alert rates, in the sidecar) when it has them, else the rules' bands."""
        policy = self.model.policy if self.model is not None else None
        if policy is None:
            return ruleset.bands.action(score)
        return Action(policy.band(score))

    def _band_floor(self, ruleset: Ruleset) -> int:
        policy = self.model.policy if self.model is not None else None
        return policy.review if policy is not None else ruleset.bands.review

    def _failed(self, event: RiskEvent, ruleset: Ruleset | None) -> Decision:
        log.exception(
            "risk engine failed on %s by %s: blocked (fail closed)", event.type, event.payer
        )
        version = ruleset.version if ruleset is not None else self.rules.ruleset.version
        return Decision(Action.BLOCK, 99, (ENGINE_ERROR,), None, version)


def _rules_score(action: Action) -> int:
    """The score shown when no model scored: a stand-in by action, so sorting by score still
    puts blocks first (documented in docs/risk.md)."""
    return {Action.ALLOW: 0, Action.REVIEW: 50, Action.STEP_UP: 75, Action.BLOCK: 99}[action]


def build_engine(
    rules_path: Path | None = None,
    model_dir: Path | None = None,
    clock: Clock | None = None,
    config: FeatureConfig | None = None,
    velocity: Velocity | None = None,
) -> RiskEngine:
    """The engine as the composition root wires it: the rules file (default: the shipped
    one), the model directory (default: the shipped model; unusable -> rules alone, logged),
    fresh features, their velocity counters in ``velocity`` (shared by every process,
    centime.risk.shared_state) or, by default, in process."""
    rules = RulesFile(rules_path or DEFAULT_RULES_PATH)
    model = load_model(model_dir or DEFAULT_MODEL_DIR)
    return RiskEngine(OnlineFeatures(config, velocity), rules, model, clock)
