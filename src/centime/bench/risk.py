"""``centime bench risk``: the risk engine's decisions in process, and what they are made of.

The engine is the shipped one (default rules, default model), its features warmed up by
replaying simulated traffic (several days of a 1,000-customer population) so that windows,
sets and components hold realistic state. Then, per run, on events that follow in time:

- ``decide``: one event at a time, each timed (p50, p99, decisions/s);
- ``features``: the features-only part (``OnlineFeatures.process``) on the next events;
- ``model``: the model-only part (``Model.scores`` on one row) on those rows;
- ``decide_many``: batches of 8189 events (one model call per batch);
- ``threads``: the same engine shared by N threads, each deciding its own slice (the lock);
- ``raw vs sklearn``: the same single rows through the raw Booster and through
  LGBMClassifier.predict_proba, alternating, both trained with the same parameters and the
  same number of trees on the warm-up rows.

Figures are medians over the runs; every run uses new events (state moves on as in
production).
"""

from __future__ import annotations

import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import lightgbm as lgb
import numpy as np

from centime.clock import FakeClock
from centime.risk.engine import BATCH_MAX, RiskEngine
from centime.risk.features import OnlineFeatures
from centime.risk.field import FieldState
from centime.risk.model import Matrix, Model, load_default_model
from centime.risk.rules import RulesFile
from centime.risk.simulate import SimConfig, simulate
from centime.risk.train import DECIDED_TYPES
from centime.risk.types import RiskEvent

__all__ = ["RiskBenchConfig", "RiskBenchResult", "run_risk_bench"]

WARMUP_EVENTS: Final = 40_000
WRAPPER_ROWS: Final = 500


@dataclass(frozen=True, slots=True)
class RiskBenchConfig:
    runs: int = 5
    decisions: int = 2_000
    threads: int = 4
    seed: int = 3
    warmup_events: int = WARMUP_EVENTS
    batch_size: int = BATCH_MAX
    customers: int = 1_000


@dataclass(slots=True)
class RiskBenchResult:
    runs: int
    model_version: str
    decide_us: list[tuple[float, float, float]] = field(default_factory=list)  # p50, p99, /s
    features_us: list[tuple[float, float, float]] = field(default_factory=list)
    field_us: list[tuple[float, float, float]] = field(default_factory=list)
    bytes_per_party: list[float] = field(default_factory=list)
    model_us: list[tuple[float, float, float]] = field(default_factory=list)
    batch_per_s: list[float] = field(default_factory=list)
    threads: int = 1
    batch_size: int = BATCH_MAX
    threads_per_s: list[float] = field(default_factory=list)
    one_thread_per_s: list[float] = field(default_factory=list)
    raw_us: list[float] = field(default_factory=list)
    sklearn_us: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        def med(values: Sequence[float]) -> float:
            return statistics.median(values) if values else float("nan")

        out = [f"model {self.model_version}; medians of {self.runs} runs"]
        for name, values in (
            ("decide (whole decision)", self.decide_us),
            ("rules' features (old)", self.features_us),
            ("model's field features", self.field_us),
            ("model only (1 row)", self.model_us),
        ):
            out.append(
                f"{name:<24} p50 {med([v[0] for v in values]):7.1f} us  p99"
                f" {med([v[1] for v in values]):7.1f} us  {med([v[2] for v in values]):>9,.0f}/s"
            )
        batch = med(self.batch_per_s)
        out.append(
            f"decide_many, batches of {self.batch_size}: {batch:,.0f} decisions/s"
            f" ({batch / med([v[2] for v in self.decide_us]):.1f}x decide)"
        )
        out.append(
            f"{self.threads} threads, one engine: {med(self.threads_per_s):,.0f} decisions/s"
            f" (1 thread: {med(self.one_thread_per_s):,.0f}/s)"
        )
        per_party = med(self.bytes_per_party)
        out.append(
            f"field features' state: {per_party:,.0f} bytes per party seen"
            f" ({per_party * 1e6 / 2**30:.2f} GiB per million payers or payees)"
        )
        raw, wrapped = med(self.raw_us), med(self.sklearn_us)
        out.append(
            f"one row, raw Booster {raw:.1f} us vs sklearn LGBMClassifier {wrapped:.1f} us:"
            f" wrapper {wrapped / raw:.1f}x slower"
        )
        return out


def _timed(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter_ns()
    fn(*args, **kwargs)
    return (time.perf_counter_ns() - start) / 1_000


def _summary(us: list[float]) -> tuple[float, float, float]:
    ordered = sorted(us)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99, len(us) / (sum(us) / 1e6)


def _events(config: RiskBenchConfig) -> list[RiskEvent]:
    per_run = config.decisions * 3 + config.batch_size
    needed = config.warmup_events + per_run * config.runs
    days = 2
    while True:
        labelled = simulate(SimConfig(customers=config.customers, days=days, seed=config.seed))
        events = [e.event for e in labelled]
        if len(events) >= needed or days >= 365:
            return events
        days = days * 2


def run_risk_bench(
    config: RiskBenchConfig, progress: Callable[[str], None] = lambda _: None
) -> RiskBenchResult:
    model = load_default_model()
    if model is None:
        raise RuntimeError("the shipped model does not load (see the log)")
    progress("simulating traffic")
    events = _events(config)
    engine = RiskEngine(OnlineFeatures(), RulesFile(), model, FakeClock(events[-1].timestamp_ns))
    progress(f"warming up on {config.warmup_events:,} events")
    warm_rows = []
    for event in events[: config.warmup_events]:
        if event.type in DECIDED_TYPES:
            engine.features.process(event)
            warm_rows.append(engine.model_row(event))
        else:
            engine.features.update(event)
            engine.field.update(event)
    result = RiskBenchResult(
        config.runs, model.version, threads=config.threads, batch_size=config.batch_size
    )
    position = config.warmup_events
    raw_booster, wrapper = _twin_models(model, np.vstack(warm_rows))

    def take(n: int) -> list[RiskEvent]:
        nonlocal position
        chunk = events[position : position + n]
        position += n
        return chunk

    for run in range(config.runs):
        progress(f"run {run + 1} of {config.runs}")
        chunk = take(config.decisions)
        result.decide_us.append(_summary([_timed(engine.decide, e) for e in chunk]))
        chunk = take(config.decisions)
        rows = []
        feature_us, field_us = [], []
        for e in chunk:
            start = time.perf_counter_ns()
            engine.features.process(e)
            middle = time.perf_counter_ns()
            rows.append(engine.model_row(e))
            feature_us.append((middle - start) / 1_000)
            field_us.append((time.perf_counter_ns() - middle) / 1_000)
        result.features_us.append(_summary(feature_us))
        result.field_us.append(_summary(field_us))
        result.model_us.append(_summary([_timed(model.scores, r.reshape(1, -1)) for r in rows]))
        batch = take(config.batch_size)
        elapsed = _timed(engine.decide_many, batch)
        result.batch_per_s.append(len(batch) / (elapsed / 1e6))
        result.one_thread_per_s.append(result.decide_us[-1][2])
        result.threads_per_s.append(_threaded(engine, take(config.decisions), config.threads))
        raw, wrapped = [], []
        for r in rows[:WRAPPER_ROWS]:
            one = r.reshape(1, -1)
            raw.append(_timed(raw_booster.predict, one, num_threads=1))
            wrapped.append(_timed(wrapper.predict_proba, one))
        result.raw_us.append(statistics.median(raw))
        result.bytes_per_party.append(_field_bytes_per_party(events[: config.warmup_events]))
        result.sklearn_us.append(statistics.median(wrapped))
    return result


def _field_bytes_per_party(events: list[RiskEvent]) -> float:
    """Memory the field features keep, per payer or payee seen (tracemalloc)."""
    tracemalloc.start()
    try:
        state = FieldState()
        before = tracemalloc.get_traced_memory()[0]
        for event in events:
            state.update(event)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return used / max(1, len(state.payers) + len(state.payees))


def _threaded(engine: RiskEngine, chunk: list[RiskEvent], threads: int) -> float:
    slices = [chunk[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(mine: list[RiskEvent]) -> None:
        barrier.wait()
        for e in mine:
            engine.decide(e)

    workers = [threading.Thread(target=work, args=(s,)) for s in slices]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return len(chunk) / (time.perf_counter() - start)


def _twin_models(model: Model, rows: Matrix) -> tuple[lgb.Booster, lgb.LGBMClassifier]:
    """A raw Booster and an LGBMClassifier trained alike (same parameters, same number of
    trees, the shipped model's labels on the warm-up rows), for the per-call comparison."""
    labels = (model.probabilities(rows) >= 0.5).astype(int)
    if labels.sum() == 0:
        labels[: max(1, len(labels) // 100)] = 1
    trees = max(1, model.booster.num_trees())
    params: dict[str, Any] = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.05,
        "verbose": -1,
        "num_threads": 1,
        "seed": 1,
        "deterministic": True,
        "min_data_in_leaf": 5,
    }
    booster = lgb.train(params, lgb.Dataset(rows, labels), num_boost_round=trees)
    wrapper = lgb.LGBMClassifier(n_estimators=trees, **params)
    wrapper.fit(rows, labels)
    return booster, wrapper
