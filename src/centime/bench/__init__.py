"""Benchmarks that print their figures (``centime bench ...``).

The measurement logic lives here, the command line in :mod:`centime.cli`; each benchmark
reports medians over several runs and says what it measured.
"""

from __future__ import annotations

from .ledger import BenchConfig, BenchResult, Measurement, Run, run_ledger_bench

__all__ = ["BenchConfig", "BenchResult", "Measurement", "Run", "run_ledger_bench"]
