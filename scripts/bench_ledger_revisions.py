#!/usr/bin/env python3
"""Before/after: `centime bench ledger` (SQLite, batch 8189) of two checkouts, alternated.

On a shared machine an absolute figure means little: this runs `centime bench ledger --stores
sqlite --batch-size 8189 --runs 1 --json` on the two checkouts in turn, ROUNDS times, the side
that goes first alternating round by round (A B, B A, A B, ...), and prints every run, then
per side the medians of the engine rate, of the naive rate and of the per-run ratio engine
over naive, and the ratio head/base of the engine medians.

    git archive main | tar -x -C /tmp/centime-base && make -C /tmp/centime-base install
    python3 scripts/bench_ledger_revisions.py /tmp/centime-base . --rounds 10

Each side is a checkout with its own `.venv` (made by `make install`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple


class Figures(NamedTuple):
    engine: float  # transfers/s
    naive: float  # transfers/s
    core: str  # "compiled (mypyc)" or the reason it is not

    @property
    def ratio(self) -> float:
        return self.engine / self.naive


def run_side(checkout: Path, extra: list[str]) -> Figures:
    """One run of `centime bench ledger` on SQLite at batch 8189 in ``checkout``."""
    command = [
        str(checkout / ".venv" / "bin" / "centime"),
        *("bench", "ledger", "--stores", "sqlite", "--batch-size", "8189", "--runs", "1"),
        *("--json", *extra),
    ]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(
            f"{checkout}: bench ledger failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    result = json.loads(done.stdout)
    rates = {m["method"]: float(m["transfers_per_s"]) for m in result["results"]}
    return Figures(rates["engine"], rates["naive"], str(result["environment"]["ledger_core"]))


def report(name: str, runs: list[Figures]) -> float:
    engine = statistics.median(r.engine for r in runs)
    naive = statistics.median(r.naive for r in runs)
    ratio = statistics.median(r.ratio for r in runs)
    print(f"{name:>5} engine runs: {[round(r.engine) for r in runs]}")
    print(f"{name:>5}  naive runs: {[round(r.naive) for r in runs]}")
    print(
        f"{name:>5}: engine median {engine:,.0f}/s, naive median {naive:,.0f}/s,"
        f" engine/naive median of runs {ratio:.1f}x ({len(runs)} runs; core {runs[0].core})"
    )
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="checkout of the revision before")
    parser.add_argument("head", type=Path, help="checkout of the revision after")
    parser.add_argument("--rounds", type=int, default=10, help="runs of each side")
    parser.add_argument(
        "extra", nargs="*", help="more options for `centime bench ledger` (after --)"
    )
    args = parser.parse_args()
    sides: dict[str, list[Figures]] = {"base": [], "head": []}
    order = [("base", args.base.resolve()), ("head", args.head.resolve())]
    for round_number in range(1, args.rounds + 1):
        for name, checkout in order if round_number % 2 else order[::-1]:
            figures = run_side(checkout, args.extra)
            sides[name].append(figures)
            print(
                f"round {round_number} {name}: engine {figures.engine:,.0f}/s,"
                f" naive {figures.naive:,.0f}/s, {figures.ratio:.1f}x",
                flush=True,
            )
    base = report("base", sides["base"])
    head = report("head", sides["head"])
    print(f"engine transfers/s head/base: {head / base:.3f}x (medians of {args.rounds})")


if __name__ == "__main__":
    main()
