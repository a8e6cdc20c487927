"""``centime demo``, ``centime tour`` and ``centime simulate``: the platform shown and
driven on its own data."""

from __future__ import annotations

from typing import Any

import typer

from .common import DatabaseUrl, configured

__all__ = ["demo", "simulate", "tour"]


def demo(
    database: str = typer.Option("demo.db", "--database", help="The SQLite file (recreated)."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="The port to listen on."),
) -> None:
    """The platform on a fresh SQLite file with a small seeded world (merchants, customers,
    payments, a refund, a hold, a carrier top-up, a payment held for review), served until
    Ctrl-C; prints the URL, the demo's API keys, sign-in links and the case to review. The
    risk rules are the shipped ones and the demo's review rule, written beside the database
    (unless CENTIME_RISK_RULES names a file)."""
    import dataclasses
    import time
    from pathlib import Path

    from rich.console import Console

    from centime.app import Settings, open_platform
    from centime.audit import AuditLog
    from centime.audit.sth import generate_key_file
    from centime.demo import (
        DEMO_PAYOUT_METHOD_LOCK_S,
        DEMO_SANDBOX,
        build_demo_world,
        print_demo,
        write_demo_rules,
    )
    from centime.store.sqlite import SqliteStore

    from .serve import ServerOptions, run_server, trusted_proxies, web_key

    path = Path(database)
    leftovers = ("-wal", "-shm", ".writer-lock", ".webhook-key", ".instrument-key", ".web-key")
    for leftover in (path, *(Path(f"{path}{s}") for s in leftovers)):
        leftover.unlink(missing_ok=True)
    key_file = Path(f"{path}.audit-key.pem")
    key_file.unlink(missing_ok=True)
    # The demo operator's head-signing key, made for this run (mode 0600, never printed).
    audit = AuditLog(generate_key_file(key_file, time.time_ns()))
    with configured():
        settings = Settings.from_env(DEMO_PAYOUT_METHOD_LOCK_S)
    if settings.risk_rules is None:  # the shipped rules and the demo's review rule
        rules = write_demo_rules(Path(f"{path}.risk-rules.toml"))
        settings = dataclasses.replace(settings, risk_rules=rules)
    store = SqliteStore.open(path)
    with (
        configured(),
        open_platform(
            str(path), "service", settings=settings, audit=audit, store=store, sandbox=DEMO_SANDBOX
        ) as app,
    ):
        world = build_demo_world(app.platform)
        print_demo(app.platform, world, f"http://{host}:{port}", Console(), settings.risk_rules)
        options = ServerOptions(
            host, port, demo=True, web_key=web_key(str(path)), trusted_proxies=trusted_proxies()
        )
        run_server(app, options)


def simulate(
    out: str = typer.Option(..., "--out", help="The labelled-events CSV to write."),
    days: int = typer.Option(30, min=1, max=3650, help="Days of the population's life."),
    seed: int = typer.Option(0, help="The population's random seed."),
    events: str | None = typer.Option(
        None, "--events", help="Apply this labelled CSV instead of the population simulator."
    ),
    kyc_tier: int = typer.Option(2, help="The KYC tier of parties created on first sight."),
    database_url: str = DatabaseUrl,
) -> None:
    """Drive a population through the platform's services (screened by the risk engine as
    CENTIME_RISK_SCREEN says), on a clock that follows the events, and write the labelled
    events applied to --out (docs/risk-operations.md)."""
    import itertools
    import time

    from centime.app import open_platform
    from centime.clock import FakeClock
    from centime.providers import SandboxProvider
    from centime.simulate import Driver, read_labelled_csv

    if events is not None:
        source = read_labelled_csv(open(events, encoding="utf-8", newline=""))  # noqa: SIM115
    else:
        source = _population(days, seed)
    first = next(source, None)
    start_ns = first[0].timestamp_ns if first is not None else time.time_ns()
    clock = FakeClock(start_ns)
    with configured(), open_platform(database_url, "service", clock=clock) as app:
        sandbox = app.platform.providers.funding["sandbox"]
        if not isinstance(sandbox, SandboxProvider):
            raise typer.BadParameter("simulate funds through the sandbox provider")
        driver = Driver(app.platform, sandbox, clock, kyc_tier=kyc_tier)
        with open(out, "w", encoding="utf-8", newline="") as handle:
            stream = itertools.chain([first] if first is not None else [], source)
            report = driver.run(stream, handle)
    typer.echo(report.line())


def _population(days: int, seed: int) -> Any:
    """The risk engine's population simulator (centime.risk.simulate): labelled events of
    ``days`` days, in time order."""
    from centime.risk.simulate import SimConfig
    from centime.risk.simulate import simulate as population

    return ((made.event, made.label) for made in population(SimConfig(days=days, seed=seed)))


def tour(
    database: str = typer.Option("tour.db", "--database", help="The SQLite file (recreated)."),
) -> None:
    """A short tour of the ledger itself: top-up, micropayments, a metered hold, a refused
    overdraft, the audit log verified."""
    from pathlib import Path

    from centime.tour import run_demo

    if not run_demo(Path(database)):
        raise typer.Exit(1)
