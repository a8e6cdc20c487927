"""``centime bench``: benchmarks that print their figures (docs/benchmarks.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from centime.bench.api import ApiBenchResult

__all__ = ["bench_app"]

bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)


BenchBatchSizes = typer.Option(
    ["1,100,8189"], "--batch-size", help="Events per request; repeat or comma-separate."
)


@bench_app.command("api")
def bench_api(
    duration_s: float = typer.Option(4.0, min=1.0, max=600.0, help="Seconds per measurement."),
    clients: int = typer.Option(64, min=1, max=1024, help="Clients posting single payments."),
    batch_clients: int = typer.Option(2, min=1, max=64, help="Clients posting batches."),
    batch_size: int = typer.Option(8189, min=1, max=8189, help="Payments per batch request."),
    customers: int = typer.Option(256, min=1, max=100_000, help="Funded customers who pay."),
    runs: int = typer.Option(3, min=1, max=100, help="Runs of each; medians are reported."),
    audit: bool = typer.Option(True, help="Run the server with the audit log (the default)."),
    webhook: bool = typer.Option(
        False,
        help="The merchant has a webhook endpoint for payment.created: every payment"
        " writes its outbox event.",
    ),
    screen_off: bool = typer.Option(
        True,
        help="Also measure, side by side, the same workload with the risk screen off"
        " (allow-all-unsafe), and print the ratio.",
    ),
    store: str = typer.Option("sqlite", help="sqlite, or postgres (a fresh database per server)."),
    processes: str = typer.Option(
        "1",
        help="API processes per server, comma-separated (e.g. 1,2: measured side by side;"
        " beyond 1 needs --store postgres: N `centime serve` on N ports, the clients spread"
        " over them in turn as a proxy would, sharing state through Redis).",
    ),
    postgres_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        help="The PostgreSQL server the fresh databases are created on (and dropped).",
    ),
    redis_url: str = typer.Option(
        "redis://127.0.0.1:6379/0", help="The Redis several API processes share state in."
    ),
) -> None:
    """Payments per second through `centime serve` over loopback, in the production
    configuration (risk engine, audit log, a published fee schedule) and with the screen
    off: single payments (p50/p99 latency) and the batch endpoint; on SQLite, or on
    PostgreSQL with 1, 2... API processes side by side. Exits 1 if a database afterwards does
    not hold exactly the payments answered as created, or the ledger check fails."""
    from centime.bench.api import SCREEN_ENGINE, SCREEN_OFF, ApiBenchConfig, run_api_bench

    screens = (SCREEN_ENGINE, SCREEN_OFF) if screen_off else (SCREEN_ENGINE,)
    try:
        counts = tuple(int(n) for n in processes.split(",") if n.strip().isdigit())
        if len(counts) != len(processes.split(",")):
            raise ValueError(f"--processes takes counts like 1,2, not {processes!r}")
        config = ApiBenchConfig(
            duration_s,
            clients,
            batch_clients,
            batch_size,
            customers,
            runs,
            audit,
            webhook,
            screens,
            store=store,
            processes=counts,
            postgres_url=postgres_url,
            redis_url=redis_url,
        )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    result = run_api_bench(config, progress=lambda line: typer.echo(line, err=True))
    _echo_api_runs(result)
    _echo_api_medians(result)
    _echo_api_checks(result)
    if not result.consistent:
        raise typer.Exit(1)


def _echo_api_checks(result: ApiBenchResult) -> None:
    for screen, n in result.config.targets:
        violations = result.ledger_violations.get((screen, n), [])
        typer.echo(
            f"{screen} x{n}: payments answered created: {result.payments_created(screen, n):,};"
            f" stored: {result.payments_stored.get((screen, n), 0):,}; ledger check: "
            + ("passed" if not violations else "; ".join(violations[:3]))
        )


def _echo_api_runs(result: ApiBenchResult) -> None:
    for run in result.runs:
        typer.echo(
            f"{run.screen:>16} x{run.processes} {run.kind:>6}:"
            f" {run.payments_per_s:>10,.0f} payments/s"
            f"  {run.requests_per_s:>8,.0f} requests/s  p50 {run.latency_ms_p50:7.2f} ms"
            f"  p99 {run.latency_ms_p99:7.2f} ms  failures {run.failures or 0}"
            + (f"  errors {run.errors}" if run.errors else "")
            + (f"\n        first failure: {run.sample_failure}" if run.sample_failure else "")
        )


def _echo_api_medians(result: ApiBenchResult) -> None:
    from centime.bench.api import SCREEN_ENGINE, SCREEN_OFF

    config = result.config
    pricing = "pricing on" + (", webhook subscribed" if config.webhook else "")
    names = {
        SCREEN_ENGINE: f"production (risk engine, audit {'on' if config.audit else 'off'},"
        f" {pricing})",
        SCREEN_OFF: "screen off (allow-all-unsafe, the rest the same)",
    }
    for screen, n in config.targets:
        where = f", {n} API process{'es' * (n > 1)} on {config.store}"
        typer.echo(f"{names[screen]}{where}, medians of {config.runs}:")
        for kind in ("single", "batch"):
            clients = config.clients if kind == "single" else config.batch_clients
            typer.echo(
                f"  {kind:>6}: {result.median(kind, 'payments_per_s', screen, n):>10,.0f}"
                f" payments/s, p50 {result.median(kind, 'latency_ms_p50', screen, n):.2f} ms,"
                f" p99 {result.median(kind, 'latency_ms_p99', screen, n):.2f} ms"
                f" ({clients} clients)"
            )
    first = config.processes[0]
    for screen, n in config.targets:
        if n != first:
            for kind in ("single", "batch"):
                ratio = result.ratio(kind, screen, screen, n, first)
                typer.echo(f"{kind} payments/s, {screen}, {n} processes / {first}: {ratio:.2f}x")
    if SCREEN_OFF in config.screens:
        for kind in ("single", "batch"):
            ratio = result.ratio(kind, SCREEN_ENGINE, SCREEN_OFF)
            typer.echo(f"{kind} payments/s, risk engine / screen off: {ratio:.2f}x")


@bench_app.command("outbox")
def bench_outbox(
    rounds: int = typer.Option(15, min=1, max=1000, help="Units of each kind; medians."),
    batch_size: int = typer.Option(4088, min=1, max=4088, help="Payments per unit."),
) -> None:
    """What webhook events cost the batch path, in one run on SQLite: units of payments to
    a merchant nobody listens for (no event) against one with an endpoint for
    payment.created (an event per payment), interleaved; and the subscription check alone."""
    from centime.bench.webhooks import run_outbox_bench

    result = run_outbox_bench(rounds, batch_size, progress=lambda line: typer.echo(line, err=True))
    per_s = [batch_size / ms * 1e3 for ms in (result.quiet_ms, result.listened_ms)]
    typer.echo(f"medians of {rounds} units of {batch_size} payments each:")
    typer.echo(
        f"  nobody listens:        {result.quiet_ms:8.1f} ms/unit  {per_s[0]:>9,.0f} payments/s"
    )
    typer.echo(
        f"  payment.created on:    {result.listened_ms:8.1f} ms/unit  {per_s[1]:>9,.0f}"
        f" payments/s  ({result.listened_cost:+.1%})"
    )
    typer.echo(
        f"  a unit with the check: {result.check_us:8.1f} us; an empty unit:"
        f" {result.empty_us:.1f} us (medians of 200)"
    )


@bench_app.command("core")
def bench_core(
    accounts: int = typer.Option(10_000, min=2, max=1_000_000, help="Wallets in the view."),
    batches: int = typer.Option(20, min=1, max=1000, help="Batches applied by each route."),
    batch_size: int = typer.Option(8189, min=1, max=8189, help="Transfers per batch."),
    seed: int = typer.Option(1, help="Seed of the random transfers."),
) -> None:
    """The ledger's pure core alone (no store): the mypyc-compiled module against the same
    source run as Python, alternating batch by batch; medians and the ratio."""
    from centime.bench.core import run_core_bench

    result = run_core_bench(accounts, batches, batch_size, seed)
    for route in result.ms_per_batch:
        typer.echo(
            f"{route:>8}: median {result.median_ms(route):6.1f} ms per batch of {batch_size:,}"
            f" (min {min(result.ms_per_batch[route]):.1f} ms), "
            f"{result.transfers_per_s(route):,.0f} transfers/s, {batches} batches"
        )
    ratio = result.ratio()
    typer.echo(
        f"compiled is {ratio:.2f}x the Python core (medians, side by side)"
        if ratio
        else "the compiled core is not built (make install builds it): Python only"
    )


@bench_app.command("open-payments")
def bench_open_payments(
    payments: int = typer.Option(1000, min=50, max=100_000, help="Payments per side."),
) -> None:
    """Outgoing payments through Open Payments (HTTP app in process, signatures verified),
    one payment at a time, alternating: each a ledger payment, against Web Monetization
    streaming under a budget (accrued under a reserve, settled in batches); medians and
    ledger transfers written per 1,000 payments."""
    from centime.bench.open_payments import run_open_payments_bench

    result = run_open_payments_bench(payments, progress=lambda line: typer.echo(line, err=True))
    typer.echo(f"{payments} outgoing payments per side, alternating in chunks of 50:")
    for name, side in (
        ("each a ledger payment", result.direct),
        ("streamed (Web Monetization)", result.streamed),
    ):
        typer.echo(
            f"  {name:28} median {side.median_ms:6.2f} ms  {side.per_s:7.1f} payments/s"
            f"  {side.transfers_per_1000:7.1f} ledger transfers per 1,000"
        )
    ratio = result.direct.transfers_per_1000 / max(result.streamed.transfers_per_1000, 1e-9)
    typer.echo(f"  streaming writes {ratio:.0f}x fewer ledger transfers")


@bench_app.command("audit-proofs")
def bench_audit_proofs(
    leaves: int = typer.Option(10_000_000, min=2, max=2**40, help="Leaves in the tree."),
    proofs: int = typer.Option(200, min=1, max=100_000, help="Proofs of each kind to time."),
    seed: int = typer.Option(1, help="Seed of the random leaves and sizes."),
) -> None:
    """Time inclusion and consistency proofs read from the store, in a tree of LEAVES leaves
    (built synthetically through the audit log's own tiles; every proof is verified)."""
    from centime.bench.proofs import bench_proofs

    timings = bench_proofs(leaves, proofs, seed)
    typer.echo(f"built a tree of {leaves:,} leaves in {timings.build_s:.1f} s")
    for kind, (median, p99, worst) in (
        ("inclusion", timings.inclusion_ms),
        ("consistency", timings.consistency_ms),
    ):
        typer.echo(
            f"{kind} proof at {leaves:,} leaves: median {median:.2f} ms, p99 {p99:.2f} ms,"
            f" max {worst:.2f} ms ({proofs} random proofs, each verified)"
        )


@bench_app.command("ledger")
def bench_ledger(
    accounts: int = typer.Option(10_000, help="Funded wallets the transfers move between."),
    transfers: int | None = typer.Option(
        None,
        help="Transfers per run for every batch size [default: 100,000 for batch 8189,"
        " 20,000 for smaller batches].",
    ),
    batch_size: list[str] = BenchBatchSizes,
    naive_transfers: int = typer.Option(2_000, help="Transfers per run of the naive ledger."),
    clients: int = typer.Option(64, help="Concurrent callers for batches that share a group."),
    runs: int = typer.Option(3, help="Runs per measurement; the median is reported."),
    seed: int = typer.Option(1, help="Seed of the random workload."),
    stores: str = typer.Option("sqlite,postgres", help="Comma-separated: sqlite, postgres."),
    postgres_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test",
        envvar="CENTIME_BENCH_POSTGRES_URL",
        help="Server for the PostgreSQL runs (a fresh schema per run, dropped after).",
    ),
    check: bool = typer.Option(True, help="Run the ledger check after every run (not timed)."),
    audit: bool = typer.Option(
        False,
        "--audit",
        help="Also run every engine row with the audit log on, alternating"
        " run by run, and report its cost.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object, no table."),
) -> None:
    """Transfers per second through the engine (group commit) and a naive ledger."""
    import json

    from rich.console import Console

    from centime.bench.ledger import BenchConfig, run_ledger_bench
    from centime.bench.report import as_json as result_json
    from centime.bench.report import notes, table

    try:
        config = BenchConfig(
            accounts=accounts,
            transfers=transfers,
            naive_transfers=naive_transfers,
            batch_sizes=tuple(int(b) for item in batch_size for b in item.split(",") if b),
            clients=clients,
            runs=runs,
            seed=seed,
            postgres_url=postgres_url,
            check=check,
            audit=audit,
            stores=tuple(s.strip() for s in stores.split(",") if s.strip()),
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    result = run_ledger_bench(config, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        typer.echo(json.dumps(result_json(result), indent=2))
    else:
        console = Console()
        console.width = max(console.width, 120)  # the whole table, even when piped
        console.print(table(result))
        for line in notes(result):
            console.print(line, highlight=False)
    if not result.measurements or not all(m.ok for m in result.measurements):
        raise typer.Exit(1)  # nothing ran, a transfer was refused or the ledger check failed


@bench_app.command("risk")
def bench_risk(
    runs: int = typer.Option(5, min=1, max=100, help="Runs of each measurement; medians."),
    decisions: int = typer.Option(2_000, min=100, max=1_000_000, help="Decisions per run."),
    threads: int = typer.Option(4, min=1, max=64, help="Threads for the lock measurement."),
    seed: int = typer.Option(3, help="Seed of the simulated traffic."),
    entities: int = typer.Option(
        1_000_000, min=0, max=10_000_000, help="Parties (half payers) for the memory figure."
    ),
    state: str = typer.Option(
        "c",
        help="'both': also today's engine with the Python state (new-py), side by side with"
        " the C state in the same process; 'c': the engine as configured.",
    ),
) -> None:
    """Risk decisions in process with the shipped model and rules, the engine of today
    against the one before the speed work, side by side: p50/p99 per decision, decisions/s,
    batches of 8189 (decide_many), the parts of a decision, several threads sharing one
    engine, and memory per million payers and payees."""
    from centime.bench.risk import RiskBenchConfig, run_risk_bench

    result = run_risk_bench(
        RiskBenchConfig(
            runs, decisions, threads, seed, entities=entities, both_states=state == "both"
        ),
        progress=lambda line: typer.echo(line, err=True),
    )
    for line in result.lines():
        typer.echo(line)
