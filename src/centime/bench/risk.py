"""``centime bench risk``: the risk engine's decisions in process, today's against the one
before the speed work (issue 13), side by side in the same run.

Two engines are built on the shipped rules and model: the current one (``new``) and a frozen
copy of the engine as it was (``old``, :mod:`centime.bench.risk_baseline`). Both are warmed
up on the same simulated traffic (several days of a 1,000-customer population), then, per
run, both decide the same next events (which goes first alternates between runs):

- ``decide``: one event at a time, each timed (p50, p99, decisions/s);
- ``decide_many``: one batch of 8189 events (one model call per batch);
- the parts of a new decision: the rules with their features, the model's field features,
  the model call on one row, the reasons of a row that reaches a band (the old engine
  decides those events too, untimed, so that both states stay alike);
- whether both engines gave the same action and score to every event;
- the model call alone, the native trees (centime.risk.trees) against LightGBM's Booster, on
  the same rows (which goes first alternates): a batch of 8189 feature rows of the simulated
  traffic, and single rows, each timed.

The old engine scores through the Booster (``Model.on_booster``), as before the speed work.

After the runs, ``threads``: the new engine shared by N threads, each deciding its own
slice (the lock), once per run.

Then, once: memory per million parties (``--entities`` parties, half payers and half payees,
each new, loaded into the features of each engine in a fresh process; RSS before and after;
the cyclic garbage collector paused while loading: the state holds no cycles, and its full
passes over millions of objects would make the load take many minutes).

With ``--state both`` (when the C state is built: centime.risk.native), a third engine runs
alongside, ``new-py``: today's engine with the Python state (``FeatureConfig(native_state=
False)``), so the C state is measured against it in the same process, the engines' order
rotating between runs; its decisions are checked against the old engine's too.

Figures are medians over the runs; every run uses new events (state moves on as in
production).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from centime.bench.risk_baseline.engine import RiskEngine as OldEngine
from centime.bench.risk_baseline.features import OnlineFeatures as OldFeatures
from centime.clock import FakeClock
from centime.risk.engine import BATCH_MAX, RiskEngine
from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.field import FieldState
from centime.risk.model import Model, load_default_model
from centime.risk.native import risk_is_compiled, state_module
from centime.risk.rules import RulesFile
from centime.risk.simulate import SimConfig, simulate
from centime.risk.train import DECIDED_TYPES
from centime.risk.types import Decision, RiskEvent

__all__ = ["RiskBenchConfig", "RiskBenchResult", "run_risk_bench"]

WARMUP_EVENTS: Final = 40_000
Summary = tuple[float, float, float]  # p50 us, p99 us, per second
MODEL_PATHS: Final = ("native", "booster")
Rows = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RiskBenchConfig:
    runs: int = 5
    decisions: int = 2_000
    threads: int = 4
    seed: int = 3
    warmup_events: int = WARMUP_EVENTS
    batch_size: int = BATCH_MAX
    customers: int = 1_000
    entities: int = 1_000_000  # parties (half payers, half payees) for memory; 0: none
    both_states: bool = False  # also today's engine with the Python state ("new-py")


class Screen(Protocol):
    def decide(self, event: RiskEvent) -> Decision: ...
    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]: ...


@dataclass(slots=True)
class RiskBenchResult:
    runs: int
    model_version: str
    compiled: bool = False
    native_state: bool = False  # the C state (centime.risk._cstate) in the new engine
    threads: int = 1
    batch_size: int = BATCH_MAX
    decide: dict[str, list[Summary]] = field(default_factory=lambda: {"new": [], "old": []})
    batch_per_s: dict[str, list[float]] = field(default_factory=lambda: {"new": [], "old": []})
    parts: dict[str, list[Summary]] = field(default_factory=dict)
    threads_per_s: list[float] = field(default_factory=list)
    same: list[tuple[int, int]] = field(default_factory=list)  # same action and score, of
    same_py: list[tuple[int, int]] = field(default_factory=list)  # new-py against old
    bytes_per_entity: dict[str, float] = field(default_factory=dict)
    entities: int = 0
    native_trees: bool = False  # the model's trees evaluated natively (centime.risk.trees)
    model_batch_us: dict[str, list[float]] = field(  # us per row of a batch, per run
        default_factory=lambda: {name: [] for name in MODEL_PATHS}
    )
    model_row: dict[str, list[Summary]] = field(  # one row per call, per run
        default_factory=lambda: {name: [] for name in MODEL_PATHS}
    )

    def lines(self) -> list[str]:
        def med(values: Sequence[float]) -> float:
            return statistics.median(values) if values else float("nan")

        def col(summaries: list[Summary], k: int) -> float:
            return med([s[k] for s in summaries])

        native = "compiled (mypyc)" if self.compiled else "pure Python"
        native += "; C state" if self.native_state else "; Python state"
        out = [f"model {self.model_version}; risk state {native}; medians of {self.runs} runs"]
        new, old = self.decide["new"], self.decide["old"]
        for label, k, unit in (("p50", 0, "us"), ("p99", 1, "us"), ("rate", 2, "/s")):
            a, b = col(new, k), col(old, k)
            ratio = b / a if k < 2 else a / b
            out.append(
                f"decide {label:<4} new {a:>9,.1f} {unit}  old {b:>9,.1f} {unit}  {ratio:.1f}x"
            )
        a, b = med(self.batch_per_s["new"]), med(self.batch_per_s["old"])
        out.append(
            f"decide_many, batches of {self.batch_size}: new {a:,.0f}/s  old {b:,.0f}/s"
            f"  {a / b:.1f}x"
        )
        if "new-py" in self.decide:
            py = self.decide["new-py"]
            for label, k, unit in (("p50", 0, "us"), ("rate", 2, "/s")):
                a, b = col(new, k), col(py, k)
                ratio = b / a if k < 2 else a / b
                out.append(
                    f"decide {label:<4} new {a:>9,.1f} {unit}  new-py {b:>9,.1f} {unit}"
                    f"  {ratio:.2f}x (C state against Python state)"
                )
            a, b = med(self.batch_per_s["new"]), med(self.batch_per_s["new-py"])
            out.append(
                f"decide_many, batches of {self.batch_size}: new {a:,.0f}/s  new-py {b:,.0f}/s"
                f"  {a / b:.2f}x (C state against Python state)"
            )
            pairs = zip(self.batch_per_s["new"], self.batch_per_s["new-py"], strict=True)
            out.append(
                "  per run, new / new-py: " + ", ".join(f"{x:,.0f}/{y:,.0f}" for x, y in pairs)
            )
        same, total = sum(s for s, _ in self.same), sum(n for _, n in self.same)
        out.append(f"same action and score, new and old: {same:,} of {total:,} decisions")
        if self.same_py:
            same, total = sum(s for s, _ in self.same_py), sum(n for _, n in self.same_py)
            out.append(f"same action and score, new-py and old: {same:,} of {total:,} decisions")
        for name, values in self.parts.items():
            out.append(
                f"  new, {name:<28} p50 {col(values, 0):8.1f} us  p99 {col(values, 1):8.1f} us"
            )
        out.append(f"new, {self.threads} threads on one engine: {med(self.threads_per_s):,.0f}/s")
        out += self._model_lines(med, col)
        for name, per in self.bytes_per_entity.items():
            out.append(
                f"memory, {name}: {per:,.0f} bytes per party"
                f" ({per * 1e6 / 2**30:.2f} GiB per million; {self.entities:,} parties loaded)"
            )
        return out

    def _model_lines(
        self,
        med: Callable[[Sequence[float]], float],
        col: Callable[[list[Summary], int], float],
    ) -> list[str]:
        if not self.native_trees:
            return ["model call: the Booster only (the native trees are not built or are off)"]
        native, booster = (med(self.model_batch_us[name]) for name in MODEL_PATHS)
        one_native, one_booster = (col(self.model_row[name], 0) for name in MODEL_PATHS)
        return [
            f"model call, batch of {self.batch_size}: native trees {native:.2f} us/row"
            f"  Booster {booster:.2f} us/row  {booster / native:.1f}x",
            f"model call, 1 row: native trees p50 {one_native:.1f} us"
            f"  Booster p50 {one_booster:.1f} us  {one_booster / one_native:.1f}x",
        ]


def _summary(us: list[float]) -> Summary:
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


def _engines(
    model: Model, events: list[RiskEvent], warmup: int, both_states: bool
) -> dict[str, Any]:
    clock = FakeClock(events[-1].timestamp_ns)
    engines: dict[str, Any] = {
        "new": RiskEngine(OnlineFeatures(), RulesFile(), model, clock),
        "old": OldEngine(OldFeatures(), RulesFile(), model.on_booster(), clock),
    }
    if both_states:
        python_state = OnlineFeatures(FeatureConfig(native_state=False))
        engines["new-py"] = RiskEngine(python_state, RulesFile(), model, clock)
    for engine in engines.values():
        for event in events[:warmup]:
            if event.type in DECIDED_TYPES:
                engine.decide(event)
            else:
                engine.observe(event)
    return engines


def _feature_rows(events: list[RiskEvent], count: int) -> Rows:
    """The model's feature rows of the last ``count`` decided events of ``events``."""
    state = FieldState()
    rows = []
    for event in events:
        if event.type in DECIDED_TYPES:
            rows.append(state.compute(event))
        state.update(event)
    return np.array(rows[-count:], dtype=np.float64)


def _model_call(
    models: dict[str, Model], rows: Rows, singles: int, run: int, result: RiskBenchResult
) -> None:
    """The model call alone on the same rows through each path (the order alternates)."""
    order = list(MODEL_PATHS) if run % 2 == 0 else list(MODEL_PATHS)[::-1]
    for name in order:
        gc.collect()
        start = time.perf_counter()
        models[name].scores(rows)
        result.model_batch_us[name].append((time.perf_counter() - start) * 1e6 / len(rows))
    for name in order:
        us = []
        for row in rows[:singles]:
            one = row.reshape(1, -1)
            begin = time.perf_counter_ns()
            models[name].scores(one)
            us.append((time.perf_counter_ns() - begin) / 1_000)
        result.model_row[name].append(_summary(us))


def _timed_decisions(engine: Screen, chunk: list[RiskEvent]) -> tuple[Summary, list[Decision]]:
    us, decisions = [], []
    gc.collect()
    for event in chunk:
        start = time.perf_counter_ns()
        decisions.append(engine.decide(event))
        us.append((time.perf_counter_ns() - start) / 1_000)
    return _summary(us), decisions


def _timed_batch(engine: Screen, batch: list[RiskEvent]) -> tuple[float, list[Decision]]:
    gc.collect()
    start = time.perf_counter()
    decisions = engine.decide_many(batch)
    return len(batch) / (time.perf_counter() - start), decisions


def _same(a: list[Decision], b: list[Decision]) -> tuple[int, int]:
    same = sum(x.action == y.action and x.score == y.score for x, y in zip(a, b, strict=True))
    return same, len(a)


def run_risk_bench(
    config: RiskBenchConfig, progress: Callable[[str], None] = lambda _: None
) -> RiskBenchResult:
    model = load_default_model()
    if model is None:
        raise RuntimeError("the shipped model does not load (see the log)")
    progress("simulating traffic")
    events = _events(config)
    both = config.both_states and state_module() is not None
    if config.both_states and not both:
        progress("the C state is not built (or CENTIME_RISK_NATIVE says not): new-py not run")
    progress(f"warming up the engines on {config.warmup_events:,} events")
    engines = _engines(model, events, config.warmup_events, both)
    new = engines["new"]
    result = RiskBenchResult(
        config.runs, model.version, risk_is_compiled(), state_module() is not None
    )
    result.threads, result.batch_size = config.threads, config.batch_size
    if both:
        result.decide["new-py"], result.batch_per_s["new-py"] = [], []
    result.native_trees = model.trees is not None
    models = {"native": model, "booster": model.on_booster()}
    rows = _feature_rows(events[: config.warmup_events], config.batch_size)
    position = config.warmup_events

    def take(n: int) -> list[RiskEvent]:
        nonlocal position
        position += n
        return events[position - n : position]

    for run in range(config.runs):
        progress(f"run {run + 1} of {config.runs}")
        names = list(engines)
        order: list[tuple[str, Screen]] = [
            (name, engines[name]) for name in names[run % len(names) :] + names[: run % len(names)]
        ]
        if len(names) == 2 and run % 2:
            order = order[::-1]
        chunk, batch = take(config.decisions), take(config.batch_size)
        decided: dict[str, list[Decision]] = {}
        for name, engine in order:
            summary, decided[name] = _timed_decisions(engine, chunk)
            result.decide[name].append(summary)
        for name, engine in order:
            rate, decisions = _timed_batch(engine, batch)
            result.batch_per_s[name].append(rate)
            decided[name] += decisions
        result.same.append(_same(decided["new"], decided["old"]))
        if "new-py" in decided:
            result.same_py.append(_same(decided["new-py"], decided["old"]))
        if result.native_trees:
            _model_call(models, rows, config.decisions, run, result)
        parts = take(config.decisions)
        _parts(new, model, parts, result.parts)
        for event in parts:  # the other engines count them too: the states stay the same
            for name, engine in engines.items():
                if name != "new":
                    engine.decide(event)
    for _ in range(config.runs):  # last: threads interleave events, so the states part
        result.threads_per_s.append(_threaded(new, take(config.decisions), config.threads))
    if config.entities:
        progress(f"memory: {config.entities:,} new parties into each engine")
        result.entities = config.entities
        result.bytes_per_entity = _memory(config.entities, both)
    return result


def _parts(
    engine: RiskEngine, model: Model, chunk: list[RiskEvent], parts: dict[str, list[Summary]]
) -> None:
    """The new engine's decision in parts, on the same events (each part timed alone)."""
    ruleset = engine.rules.current()
    rules_us, field_us, rows = [], [], []
    for event in chunk:
        start = time.perf_counter_ns()
        engine._fired(ruleset, event)
        middle = time.perf_counter_ns()
        rows.append(engine.model_row(event).reshape(1, -1))
        rules_us.append((middle - start) / 1_000)
        field_us.append((time.perf_counter_ns() - middle) / 1_000)
    model_us, reasons_us = [], []
    for row in rows:
        start = time.perf_counter_ns()
        model.scores(row)
        middle = time.perf_counter_ns()
        model.reasons(row)
        model_us.append((middle - start) / 1_000)
        reasons_us.append((time.perf_counter_ns() - middle) / 1_000)
    for name, us in (
        ("rules and their features", rules_us),
        ("model's field features", field_us),
        ("model call (1 row)", model_us),
        ("reasons (1 row)", reasons_us),
    ):
        parts.setdefault(name, []).append(_summary(us))


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


# -- memory ------------------------------------------------------------------------------------


def _memory(entities: int, both_states: bool = False) -> dict[str, float]:
    """Bytes per party of each engine's features, each measured in a fresh process (RSS
    after loading ``entities`` parties, less RSS before)."""
    context = multiprocessing.get_context("spawn")
    out = {}
    for name in ("new", "new-py", "old") if both_states else ("new", "old"):
        with context.Pool(1) as pool:
            grown = pool.apply(_rss_growth, (name, entities))
        out[name] = grown / entities
    return out


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _rss_growth(name: str, entities: int) -> int:
    """RSS growth of one engine's feature state (rules' and model's) after ``entities / 2``
    transfers, each from a new payer to a new payee (the engine's ``observe``)."""
    model = None  # the model's memory is the same for both: not what is measured
    clock = FakeClock(1_767_225_600 * 1_000_000_000 + 86_400 * 1_000_000_000)
    engine: Any = (
        RiskEngine(
            OnlineFeatures(FeatureConfig(native_state=name == "new")), RulesFile(), model, clock
        )
        if name in ("new", "new-py")
        else OldEngine(OldFeatures(), RulesFile(), model, clock)
    )
    start = 1_767_225_600 * 1_000_000_000
    gc.collect()
    gc.disable()
    before = _rss_bytes()
    for i in range(entities // 2):
        engine.observe(
            RiskEvent(start + i * 50_000, "transfer", 1_000 + i % 5_000, "USD", f"p{i}", f"q{i}")
        )
    grown = _rss_bytes() - before
    gc.enable()
    return grown
