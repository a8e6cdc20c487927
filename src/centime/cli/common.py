"""What the commands share: the database option, and configuration errors reported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from centime.app import ConfigError
from centime.store import DEFAULT_DATABASE_URL

__all__ = ["DatabaseUrl", "configured"]


DatabaseUrl = typer.Option(
    DEFAULT_DATABASE_URL,
    "--database-url",
    envvar="CENTIME_DATABASE_URL",
    help="sqlite:///path.db (default) or postgresql://user@host:port/db",
)


@contextmanager
def configured() -> Iterator[None]:
    """A setting the composition root cannot use is one line and exit 2, no traceback."""
    try:
        yield
    except ConfigError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
