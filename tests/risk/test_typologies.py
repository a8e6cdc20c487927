"""Each fraud typology of the simulator is flagged by the shipped engine (default rules,
default model) on a population it was not trained on (another seed), and legitimate traffic
mostly passes. The compromised merchants and accounts are knowable only from labels fed
back: tests/risk/test_label_feedback.py checks them."""

from __future__ import annotations

from collections import Counter

import pytest

from centime.clock import FakeClock
from centime.risk.engine import RiskEngine
from centime.risk.features import OnlineFeatures
from centime.risk.model import load_default_model
from centime.risk.rules import RulesFile
from centime.risk.simulate import TYPOLOGIES, LabelledEvent, SimConfig, simulate
from centime.risk.types import Action, Decision

# Far more fraud than real life, so that a small population holds several schemes of each.
FROM_LABELS = ("compromised_merchant", "compromised_account")
SEEN = tuple(name for name in TYPOLOGIES if name not in FROM_LABELS)
SCENARIO = SimConfig(
    customers=300, merchants=15, days=7, seed=41, fraud_per_day_per_k={name: 5.0 for name in SEEN}
)
# Schemes run by brand-new accounts are no longer caught by newness alone: half of the
# simulated people join during the period and newcomers top up at once, as real ones do, so
# the model may not treat a new wallet as risky (a newcomer trying the demo is allowed).
# Measured with the shipped model 2026-12-06.2 (its population: newcomers also pay at once,
# often a creator who just joined): carrier_cashout 0.82, referral_ring 0.88,
# merchant_card_testing 0.59, every other typology at least 0.96; legitimate 0.91%.
FLAGGED_MIN = {name: 0.9 for name in TYPOLOGIES} | {
    "carrier_cashout": 0.75,
    "referral_ring": 0.8,
    "merchant_card_testing": 0.55,
}
LEGIT_FLAGGED_MAX = 0.012


def replay(events: list[LabelledEvent]) -> list[tuple[LabelledEvent, Decision]]:
    """Decisions on every decided event, outcomes observed, in time order (batches between
    outcomes: the engine's decide_many is decide for each, as its own test shows)."""
    model = load_default_model()
    assert model is not None
    engine = RiskEngine(
        OnlineFeatures(), RulesFile(), model, FakeClock(events[-1].event.timestamp_ns)
    )
    out: list[tuple[LabelledEvent, Decision]] = []
    batch: list[LabelledEvent] = []

    def flush() -> None:
        decisions = engine.decide_many([e.event for e in batch])
        out.extend(zip(batch, decisions, strict=True))
        batch.clear()

    for labelled in events:
        if labelled.event.type == "topup_declined":
            flush()
            engine.observe(labelled.event)
        else:
            batch.append(labelled)
    flush()
    return out


@pytest.fixture(scope="module")
def decided() -> list[tuple[LabelledEvent, Decision]]:
    return replay(simulate(SCENARIO))


@pytest.mark.parametrize("typology", SEEN)
def test_each_typology_is_flagged(
    decided: list[tuple[LabelledEvent, Decision]], typology: str
) -> None:
    mine = [d for e, d in decided if e.typology == typology]
    assert len(mine) >= 10
    flagged = sum(d.action is not Action.ALLOW for d in mine)
    assert flagged / len(mine) >= FLAGGED_MIN[typology], Counter(d.reasons for d in mine)
    assert all(d.reasons for d in mine if d.action is not Action.ALLOW)


def test_legitimate_traffic_mostly_passes(decided: list[tuple[LabelledEvent, Decision]]) -> None:
    legit = [d for e, d in decided if not e.label]
    flagged = [d for d in legit if d.action is not Action.ALLOW]
    assert len(legit) > 4_000
    assert len(flagged) / len(legit) <= LEGIT_FLAGGED_MAX, Counter(d.reasons for d in flagged)
