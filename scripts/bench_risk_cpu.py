"""CPU time of the risk engine's decisions, to compare two checkouts alternated (docs/risk.md,
"Speed and memory"): the shipped rules and model, warmed up on 40,000 simulated events (as
``centime bench risk``), then per round one ``decide_many`` of 8189 events timed with
``time.thread_time`` (CPU of the deciding thread: less moved by other processes than the wall
clock) and 2,000 single ``decide`` calls timed each (wall clock). Prints the median CPU per
event of the batches (and each), the wall rate, ``decide`` p50/p99, and a digest of every
decision's action, score and reasons: two checkouts that decide alike print the same one.
Usage: ``.venv/bin/python scripts/bench_risk_cpu.py [rounds]``, run in each checkout in turn.
"""

from __future__ import annotations

import gc
import hashlib
import statistics
import sys
import time

from centime.bench.risk import RiskBenchConfig, _events
from centime.clock import FakeClock
from centime.risk.engine import BATCH_MAX, RiskEngine
from centime.risk.features import OnlineFeatures
from centime.risk.model import load_default_model
from centime.risk.rules import RulesFile
from centime.risk.train import DECIDED_TYPES
from centime.risk.types import Decision

WARMUP = 40_000
SINGLES = 2_000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    model = load_default_model()
    if model is None:
        raise SystemExit("the shipped model does not load")
    events = _events(RiskBenchConfig(runs=3, decisions=SINGLES))
    engine = RiskEngine(OnlineFeatures(), RulesFile(), model, FakeClock(events[-1].timestamp_ns))
    for event in events[:WARMUP]:
        if event.type in DECIDED_TYPES:
            engine.decide(event)
        else:
            engine.observe(event)
    position = WARMUP
    cpu, wall, p50, p99 = [], [], [], []
    decided: list[Decision] = []
    for _ in range(rounds):
        batch = events[position : position + BATCH_MAX]
        position += BATCH_MAX
        gc.collect()
        t0, w0 = time.thread_time(), time.perf_counter()
        decided += engine.decide_many(batch)
        cpu.append((time.thread_time() - t0) / len(batch) * 1e6)
        wall.append(len(batch) / (time.perf_counter() - w0))
        us = []
        for event in events[position : position + SINGLES]:
            start = time.perf_counter_ns()
            decided.append(engine.decide(event))
            us.append((time.perf_counter_ns() - start) / 1_000)
        position += SINGLES
        us.sort()
        p50.append(us[len(us) // 2])
        p99.append(us[int(len(us) * 0.99)])
    digest = hashlib.sha256(
        repr([(d.action.value, d.score, d.reasons) for d in decided]).encode()
    ).hexdigest()[:16]
    each = " ".join(f"{c:.1f}" for c in cpu)
    print(
        f"decide_many cpu us/event {statistics.median(cpu):.1f} ({each}); "
        f"wall {statistics.median(wall):,.0f}/s; decide p50 {statistics.median(p50):.1f} us "
        f"p99 {statistics.median(p99):.1f} us; decisions {digest}"
    )


if __name__ == "__main__":
    main()
