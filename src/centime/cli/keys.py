"""``centime keys`` and ``centime web``: API keys, and the web apps' people."""

from __future__ import annotations

from typing import Literal

import typer

from .common import DatabaseUrl, configured

__all__ = ["keys_app", "web_app"]

keys_app = typer.Typer(help="API keys of the operator and merchants.", no_args_is_help=True)
web_app = typer.Typer(help="The web apps: people and their passkeys.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    operator: bool = typer.Option(False, "--operator", help="A key of the operator."),
    merchant: str | None = typer.Option(
        None, "--merchant", help="A key of this merchant (mer_...)."
    ),
    scopes: str = typer.Option(
        "admin",
        "--scopes",
        help="Comma-separated: read, payments, refunds, payouts, admin, review.",
    ),
    name: str = typer.Option("created by centime keys create", "--name", help="What it is for."),
    database_url: str = DatabaseUrl,
) -> None:
    """Create an API key and print it, once (the only time it is shown: store it now). The
    bootstrap of the first operator key; on SQLite, while no server writes the file."""
    from centime.app import open_platform
    from centime.audit import audit_from_env
    from centime.auth import NewKey, create_key, parse_scopes
    from centime.platform.chart import OPERATOR
    from centime.platform.ids import format_id, parse_id
    from centime.store import open_store
    from centime.store.sqlite import SqliteStore, SqliteWriterBusyError

    if operator == (merchant is not None):
        raise typer.BadParameter("give exactly one of --operator and --merchant mer_...")
    wanted = parse_scopes(s.strip() for s in scopes.split(",") if s.strip())
    if wanted is None:
        raise typer.BadParameter(
            "scopes are some of read, payments, refunds, payouts, admin, review"
        )
    owner_id = OPERATOR if merchant is None else parse_id("mer", merchant)
    if owner_id is None:
        raise typer.BadParameter(f"not a merchant id: {merchant!r}")
    store = open_store(database_url)
    try:
        if isinstance(store, SqliteStore):
            store.claim_writer()  # a running server: say so before anything is tried
    except SqliteWriterBusyError:
        store.close()
        raise _busy() from None
    try:
        # The audit log as serve runs it: every committed group is in the log.
        with (
            configured(),
            open_platform(database_url, "tool", audit=audit_from_env(), store=store) as app,
        ):
            platform = app.platform
            kind: Literal["operator", "merchant"] = "operator" if operator else "merchant"
            result = platform.execute(create_key(platform, kind, owner_id, name, wanted))
    except SqliteWriterBusyError:
        raise _busy() from None
    if not isinstance(result, NewKey):
        typer.echo(f"error: {result.code.value}: {result.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"created API key {format_id('key', result.key.id)} with scopes"
        f" {', '.join(sorted(s.value for s in result.key.scopes))}; shown once:",
        err=True,
    )
    typer.echo(result.token)


@web_app.command("invite")
def web_invite(
    role: str = typer.Option("admin", help="The operator's role: admin or analyst."),
    name: str = typer.Option("Operator", help="The person's name."),
    origin: str = typer.Option("http://localhost:8000", help="The web apps' origin."),
    database_url: str = DatabaseUrl,
) -> None:
    """Invite an operator: prints a one-time link (valid 7 days) where the person registers
    a passkey. The link is shown once; only its hash is kept."""
    from centime.app import open_platform
    from centime.auth.passkeys import Role, UserKind, create_enrollment
    from centime.platform.chart import OPERATOR
    from centime.platform.errors import Refusal

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo("role must be admin or analyst", err=True)
        raise typer.Exit(2) from None
    with configured(), open_platform(database_url, "tool") as app:
        platform = app.platform
        made = platform.execute(
            create_enrollment(platform, UserKind.OPERATOR, OPERATOR, name, chosen)
        )
    if isinstance(made, Refusal):
        typer.echo(f"{made.code.value}: {made.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{origin.rstrip('/')}/enroll/{made}")
    typer.echo("(shown once: send it to the person)", err=True)


def _busy() -> typer.Exit:
    """The answer beside a server that writes the SQLite file: one line, exit 1."""
    typer.echo(
        "error: a server is writing this database; create the key through the"
        " API (POST /v1/api-keys) or stop the server first",
        err=True,
    )
    return typer.Exit(1)
