#!/usr/bin/env python3
"""Before/after: `centime bench api` of two checkouts, alternated in one run, with ratios.

A refactoring must not slow the payment path, and on a shared 2-core machine an absolute
figure means little: this script runs the same benchmark on the two checkouts one after the
other, ROUNDS times (A, B, A, B, ...), so both sides see the same machine, and prints every
run, the medians and the ratio head/base.

    git worktree add /tmp/centime-base REV && make -C /tmp/centime-base install
    python3 scripts/bench_revisions.py /tmp/centime-base . --rounds 5

Each side is a checkout with its own `.venv` (made by `make install`).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

# "  single:        481 payments/s, p50 12.34 ms, p99 180.00 ms (64 clients)"
MEDIAN_LINE = re.compile(
    r"^\s+(?P<kind>single|batch):\s+(?P<rate>[\d,]+) payments/s,"
    r" p50 (?P<p50>[\d.]+) ms, p99 (?P<p99>[\d.]+) ms"
)
Figures = dict[str, tuple[int, float]]  # kind -> (payments/s, p99 ms)


def run_side(checkout: Path, duration_s: float) -> Figures:
    """One production-configuration run of `centime bench api` in ``checkout``."""
    command = [
        str(checkout / ".venv" / "bin" / "centime"),
        *("bench", "api", "--runs", "1", "--no-screen-off", "--duration-s", str(duration_s)),
    ]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{checkout}: bench api failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    figures: Figures = {}
    for line in done.stdout.splitlines():
        match = MEDIAN_LINE.match(line)
        if match:  # the production section comes first; the screen-off one is not run
            rate = int(match["rate"].replace(",", ""))
            figures.setdefault(match["kind"], (rate, float(match["p99"])))
    if set(figures) != {"single", "batch"}:
        sys.exit(f"{checkout}: no medians in the output:\n{done.stdout}")
    return figures


def report(name: str, runs: list[Figures]) -> dict[str, tuple[float, float]]:
    medians: dict[str, tuple[float, float]] = {}
    for kind in ("single", "batch"):
        rates = [run[kind][0] for run in runs]
        p99s = [run[kind][1] for run in runs]
        medians[kind] = (statistics.median(rates), statistics.median(p99s))
        print(
            f"{name:>5} {kind:>6}: runs {rates} payments/s; median {medians[kind][0]:,.0f}/s,"
            f" p99 median {medians[kind][1]:.2f} ms"
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="checkout of the revision before")
    parser.add_argument("head", type=Path, help="checkout of the revision after")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (odd: a median)")
    parser.add_argument("--duration-s", type=float, default=3.0, help="seconds per measurement")
    args = parser.parse_args()
    sides: dict[str, list[Figures]] = {"base": [], "head": []}
    for round_number in range(1, args.rounds + 1):
        for name, checkout in (("base", args.base), ("head", args.head)):
            figures = run_side(checkout.resolve(), args.duration_s)
            sides[name].append(figures)
            print(f"round {round_number} {name}: {figures}", flush=True)
    base = report("base", sides["base"])
    head = report("head", sides["head"])
    for kind in ("single", "batch"):
        print(
            f"{kind} payments/s head/base: {head[kind][0] / base[kind][0]:.2f}x (medians of"
            f" {args.rounds}); p99 head/base: {head[kind][1] / base[kind][1]:.2f}x"
        )


if __name__ == "__main__":
    main()
