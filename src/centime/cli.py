"""The ``centime`` command: thin entry points that parse, call a service and print."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import typer

from centime.limits import API_RATE_BURST, API_RATE_PER_KEY_PER_S
from centime.risk.commands import bench_risk, risk_app
from centime.store import DEFAULT_DATABASE_URL, LedgerStore

if TYPE_CHECKING:
    from centime.audit import AuditLog
    from centime.bench.api import ApiBenchResult
    from centime.clock import Clock
    from centime.openpayments import OpenPaymentsState
    from centime.platform.config import PlatformConfig
    from centime.platform.context import Platform
    from centime.risk.types import Screen
    from centime.web import WebState
    from centime.worker import Job

app = typer.Typer(
    help="centime: micropayments on an exact, fast double-entry ledger.", no_args_is_help=True
)
db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: invariants and inspection.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The tamper-evident log: verify, prove, check proofs offline, export heads, keys.",
    no_args_is_help=True,
)
audit_keys_app = typer.Typer(help="The operator's signing keys.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the operator and merchants.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(audit_app, name="audit")
audit_app.add_typer(audit_keys_app, name="keys")
app.add_typer(keys_app, name="keys")
app.add_typer(risk_app, name="risk")
web_app = typer.Typer(help="The web apps: people and their passkeys.", no_args_is_help=True)
app.add_typer(web_app, name="web")

DatabaseUrl = typer.Option(
    DEFAULT_DATABASE_URL,
    "--database-url",
    envvar="CENTIME_DATABASE_URL",
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


RISK_SCREEN_ENV = "CENTIME_RISK_SCREEN"


def risk_screen(clock: Clock) -> Screen:
    """The risk screen the servers decide with (the composition root's choice).

    ``CENTIME_RISK_SCREEN`` unset or ``engine``: the risk engine (centime.risk.engine) with
    the rules file at ``CENTIME_RISK_RULES`` and the model directory at
    ``CENTIME_RISK_MODEL`` (default: the ones shipped in the package; an unusable model
    leaves the rules deciding alone, logged, never allow-all). ``allow-all-unsafe``: every
    decision ALLOW (benchmarks of the platform's own cost, development), announced on
    stderr."""
    import logging
    from pathlib import Path

    from centime.platform.decisions import AllowAllScreen
    from centime.risk.engine import build_engine

    choice = os.environ.get(RISK_SCREEN_ENV, "engine")
    if choice == "allow-all-unsafe":
        logging.getLogger("centime.risk").warning(
            "%s=allow-all-unsafe: money moves UNSCREENED (benchmarks, development only)",
            RISK_SCREEN_ENV,
        )
        return AllowAllScreen()
    if choice != "engine":
        raise typer.BadParameter(f"{RISK_SCREEN_ENV} is engine or allow-all-unsafe")
    rules = os.environ.get("CENTIME_RISK_RULES")
    model = os.environ.get("CENTIME_RISK_MODEL")
    return build_engine(Path(rules) if rules else None, Path(model) if model else None, clock=clock)


def install_funding_providers(platform: Platform) -> list[Job]:
    """Register the sandbox funding provider as ``platform.providers["sandbox"]`` (kept when
    one is registered already), its carrier settling after the platform's configured days,
    and the sandbox payout rail (:func:`install_payout_rail`); return the worker's jobs that
    serve the money services (centime.worker.default_jobs: the provider's events every
    PROVIDER_EVENTS_INTERVAL_S, lapsed metered holds marked expired every
    HOLD_EXPIRE_INTERVAL_S, webhook delivery; the payout jobs; the referral reward pass;
    each bounded per run)."""
    from centime.providers import SandboxConfig, SandboxProvider
    from centime.worker import default_jobs

    sandbox = platform.providers.get("sandbox")
    if not isinstance(sandbox, SandboxProvider):
        days = platform.config.carrier_settlement_days
        sandbox = SandboxProvider(platform.clock, SandboxConfig(carrier_settlement_days=days))
        platform.providers[sandbox.name] = sandbox
    return default_jobs(platform, extra=[*install_payout_rail(platform), *_platform_jobs()])


def _platform_jobs() -> list[Job]:
    """The referral reward pass (rewards once the referred person's activity qualifies) and
    the settlement of spending budgets before their metered holds lapse."""
    from centime.limits import BUDGET_SETTLE_INTERVAL_S, REFERRAL_REWARD_INTERVAL_S
    from centime.platform.links import settle_due_budgets
    from centime.platform.referrals import run_reward_pass
    from centime.worker import Job

    return [
        Job("referrals.reward", REFERRAL_REWARD_INTERVAL_S, run_reward_pass),
        Job("budgets.settle", BUDGET_SETTLE_INTERVAL_S, settle_due_budgets),
    ]


def install_payout_rail(platform: Platform) -> list[Job]:
    """Register the sandbox payout rail as ``platform.providers[config.payouts.provider]``
    (kept when one is registered already) and return the payout jobs: the rail's events
    applied, payouts never acknowledged sent again (once a minute old), and the scheduled
    payouts of the day (idempotent per merchant and date: a run repeated pays nothing
    again). Each bounded per run."""
    from centime.limits import (
        PAYOUT_RECOVER_INTERVAL_S,
        PAYOUT_RUN_INTERVAL_S,
        PROVIDER_EVENTS_INTERVAL_S,
    )
    from centime.platform.payout_schedules import run_scheduled_payouts
    from centime.platform.payouts import process_payout_events, recover_payouts
    from centime.platform.sandbox_rail import DatabaseRailJournal
    from centime.providers import SandboxPayoutConfig, SandboxPayoutRail
    from centime.worker import Job

    name = platform.config.payouts.provider
    if name not in platform.providers:
        # Its records in the database: a restarted server still knows its bank accounts.
        platform.providers[name] = SandboxPayoutRail(
            platform.clock, SandboxPayoutConfig(name), DatabaseRailJournal(platform, name)
        )
    return [
        Job("payouts.events", PROVIDER_EVENTS_INTERVAL_S, process_payout_events),
        Job(
            "payouts.recover",
            PAYOUT_RECOVER_INTERVAL_S,
            lambda running: recover_payouts(running, min_age_s=60),
        ),
        Job("payouts.schedule", PAYOUT_RUN_INTERVAL_S, run_scheduled_payouts),
    ]


@app.command("serve")
def serve(
    database_url: str = DatabaseUrl,
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="The port to listen on."),
    rate_per_key: float = typer.Option(
        API_RATE_PER_KEY_PER_S, min=0.001, help="Requests per second per API key (sustained)."
    ),
    rate_burst: int = typer.Option(API_RATE_BURST, min=1, help="Requests per API key in a burst."),
    access_log: bool = typer.Option(
        False,
        help="Log a line for every request (on the request path: it costs throughput;"
        " /metrics counts requests by route and status either way).",
    ),
    worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run the worker's jobs (webhooks, hold expiry, the"
        " provider's events) in this process (the default; SQLite needs it: one process"
        " writes), or leave them to `centime worker` processes (PostgreSQL).",
    ),
) -> None:
    """Serve the HTTP API (the platform's /v1 routes, the audit log's endpoints, health and
    metrics) over the ledger, with the audit log as CENTIME_AUDIT_KEY_FILE / CENTIME_AUDIT
    say, the background loop (idempotency purge) and, unless --no-worker, the worker."""
    from centime.audit import audit_from_env
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.store import open_store

    audit = audit_from_env()
    with Ledger(open_store(database_url), audit=audit) as ledger:
        platform = Platform(
            ledger,
            ledger.clock,
            config=platform_config_from_env(),
            screen=risk_screen(ledger.clock),
        )
        _replay_risk_labels(platform)
        options = ServerOptions(
            host,
            port,
            rate_per_key,
            rate_burst,
            access_log,
            worker,
            web_key=web_key(database_url),
            trusted_proxies=trusted_proxies(),
        )
        _install_webhook_key(platform, database_url)
        _run_server(platform, audit, options)


PAYOUT_METHOD_LOCK_ENV = "CENTIME_PAYOUT_METHOD_LOCK_S"


def platform_config_from_env(lock_s: int | None = None) -> PlatformConfig:
    """The platform's settings: the defaults, with ``CENTIME_PAYOUT_METHOD_LOCK_S`` (seconds
    payouts pause after a bank-account change; default a day, or ``lock_s``: the demo's
    minute) when set, e.g. for a sandbox or the browser test."""
    import dataclasses

    from centime.platform.config import PlatformConfig

    config = PlatformConfig()
    text = os.environ.get(PAYOUT_METHOD_LOCK_ENV, "").strip() or (
        "" if lock_s is None else str(lock_s)
    )
    if not text:
        return config
    if not text.isdigit() or int(text) > 366 * 86_400:
        raise typer.BadParameter(f"{PAYOUT_METHOD_LOCK_ENV} is whole seconds, at most a year")
    payouts = dataclasses.replace(config.payouts, payout_method_lock_s=int(text))
    return dataclasses.replace(config, payouts=payouts)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    rate_per_key: float = API_RATE_PER_KEY_PER_S
    rate_burst: int = API_RATE_BURST
    access_log: bool = False
    worker: bool = True
    web_origin: str | None = None  # default: http://localhost:<port> (or CENTIME_WEB_ORIGIN)
    demo: bool = False
    web_key: bytes | None = field(default=None, repr=False)  # keys CSRF tokens (web_key())
    # Addresses whose X-Forwarded-For is believed (CENTIME_TRUSTED_PROXIES); none by default.
    trusted_proxies: tuple[str, ...] = ()

    def origin(self) -> str:
        """The web apps' origin, which passkeys are bound to (WebAuthn refuses IP
        addresses as RP ids: a loopback server is reached as localhost)."""
        import os

        chosen = self.web_origin or os.environ.get("CENTIME_WEB_ORIGIN")
        if chosen:
            return chosen.rstrip("/")
        host = "localhost" if self.host in ("127.0.0.1", "::1", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"


def web_state_for(platform: Platform, options: ServerOptions) -> WebState:
    """The web apps' state: the WebAuthn relying party of the origin, cookies marked Secure
    (browsers keep Secure cookies of http://localhost too), the sign-in throttle."""
    import time

    from centime.auth.passkeys import RelyingParty
    from centime.auth.sessions import LoginThrottle
    from centime.web import WebState

    origin = options.origin()
    state = WebState(
        platform,
        RelyingParty.for_origin(origin),
        LoginThrottle(time.monotonic),
        demo=options.demo,
        origin=origin,
    )
    if options.web_key is not None:
        state.csrf_key = options.web_key
    return state


WEB_KEY_ENV = "CENTIME_WEB_KEY"
WEB_KEY_FILE_ENV = "CENTIME_WEB_KEY_FILE"
TRUSTED_PROXIES_ENV = "CENTIME_TRUSTED_PROXIES"


def web_key(database_url: str) -> bytes:
    """The web apps' secret (it keys CSRF tokens): CENTIME_WEB_KEY (base64 of 32 bytes) or
    the file CENTIME_WEB_KEY_FILE names; on SQLite without either, the file
    ``<database>.web-key`` beside the database (made, mode 0600, when missing); on
    PostgreSQL without either, a key derived (HKDF) from the webhook secrets' key, which
    every process shares already."""
    from pathlib import Path

    from centime.keyfile import derive_key, key_from_env
    from centime.store.migrate import sqlalchemy_url

    url = database_url if "://" in database_url else f"sqlite:///{database_url}"
    default = None
    if url.startswith("sqlite:///"):
        default = Path(f"{sqlalchemy_url(url).removeprefix('sqlite:///')}.web-key")
    try:
        key = key_from_env(WEB_KEY_ENV, WEB_KEY_FILE_ENV, default)
        shared = (
            None if key else key_from_env("CENTIME_WEBHOOK_KEY", "CENTIME_WEBHOOK_KEY_FILE", None)
        )
    except RuntimeError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    if key is None and shared is not None:
        key = derive_key(shared, "centime web csrf v1")
    if key is None:
        typer.echo(f"error: the web apps need {WEB_KEY_ENV} or {WEB_KEY_FILE_ENV}", err=True)
        raise typer.Exit(2)
    return key


def trusted_proxies() -> tuple[str, ...]:
    """CENTIME_TRUSTED_PROXIES: the comma-separated addresses or CIDR networks of the
    reverse proxies whose X-Forwarded-For (and -Proto) the server believes. Unset: none, and
    every limit per client address counts the connection's own address (a client cannot
    name itself another address to escape them)."""
    import ipaddress

    text = os.environ.get(TRUSTED_PROXIES_ENV, "").strip()
    found = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise typer.BadParameter(f"{TRUSTED_PROXIES_ENV}: {item!r} is no address") from None
    return tuple(found)


def open_payments_for(platform: Platform, options: ServerOptions) -> OpenPaymentsState:
    """The Open Payments servers' state: their URLs are under the web apps' origin
    (CENTIME_WEB_ORIGIN behind a proxy: wallet addresses must be the public URLs)."""
    from centime.openpayments import OpenPaymentsState, Urls

    return OpenPaymentsState(platform, Urls(options.origin()))


def _install_webhook_key(platform: Platform, database_url: str) -> None:
    """The key that encrypts webhook secrets at rest: CENTIME_WEBHOOK_KEY (base64 of 32
    bytes) or the file CENTIME_WEBHOOK_KEY_FILE names; on SQLite without either, the file
    ``<database>.webhook-key`` beside the database (made, mode 0600, when missing). On
    PostgreSQL one of the two must be set (every process needs the same key). Likewise the
    instrument fingerprints' key (CENTIME_INSTRUMENT_KEY, CENTIME_INSTRUMENT_KEY_FILE,
    ``<database>.instrument-key``). Also where
    webhooks may go: CENTIME_WEBHOOK_ALLOW_HTTP and CENTIME_WEBHOOK_ALLOW_PRIVATE
    (centime.platform.webhook_targets; public https only when neither is set)."""
    from pathlib import Path

    from centime.platform.instruments import install_instrument_key, instrument_key_from_env
    from centime.platform.webhook_targets import install_target_policy, policy_from_env
    from centime.platform.webhooks import install_secret_box, secret_box_from_env
    from centime.store.migrate import sqlalchemy_url

    base = None
    url = database_url if "://" in database_url else f"sqlite:///{database_url}"
    if url.startswith("sqlite:///"):
        base = sqlalchemy_url(url).removeprefix("sqlite:///")
    try:
        install_target_policy(platform, policy_from_env())
        install_secret_box(
            platform, secret_box_from_env(None if base is None else Path(f"{base}.webhook-key"))
        )
        # The same for instrument fingerprints (centime.platform.instruments; the migration
        # to 0012_card_tokens reads the same file).
        install_instrument_key(
            platform,
            instrument_key_from_env(None if base is None else Path(f"{base}.instrument-key")),
        )
    except (RuntimeError, ValueError) as missing:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(2) from None


def _run_server(platform: Platform, audit: AuditLog | None, options: ServerOptions) -> None:
    """The composition root of a running server: providers, background loop, worker, HTTP
    app."""
    import uvicorn

    from centime.api.background import BackgroundLoop, background_tasks
    from centime.server import create_app
    from centime.worker import Worker

    jobs = install_funding_providers(platform)
    loop = BackgroundLoop(platform, background_tasks())
    loop.start()
    worker = Worker(platform, jobs) if options.worker else None
    if worker is not None:
        worker.start()
    try:
        app_ = create_app(
            platform,
            audit,
            rate_per_s=options.rate_per_key,
            rate_burst=options.rate_burst,
            web=web_state_for(platform, options),
            open_payments=open_payments_for(platform, options),
        )
        # Forwarded headers only from the configured proxies (uvicorn would otherwise trust
        # 127.0.0.1's: on loopback any client could pick its own address).
        proxies = list(options.trusted_proxies)
        uvicorn.run(
            app_,
            host=options.host,
            port=options.port,
            log_level="info",
            access_log=options.access_log,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
    finally:
        if worker is not None:
            worker.stop()
        loop.stop()


@app.command("worker")
def worker_command(
    database_url: str = DatabaseUrl,
    lease_s: float = typer.Option(300.0, min=5.0, max=3600.0, help="A job's lease."),
) -> None:
    """Run the periodic jobs (webhook delivery and retries, hold expiry, the funding
    provider's events) until SIGTERM or SIGINT, each under a lease in the database so that
    several workers never run one job at once. On SQLite the server runs them itself (one
    process writes the file): use this with PostgreSQL and `centime serve --no-worker`."""
    import logging

    from centime.audit import audit_from_env
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.store import open_store
    from centime.store.sqlite import SqliteWriterBusyError
    from centime.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        with Ledger(open_store(database_url), audit=audit_from_env()) as ledger:
            platform = Platform(ledger, ledger.clock, screen=risk_screen(ledger.clock))
            _install_webhook_key(platform, database_url)
            worker = Worker(platform, install_funding_providers(platform), lease_s=lease_s)
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
    from centime.audit import audit_from_env
    from centime.auth import NewKey, create_key, parse_scopes
    from centime.ledger import Ledger
    from centime.platform.chart import OPERATOR
    from centime.platform.context import Platform
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
        typer.echo(
            "error: a server is writing this database; create the key through the"
            " API (POST /v1/api-keys) or stop the server first",
            err=True,
        )
        raise typer.Exit(1) from None
    try:
        # The audit log as serve runs it: every committed group is in the log.
        with Ledger(store, audit=audit_from_env()) as ledger:
            platform = Platform(ledger, ledger.clock)
            kind: Literal["operator", "merchant"] = "operator" if operator else "merchant"
            result = platform.execute(create_key(platform, kind, owner_id, name, wanted))
    except SqliteWriterBusyError:
        typer.echo(
            "error: a server is writing this database; create the key through the"
            " API (POST /v1/api-keys) or stop the server first",
            err=True,
        )
        raise typer.Exit(1) from None
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
    from centime.auth.passkeys import Role, UserKind, create_enrollment
    from centime.ledger import Ledger
    from centime.platform.chart import OPERATOR
    from centime.platform.context import Platform
    from centime.platform.errors import Refusal
    from centime.store import open_store

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo("role must be admin or analyst", err=True)
        raise typer.Exit(2) from None
    with Ledger(open_store(database_url)) as ledger:
        platform = Platform(ledger, ledger.clock)
        made = platform.execute(
            create_enrollment(platform, UserKind.OPERATOR, OPERATOR, name, chosen)
        )
    if isinstance(made, Refusal):
        typer.echo(f"{made.code.value}: {made.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{origin.rstrip('/')}/enroll/{made}")
    typer.echo("(shown once: send it to the person)", err=True)


@app.command("demo")
def demo(
    database: str = typer.Option("demo.db", "--database", help="The SQLite file (recreated)."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="The port to listen on."),
) -> None:
    """The platform on a fresh SQLite file with a small seeded world (merchants, customers,
    payments, a refund, a hold, a carrier top-up), served until Ctrl-C; prints the URL and
    the demo's API keys."""
    import time
    from pathlib import Path

    from rich.console import Console

    from centime.audit import AuditLog
    from centime.audit.sth import generate_key_file
    from centime.demo import DEMO_PAYOUT_METHOD_LOCK_S, build_demo_world, print_demo
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.store.sqlite import SqliteStore

    path = Path(database)
    leftovers = ("-wal", "-shm", ".writer-lock", ".webhook-key", ".instrument-key", ".web-key")
    for leftover in (path, *(Path(f"{path}{s}") for s in leftovers)):
        leftover.unlink(missing_ok=True)
    key_file = Path(f"{path}.audit-key.pem")
    key_file.unlink(missing_ok=True)
    # The demo operator's head-signing key, made for this run (mode 0600, never printed).
    audit = AuditLog(generate_key_file(key_file, time.time_ns()))
    with Ledger(SqliteStore.open(path), audit=audit) as ledger:
        platform = Platform(
            ledger,
            ledger.clock,
            screen=risk_screen(ledger.clock),
            config=platform_config_from_env(DEMO_PAYOUT_METHOD_LOCK_S),
        )
        _install_webhook_key(platform, str(path))
        world = build_demo_world(platform)
        print_demo(platform, world, f"http://{host}:{port}", Console())
        options = ServerOptions(
            host, port, demo=True, web_key=web_key(str(path)), trusted_proxies=trusted_proxies()
        )
        _run_server(platform, audit, options)


def _replay_risk_labels(platform: Any) -> None:
    """The risk engine's features live in process: at start it is told the labels of the
    last 30 days from the label store (docs/risk-operations.md)."""
    from centime.platform.risk_labels import replay_labels

    told = replay_labels(platform)
    if told:
        typer.echo(f"risk engine: {told} recent labels replayed", err=True)


@risk_app.command("label")
def risk_label(
    file_name: str = typer.Argument(..., metavar="FILE.csv", help="Labelled CSV."),
    source: str = typer.Option("import", help="chargeback, dispute or import."),
    database_url: str = DatabaseUrl,
) -> None:
    """Import labels into the label store: every row of FILE (the labelled-events format:
    timestamp, type, amount, asset, payer, payee, label; optional ``arrived``, the time the
    label became known, default now; optional ``id``, default a digest of the row), fraud
    for label 1, not_fraud for 0. Idempotent: a row imported twice is stored once. A server
    counts them in its features from its next start (POST /v1/risk/labels: at once)."""
    from pathlib import Path

    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.platform.errors import Refusal
    from centime.platform.risk_labels import import_labels
    from centime.store import open_store

    with Ledger(open_store(database_url)) as ledger:
        platform = Platform(ledger, ledger.clock)
        try:
            result = import_labels(platform, Path(file_name), source)
        except (ValueError, OSError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
    if isinstance(result, Refusal):
        typer.echo(f"error: {result.detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{result.new:,} labels recorded, {result.duplicates:,} already there")


@risk_app.command("export-labels")
def risk_export_labels(
    out: str = typer.Option("-", "--out", help="The CSV file to write ('-': stdout)."),
    database_url: str = DatabaseUrl,
) -> None:
    """Write every case an analyst labelled, as the labelled-events CSV training and
    backtests read (timestamp,type,amount,asset,payer,payee,device,ip,instrument,label)."""
    import sys

    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.platform.review import export_labels
    from centime.store import open_store

    with Ledger(open_store(database_url)) as ledger:
        platform = Platform(ledger, ledger.clock)
        if out == "-":
            count = export_labels(platform, sys.stdout)
        else:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = export_labels(platform, handle)
    typer.echo(f"{count} labelled events written", err=True)


@app.command("simulate")
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

    from centime.clock import FakeClock
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.providers import SandboxProvider
    from centime.simulate import Driver, read_labelled_csv
    from centime.store import open_store

    if events is not None:
        source = read_labelled_csv(open(events, encoding="utf-8", newline=""))  # noqa: SIM115
    else:
        source = _population(days, seed)
    first = next(source, None)
    start_ns = first[0].timestamp_ns if first is not None else time.time_ns()
    clock = FakeClock(start_ns)
    with Ledger(open_store(database_url), clock) as ledger:
        platform = Platform(ledger, clock, screen=risk_screen(clock))
        install_funding_providers(platform)
        sandbox = platform.providers["sandbox"]
        if not isinstance(sandbox, SandboxProvider):
            raise typer.BadParameter("simulate funds through the sandbox provider")
        driver = Driver(platform, sandbox, clock, kyc_tier=kyc_tier)
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


@app.command("tour")
def tour(
    database: str = typer.Option("tour.db", "--database", help="The SQLite file (recreated)."),
) -> None:
    """A short tour of the ledger itself: top-up, micropayments, a metered hold, a refused
    overdraft, the audit log verified."""
    from pathlib import Path

    from centime.tour import run_demo

    if not run_demo(Path(database)):
        raise typer.Exit(1)


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
) -> None:
    """Payments per second through `centime serve` on SQLite over loopback, in the
    production configuration (risk engine, audit log, a published fee schedule) and with the
    screen off: single payments (p50/p99 latency) and the batch endpoint. Exits 1 if a
    database afterwards does not hold exactly the payments answered as created, or the
    ledger check fails."""
    from centime.bench.api import SCREEN_ENGINE, SCREEN_OFF, ApiBenchConfig, run_api_bench

    screens = (SCREEN_ENGINE, SCREEN_OFF) if screen_off else (SCREEN_ENGINE,)
    config = ApiBenchConfig(
        duration_s, clients, batch_clients, batch_size, customers, runs, audit, webhook, screens
    )
    result = run_api_bench(config, progress=lambda line: typer.echo(line, err=True))
    for run in result.runs:
        typer.echo(
            f"{run.screen:>16} {run.kind:>6}: {run.payments_per_s:>10,.0f} payments/s"
            f"  {run.requests_per_s:>8,.0f} requests/s  p50 {run.latency_ms_p50:7.2f} ms"
            f"  p99 {run.latency_ms_p99:7.2f} ms  failures {run.failures or 0}"
            + (f"  errors {run.errors}" if run.errors else "")
            + (f"\n        first failure: {run.sample_failure}" if run.sample_failure else "")
        )
    _echo_api_medians(result)
    for screen in screens:
        violations = result.ledger_violations.get(screen, [])
        typer.echo(
            f"{screen}: payments answered created: {result.payments_created(screen):,}; stored:"
            f" {result.payments_stored.get(screen, 0):,}; ledger check: "
            + ("passed" if not violations else "; ".join(violations[:3]))
        )
    if not result.consistent:
        raise typer.Exit(1)


def _echo_api_medians(result: ApiBenchResult) -> None:
    from centime.bench.api import SCREEN_ENGINE, SCREEN_OFF

    config = result.config
    pricing = "pricing on" + (", webhook subscribed" if config.webhook else "")
    names = {
        SCREEN_ENGINE: f"production (risk engine, audit {'on' if config.audit else 'off'},"
        f" {pricing})",
        SCREEN_OFF: "screen off (allow-all-unsafe, the rest the same)",
    }
    for screen in config.screens:
        typer.echo(f"{names[screen]}, medians of {config.runs}:")
        for kind in ("single", "batch"):
            clients = config.clients if kind == "single" else config.batch_clients
            typer.echo(
                f"  {kind:>6}: {result.median(kind, 'payments_per_s', screen):>10,.0f}"
                f" payments/s, p50 {result.median(kind, 'latency_ms_p50', screen):.2f} ms,"
                f" p99 {result.median(kind, 'latency_ms_p99', screen):.2f} ms ({clients} clients)"
            )
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


# --------------------------------------------------------------------- audit (docs/audit.md)

AuditKeyFile = typer.Option(
    ...,
    "--key-file",
    envvar="CENTIME_AUDIT_KEY_FILE",
    help="The operator's private signing key (PEM, mode 0600).",
)


AuditAnchors = typer.Option(
    [], "--anchor", help="An exported head (JSON) to check the log against; repeatable."
)


def _emit(document: object, out: str = "-") -> None:
    import json

    text = json.dumps(document, indent=2)
    if out == "-":
        typer.echo(text)
    else:
        from pathlib import Path

        Path(out).write_text(text + "\n", encoding="utf-8")


def _audit_document(
    database_url: str, produce: Callable[[LedgerStore], dict[str, Any]]
) -> dict[str, Any]:
    """``produce(store)``, with the store closed after; a missing head, transfer or an
    impossible proof is a clear error and exit 1."""
    from centime.audit import NotFoundError, ProofError
    from centime.store import open_store

    store = open_store(database_url)
    try:
        return produce(store)
    except (NotFoundError, ProofError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()


@audit_app.command("verify")
def audit_verify(
    database_url: str = DatabaseUrl,
    keys: str | None = typer.Option(
        None, "--keys", help="Trusted keyring JSON (default: the keys the store publishes)."
    ),
    anchor: list[str] = AuditAnchors,
    show_all: bool = typer.Option(False, "--all", help="List every problem, not the first."),
) -> None:
    """Recompute the tree, the chain and the state from the store; check every signed head.
    Exit 1 at the first problem, naming its position."""
    from centime.audit import Keyring, SignedTreeHead, verify_log
    from centime.audit.service import read_json
    from centime.store import open_store

    keyring = Keyring.from_json(read_json(keys)) if keys else None
    anchors = []
    for path in anchor:
        document = read_json(path)
        anchors.append(SignedTreeHead.from_json(document.get("head", document)))
    store = open_store(database_url)
    try:
        with store.audit_reader() as fetch:
            report = verify_log(fetch, keyring=keyring, anchors=anchors)
    finally:
        store.close()
    for problem in report.problems if show_all else report.problems[:1]:
        typer.echo(f"PROBLEM {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(
        f"audit ok: {report.transfers} transfers in {report.batches} batches, tree size"
        f" {report.tree_size}, root {report.root_hash.hex()}, {report.heads} signed heads,"
        f" {report.accounts} accounts match the log"
    )


@audit_app.command("prove")
def audit_prove(
    transfer_id: int = typer.Argument(..., min=1, max=2**63 - 1),
    tree_size: int | None = typer.Option(
        None,
        "--tree-size",
        min=1,
        max=2**63 - 1,
        help="Prove against this tree size [default: the latest signed head's].",
    ),
    database_url: str = DatabaseUrl,
) -> None:
    """Print the inclusion proof of a transfer with the signed head it verifies against."""
    from centime.audit.service import inclusion_document

    _emit(_audit_document(database_url, lambda s: inclusion_document(s, transfer_id, tree_size)))


@audit_app.command("prove-consistency")
def audit_prove_consistency(
    first: int = typer.Argument(..., min=0, max=2**63 - 1),
    second: int | None = typer.Option(
        None,
        "--second",
        min=0,
        max=2**63 - 1,
        help="The newer tree size [default: the latest signed head's].",
    ),
    database_url: str = DatabaseUrl,
) -> None:
    """Print the consistency proof from tree size FIRST to the newer tree."""
    from centime.audit.service import consistency_document

    _emit(_audit_document(database_url, lambda s: consistency_document(s, first, second)))


@audit_app.command("check-proof")
def audit_check_proof(
    proof: str = typer.Argument(
        ..., help="The proof JSON (from `audit prove` or the API); - reads standard input."
    ),
    keys: str = typer.Option(..., "--keys", help="The operator's published keyring JSON."),
    head: str | None = typer.Option(
        None, "--head", help="The signed head JSON [default: the proof document's]."
    ),
    old_head: str | None = typer.Option(
        None, "--old-head", help="For a consistency proof: the older signed head JSON."
    ),
) -> None:
    """Verify a proof offline, from the signed head and the public keys alone. Exit 1 if it
    does not verify, 2 for a fork (two signed heads no single log can have)."""
    from centime.audit import Keyring
    from centime.audit.service import check_proof, read_json

    def head_of(path: str | None) -> dict[str, Any] | None:
        if path is None:
            return None
        document = read_json(path)
        if not isinstance(document, dict):
            raise typer.BadParameter(f"{path}: not a JSON object")
        found: dict[str, Any] = document.get("head", document)
        return found

    result = check_proof(
        read_json(proof), Keyring.from_json(read_json(keys)), head_of(head), head_of(old_head)
    )
    if not result.ok:
        typer.echo(f"INVALID: {result.message}", err=True)
        raise typer.Exit(2 if result.fork else 1)
    typer.echo(f"ok: {result.message}")
    if result.transfer is not None:
        typer.echo(f"transfer: {result.transfer}")


@audit_app.command("export-head")
def audit_export_head(
    database_url: str = DatabaseUrl,
    out: str = typer.Option("-", "--out", help="A file to write, or - for standard output."),
    webhook: str | None = typer.Option(
        None, "--webhook", help="Also POST the document to this URL (JSON)."
    ),
) -> None:
    """Export the latest signed head and the public keys, for others to keep a copy of: a
    later head not consistent with it is a detected fork."""
    from centime.audit.service import export_document

    document = _audit_document(database_url, export_document)
    _emit(document, out)
    if webhook:
        import httpx

        try:
            response = httpx.post(webhook, json=document, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPError as error:
            typer.echo(f"error: webhook failed: {error}", err=True)
            raise typer.Exit(1) from None


@audit_keys_app.command("rotate")
def audit_keys_rotate(key_file: str = AuditKeyFile, database_url: str = DatabaseUrl) -> None:
    """Make a new signing key (the first one if KEY_FILE does not exist), endorsed by the old
    one and published; old heads keep verifying under the old public key."""
    from pathlib import Path

    from centime.audit import AuditKeyError
    from centime.audit.service import rotate_key
    from centime.store import open_store

    store = open_store(database_url)
    try:
        published = rotate_key(store, Path(key_file))
    except AuditKeyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"new signing key {published.key_id.hex()} published")


@audit_keys_app.command("export")
def audit_keys_export(database_url: str = DatabaseUrl) -> None:
    """Print every published public key (the keyring JSON of the well-known URL)."""
    from centime.audit import AuditReader
    from centime.store import open_store

    store = open_store(database_url)
    try:
        with store.audit_reader() as fetch:
            keyring = AuditReader(fetch).keyring()
    finally:
        store.close()
    _emit(keyring.to_json())


report_app = typer.Typer(help="Reports: the daily reconciliation.", no_args_is_help=True)
app.add_typer(report_app, name="report")


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
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.platform.reports import reconcile
    from centime.store import open_store
    from centime.wire import Reconciliation

    # Reads only: the ledger's writer is never asked for anything.
    with Ledger(open_store(database_url)) as ledger:
        platform = Platform(ledger, ledger.clock)
        install_funding_providers(platform)
        done = [_out(reconcile(platform, p, day)) for p in statements(platform.providers)]
    return Reconciliation(
        date=day.isoformat(), differences=sum(len(p.differences) for p in done), providers=done
    )


@app.command("export")
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
    from centime.http.problems import ProblemError
    from centime.ledger import Ledger
    from centime.platform.context import Platform
    from centime.platform.errors import Refusal
    from centime.platform.ids import parse_id
    from centime.platform.reports import export_operations
    from centime.store import open_store

    merchant_id = parse_id("mer", merchant)
    if merchant_id is None:
        raise typer.BadParameter(f"not a merchant id: {merchant!r}")
    try:
        start, end = parse_instant(from_, "from"), parse_instant(to, "to")
    except ProblemError as bad:
        raise typer.BadParameter(bad.detail) from None
    with Ledger(open_store(database_url)) as ledger:
        made = export_operations(Platform(ledger, ledger.clock), merchant_id, start, end)
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


# The risk engine: `centime risk events|train|backtest` (centime.risk.commands) beside
# `centime risk export-labels` above, and `centime bench risk`.
bench_app.command("risk")(bench_risk)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
