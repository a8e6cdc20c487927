#!/usr/bin/env python3
"""Before/after in CPU time: `centime bench ledger`'s engine run (SQLite, batch 8189, 100,000
transfers) in two checkouts, alternated, measuring the process's CPU time during the timed
part and the garbage collector's share of it.

On a machine shared with other work, wall time swings with the load; the CPU a run takes
swings less. Each round runs one engine run in each checkout (with its own `.venv`), the side
going first alternating, and prints the process CPU (user + system, all threads) during the
timed drive, the collector's CPU in it (every thread's collections, timed by gc.callbacks),
and the wall rate; then the medians per side and the ratio head/base of the CPU medians.

    python3 scripts/bench_ledger_cpu.py /tmp/centime-base . --rounds 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

# Run inside each checkout's interpreter: one engine run, its figures as one JSON line.
PROBE = """
import gc, json, resource, threading, time
import centime.bench.ledger as bench

collector = [0.0]
timing = [False]
began = {}

def timed(phase, info):
    if not timing[0]:
        return
    key = threading.get_ident()
    if phase == "start":
        began[key] = time.thread_time()
    elif key in began:
        collector[0] += time.thread_time() - began.pop(key)

gc.callbacks.append(timed)
drive = bench._drive
figures = {}

def measured(*args):
    timing[0] = True
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    try:
        return drive(*args)
    finally:
        after = resource.getrusage(resource.RUSAGE_SELF)
        timing[0] = False
        figures["wall_s"] = time.perf_counter() - start
        figures["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

bench._drive = measured
config = bench.BenchConfig(
    batch_sizes=(8189,), stores=("sqlite",), runs=1, naive_transfers=200, check=False
)
bench.run_ledger_bench(config, lambda line: None)
figures["collector_s"] = collector[0]
figures["transfers_per_s"] = config.transfers_for(8189) / figures["wall_s"]
print(json.dumps(figures))
"""


def run_side(checkout: Path) -> dict[str, float]:
    done = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", PROBE],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{checkout}: the probe failed ({done.returncode}):\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="checkout of the revision before")
    parser.add_argument("head", type=Path, help="checkout of the revision after")
    parser.add_argument("--rounds", type=int, default=6, help="runs of each side")
    args = parser.parse_args()
    sides: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    order = [("base", args.base.resolve()), ("head", args.head.resolve())]
    for number in range(1, args.rounds + 1):
        for name, checkout in order if number % 2 else order[::-1]:
            figures = run_side(checkout)
            sides[name].append(figures)
            print(
                f"round {number} {name}: CPU {figures['cpu_s']:.3f} s, collector"
                f" {figures['collector_s']:.3f} s, {figures['transfers_per_s']:,.0f}/s",
                flush=True,
            )
    for name, runs in sides.items():
        print(
            f"{name:>5}: CPU median {median(runs, 'cpu_s'):.3f} s, collector median"
            f" {median(runs, 'collector_s'):.3f} s, rate median"
            f" {median(runs, 'transfers_per_s'):,.0f}/s ({len(runs)} runs)"
        )
    ratio = median(sides["head"], "cpu_s") / median(sides["base"], "cpu_s")
    print(f"CPU head/base: {ratio:.3f}x (medians of {args.rounds})")


if __name__ == "__main__":
    main()
