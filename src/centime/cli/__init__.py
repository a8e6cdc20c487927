"""The ``centime`` command: thin entry points that parse, call a service and print.

One module per command group; every command that needs a platform gets it from the
composition root (:mod:`centime.app`), so each reads the same configuration.
"""

from __future__ import annotations

import typer

from .audit import audit_app
from .bench import bench_app
from .db import db_app, ledger_app
from .demo import demo, simulate, tour
from .keys import keys_app, web_app
from .reports import export_command, report_app
from .risk import risk_app
from .serve import serve, trusted_proxies
from .worker import worker_command

__all__ = ["app", "main", "trusted_proxies"]

app = typer.Typer(
    help="centime: micropayments on an exact, fast double-entry ledger.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(risk_app, name="risk")
app.add_typer(web_app, name="web")
app.command("serve")(serve)
app.command("worker")(worker_command)
app.command("demo")(demo)
app.command("simulate")(simulate)
app.command("tour")(tour)
app.add_typer(report_app, name="report")
app.command("export")(export_command)


def main() -> None:
    app()
