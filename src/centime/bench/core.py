"""``centime bench core``: the ledger's pure core alone, compiled (mypyc) against the same
source run as Python, side by side in one process.

The workload of ``centime bench ledger`` (wallets with ``debits_must_not_exceed_credits``,
random transfers between them, batches of 8189) applied by ``BatchApplier`` to an in-memory
view, no store: each batch is applied by both routes, alternating, and timed from the view
to the changes. See docs/ledger.md ("The compiled core").
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Final

import centime.ledger.core as installed_core
from centime.ledger import Account, AccountFlags, CreateTransferStatus
from centime.ledger.native import core_is_compiled, load_pure_core

from .workload import ASSET, CODE, WALLET_FUNDING, Workload

__all__ = ["CoreBenchResult", "run_core_bench"]

PURE_MODULE: Final = "centime.ledger.pure_core_for_bench"
TIMESTAMP_FIRST: Final = 1_700_000_000_000_000_000


@dataclass(frozen=True, slots=True)
class CoreBenchResult:
    batch_size: int
    ms_per_batch: dict[str, list[float]]  # route ("compiled", "pure") -> one figure per batch

    def median_ms(self, route: str) -> float:
        return statistics.median(self.ms_per_batch[route])

    def transfers_per_s(self, route: str) -> float:
        return self.batch_size / self.median_ms(route) * 1e3

    def ratio(self) -> float | None:
        """Python over compiled, medians (None when the compiled core is not built)."""
        if "compiled" not in self.ms_per_batch:
            return None
        return self.median_ms("pure") / self.median_ms("compiled")


def _routes() -> dict[str, ModuleType]:
    import sys

    pure = sys.modules.get(PURE_MODULE) or load_pure_core(PURE_MODULE)
    if core_is_compiled(installed_core):
        return {"compiled": installed_core, "pure": pure}
    return {"pure": pure}


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()  # as the engine's writer does for a group
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_core_bench(accounts: int, batches: int, batch_size: int, seed: int) -> CoreBenchResult:
    """Apply ``batches`` batches with every available route; anything not created is a bug."""
    wallet = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    stored = {
        i: Account(i, ASSET, CODE, wallet, 0, 0, 0, 0, WALLET_FUNDING, i)
        for i in range(1, accounts + 1)
    }
    workload = Workload(accounts, batches * batch_size, batch_size, seed)
    routes = _routes()
    timings: dict[str, list[float]] = {route: [] for route in routes}
    with _gc_paused():
        for batch in workload.batches():
            for route, core in routes.items():
                began = time.perf_counter()
                applier = core.BatchApplier(core.LedgerView(accounts=stored))
                statuses = applier.create_transfers(batch, TIMESTAMP_FIRST)
                applier.changes()
                timings[route].append((time.perf_counter() - began) * 1e3)
                if any(s is not CreateTransferStatus.CREATED for s in statuses):
                    raise RuntimeError(f"the {route} core refused a benchmark transfer")
    return CoreBenchResult(batch_size, timings)
