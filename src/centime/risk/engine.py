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
SCORE_MAX: Final = 99  # Model.calibrate's scores are 0-99


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
        self._allowed_cache: tuple[Ruleset, Model | None, list[Decision | None]] | None = None
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
            if self.model is None:
                return self._combine(event, model_row, ruleset, fired, None, None)
            # The model call releases the GIL: threads overlap.
            score = self.model.scores(model_row.reshape(1, -1))[0]
            allowed = self._allowed(ruleset)[score] if not fired else None
            if allowed is not None:
                return allowed
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
        row: Row = matrix[0]
        return row

    # -- internals -----------------------------------------------------------------------------
    def _decide_chunk(self, events: Sequence[RiskEvent]) -> list[Decision]:
        ruleset: Ruleset | None = None
        try:
            with self._lock:
                ruleset = self.rules.current()
                # The clock read once for the chunk (per event: a clock call each).
                latest = self.clock.now_ns() + FUTURE_SLACK_NS
                events = [
                    e if e.timestamp_ns <= latest else e._replace(timestamp_ns=latest)
                    for e in events
                ]
                self.features.load(events)  # one round trip to shared counters, if any
                matrix = np.empty((len(events), len(FIELD_NAMES)), dtype=np.float64)
                fired = self._rows_into(matrix, ruleset, events)
                self.features.store()  # and one back
            if not events:
                return []
            if self.model is None:
                return [
                    self._combine(e, matrix[i], ruleset, f, None, None)
                    for i, (e, f) in enumerate(zip(events, fired, strict=True))
                ]
            scores = self.model.scores(matrix)  # one model call for the batch
            return self._batch_decisions(events, matrix, ruleset, fired, scores)
        except Exception:
            # One failure fails the chunk closed: which events already counted is unknown.
            return [self._failed(event, ruleset) for event in events]

    def _rows_into(
        self, matrix: Row, ruleset: Ruleset, events: Sequence[RiskEvent]
    ) -> list[list[Rule]]:
        """The rules that fire on each event and its model row into ``matrix``, in order
        (each event sees the ones before: ``_fired`` then ``model_row``, inlined)."""
        evaluate, row, update = ruleset.evaluate, self.features.row, self.features.update
        step_into = self.field.step_into
        fired = []
        for i, event in enumerate(events):
            fired.append(evaluate(event, row(event)))
            update(event)
            step_into(matrix, i, event)  # the model's row straight into the matrix
        return fired

    def _batch_decisions(
        self,
        events: Sequence[RiskEvent],
        matrix: Row,
        ruleset: Ruleset,
        fired: list[list[Rule]],
        scores: list[int],
    ) -> list[Decision]:
        """The decisions of a scored chunk: an event no rule fired on and whose score is
        below every band gets the shared ALLOW decision of its score; the others are
        combined, with the model's reasons of the banded rows from one call."""
        allowed = self._allowed(ruleset)
        contributions = self._batch_reasons(matrix, ruleset, scores)
        out = []
        for i, (score, rules) in enumerate(zip(scores, fired, strict=True)):
            decision = allowed[score] if not rules else None
            if decision is None:
                decision = self._combine(
                    events[i], matrix[i], ruleset, rules, score, contributions.get(i, ())
                )
            out.append(decision)
        return out

    def _allowed(self, ruleset: Ruleset) -> list[Decision | None]:
        """Per score 0-99: the decision when no rule fired, if its band is ALLOW (else None),
        built once per ruleset and model (decisions are immutable: one object serves all)."""
        cached = self._allowed_cache
        if cached is not None and cached[0] is ruleset and cached[1] is self.model:
            return cached[2]
        version = self.model.version if self.model is not None else None
        table: list[Decision | None] = [
            Decision(Action.ALLOW, score, (), version, ruleset.version)
            if self._band(ruleset, score) is Action.ALLOW
            else None
            for score in range(SCORE_MAX + 1)
        ]
        self._allowed_cache = (ruleset, self.model, table)
        return table

    def _batch_reasons(
        self, matrix: Row, ruleset: Ruleset, scores: Sequence[int]
    ) -> dict[int, tuple[str, ...]]:
        """Model reasons for the rows whose score reached a band: one contributions call."""
        if self.model is None:
            return {}
        review = self._band_floor(ruleset)
        banded = [i for i, s in enumerate(scores) if s >= review]
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
