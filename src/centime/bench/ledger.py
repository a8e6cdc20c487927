"""``centime bench ledger``: transfers per second through the real engine, against a naive
one-transaction-per-transfer ledger on the same store, in the same process run.

Each measurement gets a fresh database (a temp SQLite file, or a PostgreSQL schema dropped
afterwards) with ``accounts`` funded wallets, set up through the engine and not timed. Then:

- engine, batch of 1 (and any batch small enough for several to share a group): ``clients``
  threads each submit batches and wait for them, as concurrent API requests do, so the
  writer's group commit merges them into one transaction per group;
- engine, large batch (more than half a group): one client; a second could not share its
  group anyway;
- naive: one client, one database transaction per transfer (see :mod:`centime.bench.naive`).

Each measurement runs ``runs`` times; the report gives the median of the runs. Latency is
per request (one ``create_transfers`` call, or one naive transaction), from submit to durable.
Afterwards every transfer must have been ``created`` and the ledger check must pass.
"""

from __future__ import annotations

import itertools
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from centime.audit import AuditLog, HeadSigner, verify_log
from centime.ledger import CreateAccountStatus, CreateTransferStatus, Ledger, Transfer
from centime.limits import BATCH_EVENTS_MAX, GROUP_EVENTS_MAX
from centime.store import LedgerStore, open_store

from .databases import (
    DEFAULT_POSTGRES_URL,
    STORES,
    fresh_database,
    fsync_ms_p50,
    postgres_unavailable,
)
from .latency import LatencyHistogram
from .naive import open_naive
from .workload import Workload, funding_accounts, funding_transfers

__all__ = [
    "BenchConfig",
    "BenchResult",
    "Measurement",
    "Run",
    "clients_for",
    "default_transfers",
    "peak_rss_mib",
    "run_ledger_bench",
    "set_up_wallets",
]

DEFAULT_BATCH_SIZES: Final = (1, 100, BATCH_EVENTS_MAX)
# Transfers per run when --transfers is not given: large batches are fast enough for 100,000;
# small ones (a request per transfer or per hundred) get 20,000 so a run stays short.
TRANSFERS_LARGE_BATCH: Final = 100_000
TRANSFERS_SMALL_BATCH: Final = 20_000
LARGE_BATCH_MIN: Final = GROUP_EVENTS_MAX // 2 + 1
CLIENTS_MAX: Final = 1024
RUNS_MAX: Final = 100
VIOLATIONS_SHOWN_MAX: Final = 5
PROGRESS_INTERVAL_S: Final = 15.0
OK: Final = CreateTransferStatus.CREATED

Progress = Callable[[str], None]


def default_transfers(batch_size: int) -> int:
    """Transfers per run for ``batch_size`` when the caller does not say."""
    return TRANSFERS_LARGE_BATCH if batch_size >= LARGE_BATCH_MIN else TRANSFERS_SMALL_BATCH


def clients_for(batch_size: int, clients: int) -> int:
    """Concurrent callers for a batch size: one for batches too large for two to share a
    group (group commit cannot merge them), ``clients`` otherwise."""
    return 1 if batch_size >= LARGE_BATCH_MIN else clients


@dataclass(frozen=True, slots=True)
class BenchConfig:
    accounts: int = 10_000
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    transfers: int | None = None  # None: default_transfers(batch_size)
    naive_transfers: int = 2_000
    clients: int = 64
    runs: int = 3
    seed: int = 1
    stores: tuple[str, ...] = STORES
    postgres_url: str = DEFAULT_POSTGRES_URL
    check: bool = True
    # Also measure every engine row with the audit log on (method "engine+audit"), run for
    # run alternately with the plain engine, so that both see the same machine state.
    audit: bool = False

    def __post_init__(self) -> None:
        if not self.batch_sizes or any(not 1 <= b <= BATCH_EVENTS_MAX for b in self.batch_sizes):
            raise ValueError(f"batch sizes must be in 1..{BATCH_EVENTS_MAX}")
        if not 1 <= self.clients <= CLIENTS_MAX:
            raise ValueError(f"clients must be in 1..{CLIENTS_MAX}")
        if not 1 <= self.runs <= RUNS_MAX:
            raise ValueError(f"runs must be in 1..{RUNS_MAX}")
        if unknown := set(self.stores) - set(STORES):
            raise ValueError(f"unknown stores {sorted(unknown)}: use {', '.join(STORES)}")
        Workload(self.accounts, self.transfers_for(1), 1, self.seed)  # validates the counts
        Workload(self.accounts, self.naive_transfers, 1, self.seed)

    def transfers_for(self, batch_size: int) -> int:
        return default_transfers(batch_size) if self.transfers is None else self.transfers


@dataclass(frozen=True, slots=True)
class Run:
    """One measurement run: what was submitted, what was created, how long it took."""

    transfers: int
    created: int
    elapsed_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    failures: dict[str, int]  # status -> count, for every status but `created`
    violations: tuple[str, ...]  # the first few ledger-check violations (none: ok)
    checked: bool
    check_s: float  # how long the ledger check took (not part of elapsed_s)
    peak_rss_mib: float  # the process's peak RSS so far, taken before the ledger check

    @property
    def transfers_per_s(self) -> float:
        return self.transfers / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """One store, method and batch size, over ``len(runs)`` runs; figures are medians."""

    store: str
    method: str  # "engine", "engine+audit" or "naive"
    batch_size: int
    clients: int
    runs: tuple[Run, ...]

    @property
    def transfers(self) -> int:
        return self.runs[0].transfers

    @property
    def transfers_per_s(self) -> float:
        return statistics.median(r.transfers_per_s for r in self.runs)

    @property
    def latency_ms_p50(self) -> float:
        return statistics.median(r.latency_ms_p50 for r in self.runs)

    @property
    def latency_ms_p99(self) -> float:
        return statistics.median(r.latency_ms_p99 for r in self.runs)

    @property
    def all_created(self) -> bool:
        return all(r.created == r.transfers for r in self.runs)

    @property
    def check_passed(self) -> bool:
        """The ledger check ran after every run and found nothing."""
        return all(r.checked and not r.violations for r in self.runs)

    @property
    def ok(self) -> bool:
        """Every transfer created and no violation found (where the check ran)."""
        return self.all_created and not any(r.violations for r in self.runs)


@dataclass(slots=True)
class BenchResult:
    config: BenchConfig
    measurements: list[Measurement] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # store -> why it did not run
    peak_rss_mib: float = 0.0
    # A durable commit's floor on this disk, before and after the run (see fsync_ms_p50).
    fsync_ms_p50_before: float = 0.0
    fsync_ms_p50_after: float = 0.0

    def ratio(self, measurement: Measurement) -> float | None:
        """Engine transfers/s over naive transfers/s on the same store (None without both)."""
        if measurement.method != "engine":
            return None
        for naive in self.measurements:
            if naive.store == measurement.store and naive.method == "naive":
                rate = naive.transfers_per_s
                return measurement.transfers_per_s / rate if rate > 0 else None
        return None

    def audit_ratio(self, measurement: Measurement) -> float | None:
        """engine+audit transfers/s over engine transfers/s, same store and batch size."""
        if measurement.method != "engine+audit":
            return None
        for plain in self.measurements:
            if (plain.store, plain.method, plain.batch_size) == (
                measurement.store,
                "engine",
                measurement.batch_size,
            ):
                rate = plain.transfers_per_s
                return measurement.transfers_per_s / rate if rate > 0 else None
        return None


def run_ledger_bench(config: BenchConfig, progress: Progress | None = None) -> BenchResult:
    """Every measurement the config asks for, store by store; unreachable stores skipped."""
    say = progress or (lambda _: None)
    result = BenchResult(config, fsync_ms_p50_before=fsync_ms_p50())
    for store in config.stores:
        reason = postgres_unavailable(config.postgres_url) if store == "postgres" else None
        if reason is not None:
            say(f"{store}: skipped: {reason}")
            result.skipped[store] = reason
            continue
        for batch_size in config.batch_sizes:
            result.measurements.extend(_measure_engine(store, batch_size, config, say))
        if config.naive_transfers > 0:
            result.measurements.append(_measure_naive(store, config, say))
    result.peak_rss_mib = peak_rss_mib()
    result.fsync_ms_p50_after = fsync_ms_p50()
    return result


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


# --------------------------------------------------------------------- the engine


def _measure_engine(
    store: str, batch_size: int, config: BenchConfig, say: Progress
) -> list[Measurement]:
    """The engine at one batch size; with ``config.audit`` also with the audit log on, the
    two alternating run by run."""
    clients = clients_for(batch_size, config.clients)
    workload = Workload(config.accounts, config.transfers_for(batch_size), batch_size, config.seed)
    methods = ("engine", "engine+audit") if config.audit else ("engine",)
    runs: dict[str, list[Run]] = {method: [] for method in methods}
    for number in range(1, config.runs + 1):
        for method in methods:
            with fresh_database(store, config.postgres_url) as url:
                label = (
                    f"{store}: {method} batch {batch_size} x{clients}: run {number}/{config.runs}"
                )
                run = _engine_run(
                    url,
                    workload,
                    clients,
                    config.check,
                    _every_interval(say, label),
                    audit=method == "engine+audit",
                )
            say(_run_line(label, run))
            runs[method].append(run)
    return [
        Measurement(store, method, batch_size, clients, tuple(runs[method])) for method in methods
    ]


def _engine_run(
    url: str, workload: Workload, clients: int, check: bool, say: Progress, *, audit: bool = False
) -> Run:
    # The audit log as production runs it: tree, chain and heads signed with an Ed25519 key
    # (generated in memory for the run).
    ledger = Ledger(open_store(url), audit=AuditLog(HeadSigner.generate()) if audit else None)
    try:
        set_up_wallets(ledger, workload)
        batches = _reporting(workload.batches(), workload.transfers, say)
        elapsed_s, latency, statuses = _drive(ledger, batches, clients)
        rss_mib = peak_rss_mib()
        checked = time.perf_counter()
        violations = _violations(ledger.store, workload, statuses[OK]) if check else ()
        if check and audit:
            violations += _audit_violations(ledger.store)
        check_s = time.perf_counter() - checked
    finally:
        ledger.close()
    return _run(workload, elapsed_s, latency, statuses, violations, check, check_s, rss_mib)


def set_up_wallets(ledger: Ledger, workload: Workload) -> None:
    """Create and fund the wallets (not timed); anything but `created` is a bug."""
    for accounts in funding_accounts(workload):
        account_statuses = ledger.create_accounts(accounts)
        if any(s is not CreateAccountStatus.CREATED for s in account_statuses):
            raise RuntimeError(f"setting up accounts failed: {Counter(account_statuses)}")
    for transfers in funding_transfers(workload):
        transfer_statuses = ledger.create_transfers(transfers)
        if any(s is not OK for s in transfer_statuses):
            raise RuntimeError(f"funding the wallets failed: {Counter(transfer_statuses)}")


def _drive(
    ledger: Ledger, batches: Iterator[list[Transfer]], clients: int
) -> tuple[float, LatencyHistogram, Counter[CreateTransferStatus]]:
    """Submit the batches from ``clients`` threads, each waiting for its batch to be durable
    before it takes the next; the batches are generated lazily, under a lock."""
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    with ThreadPoolExecutor(clients, thread_name_prefix="bench-client") as pool:
        futures = [pool.submit(_client, ledger, batches, lock, start) for _ in range(clients)]
        start.wait()
        began = time.perf_counter()
        outcomes = [future.result() for future in futures]
        elapsed_s = time.perf_counter() - began
    latency = LatencyHistogram()
    statuses: Counter[CreateTransferStatus] = Counter()
    for client_latency, client_statuses in outcomes:
        latency.merge(client_latency)
        statuses.update(client_statuses)
    return elapsed_s, latency, statuses


def _client(
    ledger: Ledger,
    batches: Iterator[list[Transfer]],
    lock: threading.Lock,
    start: threading.Barrier,
) -> tuple[LatencyHistogram, Counter[CreateTransferStatus]]:
    """One caller: build a batch, submit it, wait until it is durable, and again. (Building
    the next batch while the current one commits was tried: under the GIL it only competes
    with the writer, and made no difference to the rate.)"""
    latency = LatencyHistogram()
    statuses: Counter[CreateTransferStatus] = Counter()
    start.wait()
    while True:
        with lock:
            batch = next(batches, None)
        if batch is None:
            return latency, statuses
        began = time.perf_counter()
        result = ledger.create_transfers(batch)
        latency.record(time.perf_counter() - began)
        statuses.update(result)


# --------------------------------------------------------------------- the naive ledger


def _measure_naive(store: str, config: BenchConfig, say: Progress) -> Measurement:
    workload = Workload(config.accounts, config.naive_transfers, BATCH_EVENTS_MAX, config.seed)
    runs = []
    for number in range(1, config.runs + 1):
        with fresh_database(store, config.postgres_url) as url:
            label = f"{store}: naive, 1 transaction per transfer: run {number}/{config.runs}"
            run = _naive_run(url, workload, config.check, _every_interval(say, label))
        say(_run_line(label, run))
        runs.append(run)
    return Measurement(store, "naive", 1, 1, tuple(runs))


def _naive_run(url: str, workload: Workload, check: bool, say: Progress) -> Run:
    with Ledger(open_store(url)) as ledger:  # the same setup, through the engine
        set_up_wallets(ledger, workload)
    naive = open_naive(url)
    latency = LatencyHistogram()
    statuses: Counter[CreateTransferStatus] = Counter()
    batches = _reporting(workload.batches(), workload.transfers, say)
    try:
        began = time.perf_counter()
        for transfer in itertools.chain.from_iterable(batches):
            submitted = time.perf_counter()
            statuses[naive.create_transfer(transfer)] += 1
            latency.record(time.perf_counter() - submitted)
        elapsed_s = time.perf_counter() - began
    finally:
        naive.close()
    rss_mib = peak_rss_mib()
    checked = time.perf_counter()
    violations: tuple[str, ...] = ()
    if check:
        store = open_store(url)
        try:
            violations = _violations(store, workload, statuses[OK])
        finally:
            store.close()
    check_s = time.perf_counter() - checked
    return _run(workload, elapsed_s, latency, statuses, violations, check, check_s, rss_mib)


# --------------------------------------------------------------------- shared


def _run(
    workload: Workload,
    elapsed_s: float,
    latency: LatencyHistogram,
    statuses: Counter[CreateTransferStatus],
    violations: tuple[str, ...],
    checked: bool,
    check_s: float,
    rss_mib: float,
) -> Run:
    return Run(
        transfers=workload.transfers,
        created=statuses[OK],
        elapsed_s=elapsed_s,
        latency_ms_p50=latency.quantile_ms(0.50),
        latency_ms_p99=latency.quantile_ms(0.99),
        failures={s.value: n for s, n in sorted(statuses.items(), key=str) if s is not OK},
        violations=violations,
        checked=checked,
        check_s=check_s,
        peak_rss_mib=rss_mib,
    )


def _violations(store: LedgerStore, workload: Workload, created: int) -> tuple[str, ...]:
    """The first few broken invariants, and a count mismatch if the store lost transfers."""
    found = [str(v) for v in itertools.islice(store.check(), VIOLATIONS_SHOWN_MAX)]
    expected = workload.accounts + created  # the top-ups plus the workload's transfers
    stored = store.totals().transfers
    if stored != expected:
        found.append(f"transfer_count: store holds {stored}, expected {expected}")
    return tuple(found)


def _audit_violations(store: LedgerStore) -> tuple[str, ...]:
    """The first few problems `centime audit verify` finds (none: the log is intact)."""
    with store.audit_reader() as fetch:
        report = verify_log(fetch, problems_max=VIOLATIONS_SHOWN_MAX)
    return tuple(f"audit {problem}" for problem in report.problems)


def _every_interval(say: Progress, label: str) -> Progress:
    return lambda line: say(f"{label}: {line}")


def _reporting(
    batches: Iterator[list[Transfer]], total: int, say: Progress
) -> Iterator[list[Transfer]]:
    """``batches`` as they are, saying every ``PROGRESS_INTERVAL_S`` how far the run got and
    at what rate (a long run on a growing database slows down; this shows how)."""
    last_s = time.perf_counter()
    done = last_done = 0
    for batch in batches:
        now_s = time.perf_counter()
        if now_s - last_s >= PROGRESS_INTERVAL_S:
            rate = (done - last_done) / (now_s - last_s)
            say(f"{done:,}/{total:,} submitted, {rate:,.0f}/s over the last {now_s - last_s:.0f} s")
            last_s, last_done = now_s, done
        yield batch
        done += len(batch)


def _run_line(label: str, run: Run) -> str:
    check = "skipped" if not run.checked else ("ok" if not run.violations else "FAILED")
    return (
        f"{label}: {run.transfers:,} transfers in {run.elapsed_s:.2f} s"
        f" = {run.transfers_per_s:,.0f}/s, p50 {run.latency_ms_p50:.2f} ms,"
        f" p99 {run.latency_ms_p99:.2f} ms, created {run.created:,},"
        f" peak RSS {run.peak_rss_mib:,.0f} MiB, check {check} ({run.check_s:.1f} s)"
    )
