"""``centime report`` and ``centime export``: the daily reconciliation, a merchant's CSV."""

from __future__ import annotations

from typing import Any

import typer

from .common import DatabaseUrl, configured

__all__ = ["export_command", "report_app"]

report_app = typer.Typer(help="Reports: the daily reconciliation.", no_args_is_help=True)


@report_app.command("reconcile")
def report_reconcile(
    date: str = typer.Option(..., "--date", help="The UTC day, YYYY-MM-DD."),
    api_url: str | None = typer.Option(
        None,
        "--api-url",
        envvar="CENTIME_API_URL",
        help="Ask the running server (GET /v1/reports/reconciliation): the sandbox provider's"
        " statement lives in the server's process.",
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="CENTIME_API_KEY", help="An operator key with read."
    ),
    database_url: str = DatabaseUrl,
) -> None:
    """List every difference between what the funding providers report for the day and the
    ledger and top-ups of that day; exit 1 when there is one. Without --api-url, the
    providers of this process are asked (the sandbox's statement is then empty)."""
    import datetime as dt

    from centime.platform.reports import check_day

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise typer.BadParameter("--date is YYYY-MM-DD") from None
    if check_day(day) is not None:
        raise typer.BadParameter("--date is a day from 1970-01-01 to 2262-04-10")
    if api_url is not None:
        from centime.client import Client

        if not api_key:
            raise typer.BadParameter("--api-url needs --api-key (an operator key)")
        with Client(api_url, api_key) as client:
            report = client.reconciliation(day.isoformat())
    else:
        report = _reconcile_here(database_url, day)
    for provider in report.providers:
        typer.echo(
            f"{provider.provider}: {provider.provider_lines} lines reported,"
            f" {provider.platform_lines} booked, {len(provider.differences)} differences"
            + (" (truncated)" if provider.truncated else "")
        )
        for d in provider.differences:
            amounts = " ".join(
                f"{side}={m.value} {m.asset}"
                for side, m in (("provider", d.provider_amount), ("platform", d.platform_amount))
                if m
            )
            typer.echo(f"  {d.kind} {d.movement} {d.topup_id} {amounts}: {d.detail}")
    typer.echo(f"{report.date}: {report.differences} differences")
    if report.differences:
        raise typer.Exit(1)


def _reconcile_here(database_url: str, day: Any) -> Any:
    from centime.api.routes.reports import _out, statements
    from centime.app import install_funding_providers, open_platform
    from centime.platform.reports import reconcile
    from centime.wire import Reconciliation

    # Reads only: the ledger's writer is never asked for anything.
    with configured(), open_platform(database_url, "tool") as app:
        platform = app.platform
        install_funding_providers(platform)
        parties = statements(platform.providers.parties())
        done = [_out(reconcile(platform, p, day)) for p in parties]
    return Reconciliation(
        date=day.isoformat(), differences=sum(len(p.differences) for p in done), providers=done
    )


def export_command(
    merchant: str = typer.Option(..., "--merchant", help="The merchant, mer_..."),
    from_: str = typer.Option(..., "--from", help="Start (included): YYYY-MM-DD or RFC 3339."),
    to: str = typer.Option(..., "--to", help="End (excluded): YYYY-MM-DD or RFC 3339."),
    out: str = typer.Option("-", "--out", help="The CSV file (- for standard output)."),
    database_url: str = DatabaseUrl,
) -> None:
    """Export a merchant's payments and refunds of a period as CSV (the columns of GET
    /v1/merchants/me/export.csv)."""
    import sys

    from centime.api.routes.reports import parse_instant
    from centime.app import open_platform
    from centime.http.problems import ProblemError
    from centime.platform.errors import Refusal
    from centime.platform.ids import parse_id
    from centime.platform.reports import export_operations

    merchant_id = parse_id("mer", merchant)
    if merchant_id is None:
        raise typer.BadParameter(f"not a merchant id: {merchant!r}")
    try:
        start, end = parse_instant(from_, "from"), parse_instant(to, "to")
    except ProblemError as bad:
        raise typer.BadParameter(bad.detail) from None
    with configured(), open_platform(database_url, "tool") as app:
        made = export_operations(app.platform, merchant_id, start, end)
        if isinstance(made, Refusal):
            typer.echo(f"error: {made.code.value}: {made.detail}", err=True)
            raise typer.Exit(1)
        if out == "-":
            for chunk in made:
                sys.stdout.write(chunk)
        else:
            with open(out, "w", encoding="utf-8", newline="") as target:
                for chunk in made:
                    target.write(chunk)
