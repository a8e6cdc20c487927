"""``centime db`` and ``centime ledger``: the schema and the ledger's invariants."""

from __future__ import annotations

import typer

from .common import DatabaseUrl

__all__ = ["db_app", "ledger_app"]

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: invariants and inspection.", no_args_is_help=True)


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
