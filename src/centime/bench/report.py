"""How ``centime bench ledger`` shows its figures: a rich table for people, JSON for scripts.

There is no money in the output, only counts (integers), rates and latencies (floats).
"""

from __future__ import annotations

import os
import platform
import sqlite3
from typing import Any

from rich import box
from rich.table import Table

from .databases import redacted
from .ledger import (
    LARGE_BATCH_MIN,
    TRANSFERS_LARGE_BATCH,
    TRANSFERS_SMALL_BATCH,
    BenchResult,
    Measurement,
    Run,
)

__all__ = ["as_json", "notes", "table"]


def _method(m: Measurement) -> str:
    if m.method == "naive":
        return "naive, 1 txn each"
    clients = f"{m.clients} clients" if m.clients > 1 else "1 client"
    return f"{m.method}, {clients}"


def _spread(m: Measurement) -> str:
    """(fastest - slowest) / median of the runs' rates, in percent."""
    rates = [r.transfers_per_s for r in m.runs]
    median = m.transfers_per_s
    return f"{(max(rates) - min(rates)) / median:.0%}" if median > 0 else "-"


def table(result: BenchResult) -> Table:
    runs = result.config.runs
    out = Table(
        title=f"centime bench ledger: median of {runs} run{'s' * (runs != 1)}",
        box=box.SIMPLE_HEAD,
    )
    for name in ("store", "method"):
        out.add_column(name)
    for name in ("batch", "per run", "transfers/s", "spread", "p50 ms", "p99 ms", "vs naive"):
        out.add_column(name, justify="right")
    out.add_column("check")
    for m in result.measurements:
        ratio = result.ratio(m)
        out.add_row(
            m.store,
            _method(m),
            f"{m.batch_size:,}",
            f"{m.transfers:,}",
            f"{m.transfers_per_s:,.0f}",
            _spread(m),
            f"{m.latency_ms_p50:.2f}",
            f"{m.latency_ms_p99:.2f}",
            "" if ratio is None else f"{ratio:,.1f}x",
            _check(m),
        )
    return out


def _check(m: Measurement) -> str:
    if not m.all_created:
        return "NOT ALL CREATED"
    if not all(r.checked for r in m.runs):
        return "created (unchecked)"
    return "ok" if m.check_passed else "VIOLATIONS"


def notes(result: BenchResult) -> list[str]:
    """What the table's figures mean, and what did not run."""
    config = result.config
    lines = [
        *_audit_notes(result),
        f"{config.accounts:,} funded wallets, random transfers between them (seed {config.seed});"
        " every commit durable (SQLite: WAL, synchronous=FULL; PostgreSQL:"
        " synchronous_commit=on); a fresh database per run.",
        f"engine, {config.clients} clients: {config.clients} concurrent callers each submit a"
        " batch of the row's size and wait for it to be durable; the engine's group commit"
        " merges what arrives together into one transaction. For batch 1 this is the rate of"
        " single-transfer requests under concurrency, not of one caller alone.",
        f"engine, 1 client: batches of {LARGE_BATCH_MIN:,} or more, one caller (two such"
        " batches cannot share a group).",
        "naive: one caller, one database transaction per transfer (read both accounts, check"
        " the wallet limit, update both, insert, advance the clock, commit), on sqlite3/psycopg"
        " directly. vs naive: engine transfers/s over naive transfers/s on the same store;"
        " rates are compared, not totals.",
        "p50/p99: latency per request (one create_transfers call, or one naive transaction),"
        " submit to durable, median over the runs. spread: (fastest - slowest run) / median.",
    ]
    if config.transfers is None:
        lines.append(
            f"Transfers per run: {TRANSFERS_LARGE_BATCH:,} for batches of {LARGE_BATCH_MIN:,}"
            f" or more, {TRANSFERS_SMALL_BATCH:,} for smaller ones (slower), naive"
            f" {config.naive_transfers:,} (--transfers, --naive-transfers)."
        )
    lines.append(
        f"fsync of a 4 KiB write in the temp directory: p50 {result.fsync_ms_p50_before:.2f} ms"
        f" before the run, {result.fsync_ms_p50_after:.2f} ms after; a durable commit costs at"
        " least that, so the naive rate is bounded by about 1000 / it (other processes"
        " syncing on the same disk raise it)."
    )
    lines.append(f"Ledger core: {core_route()}.")
    for store, reason in result.skipped.items():
        lines.append(f"{store}: SKIPPED: {reason}")
    rss = f"Peak RSS of the process: {result.peak_rss_mib:,.1f} MiB"
    if result.config.check and result.measurements:
        first = result.measurements[0].runs[0].peak_rss_mib
        rss += f", including the ledger checks ({first:,.1f} MiB before the first check)"
    lines.append(rss + ".")
    return lines


def _audit_notes(result: BenchResult) -> list[str]:
    """The audit log's cost per store and batch size: median rates, same run."""
    lines = []
    for m in result.measurements:
        ratio = result.audit_ratio(m)
        if ratio is None:
            continue
        lines.append(
            f"{m.store}, batch {m.batch_size:,}: with the audit log {ratio:.1%} of the engine's"
            f" transfers/s (cost {1 - ratio:.1%}; medians of {len(m.runs)} runs each,"
            " alternating)."
        )
    if lines:
        lines.append(
            "engine+audit: the same engine with the audit log on (Merkle leaf per transfer,"
            " batch record with state changes, nodes, an Ed25519 head at least every second),"
            " in the same transactions."
        )
    return lines


def core_route() -> str:
    """Which ledger core the engine ran (docs/ledger.md, "The compiled core")."""
    from centime.ledger.native import core_is_compiled

    return "compiled (mypyc)" if core_is_compiled() else "Python (not compiled)"


def as_json(result: BenchResult) -> dict[str, Any]:
    config = result.config
    return {
        "benchmark": "centime bench ledger",
        "runs": config.runs,
        "statistic": "median",
        "config": {
            "accounts": config.accounts,
            "batch_sizes": list(config.batch_sizes),
            "transfers": config.transfers,
            "naive_transfers": config.naive_transfers,
            "clients": config.clients,
            "seed": config.seed,
            "stores": list(config.stores),
            "postgres_url": redacted(config.postgres_url),
            "check": config.check,
            "audit": config.audit,
        },
        "environment": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "fsync_ms_p50_before": round(result.fsync_ms_p50_before, 3),
            "fsync_ms_p50_after": round(result.fsync_ms_p50_after, 3),
            "ledger_core": core_route(),
        },
        "results": [_measurement_json(result, m) for m in result.measurements],
        "skipped": [{"store": s, "reason": r} for s, r in result.skipped.items()],
        "peak_rss_mib": round(result.peak_rss_mib, 1),
    }


def _measurement_json(result: BenchResult, m: Measurement) -> dict[str, Any]:
    ratio = result.ratio(m)
    return {
        "store": m.store,
        "method": m.method,
        "batch_size": m.batch_size,
        "clients": m.clients,
        "transfers": m.transfers,
        "transfers_per_s": round(m.transfers_per_s, 1),
        "latency_ms_p50": round(m.latency_ms_p50, 3),
        "latency_ms_p99": round(m.latency_ms_p99, 3),
        "engine_over_naive": None if ratio is None else round(ratio, 2),
        "audit_over_engine": (
            None if (audit := result.audit_ratio(m)) is None else round(audit, 4)
        ),
        "all_created": m.all_created,
        "check_passed": m.check_passed,
        "runs": [_run_json(r) for r in m.runs],
    }


def _run_json(r: Run) -> dict[str, Any]:
    return {
        "transfers": r.transfers,
        "created": r.created,
        "failures": dict(r.failures),
        "elapsed_s": round(r.elapsed_s, 4),
        "transfers_per_s": round(r.transfers_per_s, 1),
        "latency_ms_p50": round(r.latency_ms_p50, 3),
        "latency_ms_p99": round(r.latency_ms_p99, 3),
        "checked": r.checked,
        "check_s": round(r.check_s, 3),
        "violations": list(r.violations),
        "peak_rss_mib_before_check": round(r.peak_rss_mib, 1),
    }
