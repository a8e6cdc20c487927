"""The risk state alone, C against Python, alternated in one process (docs/risk.md, "Speed and
memory"): per event, CPU time (``time.thread_time``) of

- the rules' features: ``OnlineFeatures.update`` (then the whole row computed, as a rule set
  reading every family would), with the C windows and with the Python ``WindowSet``;
- the model's features: ``compute`` then ``update`` of ``NativeFieldState`` and of
  ``FieldState``;

on the same simulated events (warmed up on the ones before), rounds alternating which side
goes first. Prints the medians and every round. Usage:
``.venv/bin/python scripts/bench_risk_state.py [rounds] [events]``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable

from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.field import FieldState, FieldStateLike, new_field_state
from centime.risk.native import risk_is_compiled, state_module
from centime.risk.simulate import SimConfig, simulate
from centime.risk.types import RiskEvent


def _per_event_us(work: Callable[[RiskEvent], object], events: list[RiskEvent]) -> float:
    gc.collect()
    start = time.thread_time()
    for event in events:
        work(event)
    return (time.thread_time() - start) / len(events) * 1e6


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    per_round = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000
    if state_module() is None:
        raise SystemExit("the C state is not built (make install) or CENTIME_RISK_NATIVE says no")
    events = [e.event for e in simulate(SimConfig(customers=1_000, days=24, seed=3))]
    warmup = 30_000
    needed = warmup + rounds * per_round
    if len(events) < needed:
        raise SystemExit(f"{len(events)} simulated events, {needed} needed")
    rules: dict[str, OnlineFeatures] = {
        "C": OnlineFeatures(FeatureConfig(native_state=True)),
        "Python": OnlineFeatures(FeatureConfig(native_state=False)),
    }
    field: dict[str, FieldStateLike] = {"C": new_field_state(True), "Python": FieldState()}
    for event in events[:warmup]:
        for side in ("C", "Python"):
            rules[side].update(event)
            field[side].compute(event)
            field[side].update(event)

    def rules_work(side: str) -> Callable[[RiskEvent], object]:
        features = rules[side]

        def work(event: RiskEvent) -> object:
            row = features.row(event).all()
            features.update(event)
            return row

        return work

    def field_work(side: str) -> Callable[[RiskEvent], object]:
        state = field[side]

        def work(event: RiskEvent) -> object:
            row = state.compute(event)
            state.update(event)
            return row

        return work

    figures: dict[str, list[float]] = {}
    for r in range(rounds):
        chunk = events[warmup + r * per_round : warmup + (r + 1) * per_round]
        order = ("C", "Python") if r % 2 == 0 else ("Python", "C")
        for part, make in (("rules' features", rules_work), ("model's features", field_work)):
            for side in order:
                figures.setdefault(f"{part}, {side}", []).append(_per_event_us(make(side), chunk))
    compiled = "compiled (mypyc)" if risk_is_compiled() else "pure Python"
    print(f"risk state modules {compiled}; {rounds} rounds of {per_round:,} events")
    for name, values in figures.items():
        rounds_text = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:<26} median {statistics.median(values):6.2f} us/event  ({rounds_text})")
    for part in ("rules' features", "model's features"):
        c = statistics.median(figures[f"{part}, C"])
        python = statistics.median(figures[f"{part}, Python"])
        print(f"{part}: Python / C = {python / c:.2f}x")


if __name__ == "__main__":
    main()
