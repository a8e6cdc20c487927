"""The ``centime`` command: thin entry points that parse, call a service and print."""

from __future__ import annotations

import typer

from centime.store import DEFAULT_DATABASE_URL

app = typer.Typer(help="centime: micropayments on an exact, fast double-entry ledger.",
                  no_args_is_help=True)
db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: invariants and inspection.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")

DatabaseUrl = typer.Option(
    DEFAULT_DATABASE_URL, "--database-url", envvar="CENTIME_DATABASE_URL",
    help="sqlite:///path.db (default) or postgresql://user@host:port/db",
)


@db_app.command("upgrade")
def db_upgrade(database_url: str = DatabaseUrl) -> None:
    """Migrate the database to the newest schema (idempotent)."""
    from centime.store.migrate import sqlalchemy_url, upgrade

    url = database_url if "://" in database_url else f"sqlite:///{database_url}"
    upgrade(url)
    typer.echo(f"schema is current: {sqlalchemy_url(url).split('@')[-1]}")


@ledger_app.command("check")
def ledger_check(
    database_url: str = DatabaseUrl,
    show_all: bool = typer.Option(False, "--all", help="List every violation, not the first."),
) -> None:
    """Verify every ledger invariant over the whole store; exit 1 at a violation."""
    from centime.store import open_store

    store = open_store(database_url)
    try:
        totals = store.totals()
        found = 0
        for violation in store.check():
            found += 1
            typer.echo(f"VIOLATION {violation}", err=True)
            if not show_all:
                break
    finally:
        store.close()
    if found:
        raise typer.Exit(1)
    typer.echo(
        f"ledger ok: {totals.accounts} accounts, {totals.transfers} transfers, "
        "debits equal credits per asset, every balance equals its transfers"
    )


@app.command("demo")
def demo(
    database: str = typer.Option("demo.db", "--database", help="The SQLite file (recreated)."),
) -> None:
    """A short tour of the ledger: top-up, micropayments, a metered hold, a refused overdraft."""
    from pathlib import Path

    from centime.demo import run_demo

    if not run_demo(Path(database)):
        raise typer.Exit(1)


BenchBatchSizes = typer.Option(
    ["1,100,8189"], "--batch-size", help="Events per request; repeat or comma-separate.")


@bench_app.command("ledger")
def bench_ledger(
    accounts: int = typer.Option(10_000, help="Funded wallets the transfers move between."),
    transfers: int | None = typer.Option(
        None, help="Transfers per run for every batch size [default: 100,000 for batch 8189,"
        " 20,000 for smaller batches]."),
    batch_size: list[str] = BenchBatchSizes,
    naive_transfers: int = typer.Option(2_000, help="Transfers per run of the naive ledger."),
    clients: int = typer.Option(64, help="Concurrent callers for batches that share a group."),
    runs: int = typer.Option(3, help="Runs per measurement; the median is reported."),
    seed: int = typer.Option(1, help="Seed of the random workload."),
    stores: str = typer.Option("sqlite,postgres", help="Comma-separated: sqlite, postgres."),
    postgres_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test", envvar="CENTIME_BENCH_POSTGRES_URL",
        help="Server for the PostgreSQL runs (a fresh schema per run, dropped after)."),
    check: bool = typer.Option(True, help="Run the ledger check after every run (not timed)."),
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
            accounts=accounts, transfers=transfers, naive_transfers=naive_transfers,
            batch_sizes=tuple(int(b) for item in batch_size for b in item.split(",") if b),
            clients=clients, runs=runs, seed=seed, postgres_url=postgres_url, check=check,
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


def main() -> None:
    app()
