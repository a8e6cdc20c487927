"""The engine: decisions from rules and model bands, fail closed, rules-only without a model,
batches with one model call, several threads on one engine."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, cast

import numpy as np
import pytest

from centime.clock import FakeClock
from centime.risk.engine import ENGINE_ERROR, RiskEngine
from centime.risk.features import LazyRow, OnlineFeatures
from centime.risk.model import Model, load_default_model
from centime.risk.rules import RulesFile
from centime.risk.simulate import TYPOLOGIES, SimConfig, simulate
from centime.risk.types import Action, RiskEvent

S = 1_000_000_000
T0 = 1_767_225_600 * S
RULES = """
version = "test-1"
[bands]
review = 40
step_up = 70
block = 90
[lists]
blocked_devices = ["dev_stolen"]
[[rule]]
code = "blocked_device"
action = "block"
when = [["device", "in", "blocked_devices"]]
[[rule]]
code = "card_testing_declines"
action = "block"
types = ["topup"]
when = [["payer_declines_1h", ">=", 3]]
"""


@pytest.fixture
def rules(tmp_path: Any) -> RulesFile:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return RulesFile(path)


@pytest.fixture(scope="module")
def model() -> Model:
    loaded = load_default_model()
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def traffic() -> list[RiskEvent]:
    config = SimConfig(
        customers=120,
        merchants=8,
        days=2,
        seed=21,
        fraud_per_day_per_k={name: 10.0 for name in TYPOLOGIES},
    )
    return [e.event for e in simulate(config) if e.event.type != "topup_declined"]


def engine(rules: RulesFile, model: Model | None) -> RiskEngine:
    return RiskEngine(OnlineFeatures(), rules, model, FakeClock(T0 + 365 * 86_400 * S))


def topup(t_s: int, device: str = "dev_1", kind: str = "topup") -> RiskEvent:
    return RiskEvent(
        T0 + t_s * S, kind, 5_000_000, "USD", "cus_1", "cus_1", device, "ip", f"card_{t_s}"
    )


class Exploding:
    """Real features with a bug on one payer (composition: the compiled features class
    takes no Python subclass)."""

    def __init__(self) -> None:
        self.inner = OnlineFeatures()

    def row(self, event: RiskEvent) -> LazyRow:
        if event.payer == "cus_boom":
            raise RuntimeError("a bug in a feature")
        return self.inner.row(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_exception_inside_blocks_that_event_and_is_logged(
    rules: RulesFile, model: Model, caplog: pytest.LogCaptureFixture
) -> None:
    features = cast(OnlineFeatures, Exploding())
    screen = RiskEngine(features, rules, model, FakeClock(T0 + 10**12 * S))
    with caplog.at_level(logging.ERROR, logger="centime.risk.engine"):
        decision = screen.decide(topup(0)._replace(payer="cus_boom"))
        batch = screen.decide_many([topup(1), topup(2)._replace(payer="cus_boom")])
    assert decision.action is Action.BLOCK and decision.reasons == (ENGINE_ERROR,)
    assert decision.rules_version == "test-1" and decision.model_version is None
    assert [d.reasons for d in batch] == [(ENGINE_ERROR,), (ENGINE_ERROR,)]
    assert sum("fail closed" in r.getMessage() for r in caplog.records) == 3
    assert screen.decide(topup(3)).action is not None  # the engine goes on


def test_without_a_model_the_rules_still_decide(rules: RulesFile) -> None:
    screen = engine(rules, None)
    allowed = screen.decide(topup(0))
    assert allowed.action is Action.ALLOW and allowed.model_version is None
    assert screen.decide(topup(1, "dev_stolen")).action is Action.BLOCK
    for i in range(3):
        screen.observe(topup(10 + i, kind="topup_declined"))
    tested = screen.decide(topup(20))
    assert tested.action is Action.BLOCK and tested.reasons == ("card_testing_declines",)
    assert tested.score == 99 and tested.rules_version == "test-1"
    # a blocked attempt still counts: the next decision sees it
    window = screen.features.velocity_windows("payer", "cus_1")
    assert window is not None and window.read(T0 + 30 * S)[0][1] == 6  # 3 decided, 3 declines


def test_rules_come_first_then_the_model_band_and_contributions(
    rules: RulesFile, model: Model
) -> None:
    screen = engine(rules, model)
    for i in range(12):
        screen.observe(topup(i, kind="topup_declined")._replace(device="dev_stolen"))
    decision = screen.decide(topup(30, "dev_stolen"))
    assert decision.action is Action.BLOCK
    assert decision.reasons[:2] == ("blocked_device", "card_testing_declines")
    assert decision.model_version == model.version
    if decision.score >= 40:  # the model saw it too: its band, then why
        assert decision.reasons[2].startswith("model_score_")
        assert all(r.startswith("model:") for r in decision.reasons[3:])


class CountingBooster:
    def __init__(self, booster: Any) -> None:
        self.booster = booster
        self.calls: list[tuple[int, bool]] = []

    def predict(self, rows: np.ndarray, **kwargs: Any) -> Any:
        self.calls.append((len(rows), bool(kwargs.get("pred_contrib"))))
        return self.booster.predict(rows, **kwargs)


def test_a_batch_decides_as_one_by_one_with_one_model_call(
    rules: RulesFile, model: Model, traffic: list[RiskEvent]
) -> None:
    one_by_one = engine(rules, model)
    expected = [one_by_one.decide(e) for e in traffic]
    counting = CountingBooster(model.booster)
    counted = Model(
        counting,
        model.version,
        model.feature_names,  # type: ignore[arg-type]
        model.calibration_x,
        model.calibration_y,
        model.info,
        model.policy,
        model.explainer,
    )
    batched = engine(rules, counted)
    assert batched.decide_many(traffic) == expected
    scoring = [n for n, contrib in counting.calls if not contrib]
    assert scoring == [len(traffic)]  # one call for every row's score
    assert len(counting.calls) <= 2  # and at most one for the contributions
    assert any(d.action is not Action.ALLOW for d in expected)


def test_threads_share_one_engine(rules: RulesFile, model: Model, traffic: list[RiskEvent]) -> None:
    screen = engine(rules, model)
    slices = [traffic[i::4] for i in range(4)]
    results: list[list[Any]] = [[] for _ in slices]

    def work(i: int) -> None:
        results[i] = [screen.decide(e) for e in slices[i]]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    decisions = [d for r in results for d in r]
    assert len(decisions) == len(traffic)
    assert all(ENGINE_ERROR not in d.reasons for d in decisions)
    last_ns = max(e.timestamp_ns for e in traffic)  # the 30-day windows then hold them all
    payers = sum(
        window.read(last_ns)[0][-1]
        for window in (
            screen.features.velocity_windows("payer", k)
            for k in screen.features.velocity_keys("payer")
        )
        if window
    )
    assert payers == len(traffic)  # every event counted once


def test_a_far_future_timestamp_is_held_to_the_clock(rules: RulesFile) -> None:
    clock = FakeClock(T0)
    screen = RiskEngine(OnlineFeatures(), rules, None, clock)
    screen.decide(topup(0))
    screen.decide(topup(10**9))  # thirty years ahead: counted as now (plus slack)
    window = screen.features.velocity_windows("payer", "cus_1")
    assert window is not None and window.read(T0 + 600 * S)[0][1] == 2


def test_a_far_future_timestamp_in_a_batch_is_held_to_the_clock(rules: RulesFile) -> None:
    screen = RiskEngine(OnlineFeatures(), rules, None, FakeClock(T0))
    screen.decide_many([topup(0), topup(10**9), topup(2 * 10**9)])
    window = screen.features.velocity_windows("payer", "cus_1")
    assert window is not None and window.read(T0 + 600 * S)[0][1] == 3


def test_allowed_decisions_carry_the_rules_in_force(tmp_path: Any, model: Model) -> None:
    """The ALLOW decisions shared per score are rebuilt when the rules change."""
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    rules = RulesFile(path, check_interval_s=0.0)
    screen = engine(rules, model)
    first = screen.decide_many([topup(i) for i in range(3)])
    assert {d.rules_version for d in first} == {"test-1"}
    allowed = [d for d in first if d.action is Action.ALLOW]
    assert allowed and all(d.reasons == () and d.model_version == model.version for d in allowed)
    path.write_text(RULES.replace("test-1", "test-2"))
    os.utime(path, (1, 1))  # a different modification time
    later = [*screen.decide_many([topup(10 + i) for i in range(3)]), screen.decide(topup(20))]
    assert {d.rules_version for d in later} == {"test-2"}
