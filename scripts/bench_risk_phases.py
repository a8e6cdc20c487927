"""Where a batch's time goes, C state against Python state, in one process (docs/risk.md,
"Speed and memory"): two engines on the shipped rules and model (``FeatureConfig(
native_state=True)`` and ``False``), warmed up on the same simulated events as
``centime bench risk``; then per round, for each engine (which goes first alternates), the
calls of ``RiskEngine._decide_chunk`` timed one phase at a time over a batch of 8189 events
(CPU time of this thread, ``time.thread_time``), then a whole ``decide_many`` on the next
batch. Prints microseconds per event, the median of the rounds and each round. Usage:
``.venv/bin/python scripts/bench_risk_phases.py [rounds]``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

import numpy as np

from centime.bench.risk import RiskBenchConfig, _events
from centime.clock import FakeClock
from centime.risk.engine import BATCH_MAX, RiskEngine
from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.field import FIELD_NAMES
from centime.risk.model import load_default_model
from centime.risk.native import risk_is_compiled, state_module
from centime.risk.rules import RulesFile
from centime.risk.train import DECIDED_TYPES
from centime.risk.types import RiskEvent

PHASES = (
    "rules: reading the lazy row and evaluating",
    "rules: OnlineFeatures.update",
    "model's features: step_into (row, then counted)",
    "one model.scores on the batch",
    "whole decide_many (the next batch)",
)


def _phases(engine: RiskEngine, batch: list[RiskEvent]) -> list[float]:
    ruleset = engine.rules.current()
    spent = [0.0] * 3
    matrix = np.empty((len(batch), len(FIELD_NAMES)), dtype=np.float64)
    clock = time.thread_time
    gc.collect()
    for i, event in enumerate(batch):
        t0 = clock()
        row = engine.features.row(event)
        ruleset.evaluate(event, row)
        t1 = clock()
        engine.features.update(event)
        t2 = clock()
        engine.field.step_into(matrix, i, event)  # the row into the matrix, then it counts
        t3 = clock()
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        spent[2] += t3 - t2
    t0 = clock()
    if engine.model is not None:
        engine.model.scores(matrix)
    t1 = clock()
    return [s / len(batch) * 1e6 for s in spent] + [(t1 - t0) / len(batch) * 1e6]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if state_module() is None:
        raise SystemExit("the C state is not built (make install) or CENTIME_RISK_NATIVE says no")
    model = load_default_model()
    if model is None:
        raise SystemExit("the shipped model does not load")
    config = RiskBenchConfig(runs=rounds * 2, decisions=0)
    events = _events(config)
    clock = FakeClock(events[-1].timestamp_ns)
    engines = {
        side: RiskEngine(
            OnlineFeatures(FeatureConfig(native_state=side == "C")), RulesFile(), model, clock
        )
        for side in ("C", "Python")
    }
    warmup = config.warmup_events
    for engine in engines.values():
        for event in events[:warmup]:
            if event.type in DECIDED_TYPES:
                engine.decide(event)
            else:
                engine.observe(event)
    figures: dict[str, list[list[float]]] = {side: [] for side in engines}
    position = warmup
    for r in range(rounds):
        batch = events[position : position + BATCH_MAX]
        following = events[position + BATCH_MAX : position + 2 * BATCH_MAX]
        position += 2 * BATCH_MAX
        order = ("C", "Python") if r % 2 == 0 else ("Python", "C")
        for side in order:
            parts = _phases(engines[side], batch)
            gc.collect()
            t0 = time.thread_time()
            engines[side].decide_many(following)
            parts.append((time.thread_time() - t0) / len(following) * 1e6)
            figures[side].append(parts)
    compiled = "compiled (mypyc)" if risk_is_compiled() else "pure Python"
    print(f"risk state modules {compiled}; us of CPU per event; median of {rounds} rounds")
    print(f"{'phase':<44} {'C state':>9} {'Python':>9}   rounds (C | Python)")
    for k, name in enumerate(PHASES):
        c = [f[k] for f in figures["C"]]
        python = [f[k] for f in figures["Python"]]
        each = " ".join(f"{v:.1f}" for v in c) + " | " + " ".join(f"{v:.1f}" for v in python)
        print(f"{name:<44} {statistics.median(c):9.1f} {statistics.median(python):9.1f}   {each}")


if __name__ == "__main__":
    main()
