"""``centime worker``: the background jobs, under leases, in a process of their own."""

from __future__ import annotations

import typer

from .common import DatabaseUrl, configured

__all__ = ["worker_command"]


def worker_command(
    database_url: str = DatabaseUrl,
    lease_s: float = typer.Option(300.0, min=5.0, max=3600.0, help="A job's lease."),
) -> None:
    """Run the periodic jobs (webhook delivery and retries, hold expiry, the funding
    provider's events, the API's housekeeping) until SIGTERM or SIGINT, each under a lease
    in the database so that several workers never run one job at once. On SQLite the
    server runs them itself (one process writes the file): use this with PostgreSQL and
    `centime serve --no-worker`."""
    import logging

    from centime.app import open_platform
    from centime.audit import audit_from_env
    from centime.store.sqlite import SqliteWriterBusyError
    from centime.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        with configured(), open_platform(database_url, "service", audit=audit_from_env()) as app:
            worker = Worker(app.platform, app.jobs, lease_s=lease_s)
            typer.echo(
                f"worker {worker.holder}: jobs {', '.join(j.name for j in worker.jobs)}", err=True
            )
            worker.run_forever()
    except SqliteWriterBusyError:
        typer.echo(
            "error: a server is writing this SQLite database and runs the jobs itself;"
            " a separate worker needs PostgreSQL",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo("worker stopped", err=True)
