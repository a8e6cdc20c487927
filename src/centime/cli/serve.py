"""``centime serve``: the HTTP API, the web apps and the worker, over one composed platform."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from centime.limits import API_RATE_BURST, API_RATE_PER_KEY_PER_S

from .common import DatabaseUrl, configured

if TYPE_CHECKING:
    from litestar import Litestar

    from centime.app import App
    from centime.http.ratelimit import RateStore
    from centime.openpayments import OpenPaymentsState
    from centime.platform.context import Platform
    from centime.web import WebState

__all__ = [
    "ServerOptions",
    "process_app",
    "run_processes",
    "run_server",
    "serve",
    "settle_heap",
    "trusted_proxies",
    "web_key",
]

WORKERS_MAX = 64
# What `serve --workers N` hands each API process (JSON; no secret: each process reads its
# keys from the environment as a single server does).
SERVE_OPTIONS_ENV = "CENTIME_SERVE_PROCESS_OPTIONS"
# The cyclic collector's youngest-generation threshold while serving (CPython's default is
# 700 allocations). A request allocates hundreds of short-lived, acyclic objects (freed by
# reference counting anyway): at 700 the collector ran every request or two.
SERVE_GC_GEN0_THRESHOLD = 20_000


def settle_heap() -> None:
    """Once the app is built, before serving: collect what starting left, then move every
    object alive (the app, the platform, the risk engine's rules and model, the caches)
    into the collector's permanent generation, and collect the young generation less
    often. Left as they were, each full collection traversed the whole startup heap while
    holding the GIL: 0.3-0.9 s pauses under load, every request waiting (the single
    payments' p99; docs/benchmarks.md). Garbage made while serving is still collected."""
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(SERVE_GC_GEN0_THRESHOLD, gen1, gen2)


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
    workers: int = typer.Option(
        1,
        min=1,
        max=WORKERS_MAX,
        help="API processes serving one port (PostgreSQL only; CENTIME_REDIS_URL makes them"
        " share rate limits and the risk engine's velocity counters, docs/scaling.md).",
    ),
) -> None:
    """Serve the HTTP API (the platform's /v1 routes, the audit log's endpoints, health and
    metrics) over the ledger, with the audit log as CENTIME_AUDIT_KEY_FILE / CENTIME_AUDIT
    say and, unless --no-worker, the worker running every background job (the idempotency
    purge too; with --workers, each job runs once at a time across the processes under its
    lease)."""
    from centime.app import Settings, open_platform
    from centime.audit import audit_from_env

    audit = audit_from_env()
    with configured():
        settings = Settings.from_env()
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
    if workers > 1:
        run_processes(database_url, options, workers)
        return
    with (
        configured(),
        open_platform(database_url, "service", settings=settings, audit=audit) as app,
    ):
        run_server(app, options)


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


def web_state_for(
    platform: Platform, options: ServerOptions, rate_store: RateStore | None = None
) -> WebState:
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
        LoginThrottle(time.monotonic, store=rate_store),
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


def http_app(app: App, options: ServerOptions) -> Litestar:
    """The ASGI app over ``app``'s platform, as ``options`` configure it."""
    from centime.server import create_app

    platform = app.platform
    return create_app(
        platform,
        app.audit,
        rate_per_s=options.rate_per_key,
        rate_burst=options.rate_burst,
        web=web_state_for(platform, options, app.rate_store),
        open_payments=open_payments_for(platform, options),
        rate_store=app.rate_store,
    )


def uvicorn_settings(options: ServerOptions) -> dict[str, Any]:
    """uvicorn's settings for ``options``. Forwarded headers only from the configured
    proxies (uvicorn would otherwise trust 127.0.0.1's: on loopback any client could pick
    its own address)."""
    proxies = list(options.trusted_proxies)
    return {
        "host": options.host,
        "port": options.port,
        "log_level": "info",
        "access_log": options.access_log,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


def run_server(app: App, options: ServerOptions) -> None:
    """Serve ``app``'s platform over HTTP until stopped, its jobs run by a worker thread
    unless ``options`` leave them to `centime worker` processes."""
    import uvicorn

    from centime.worker import Worker

    if app.labels_replayed:
        typer.echo(f"risk engine: {app.labels_replayed} recent labels replayed", err=True)
    worker = Worker(app.platform, app.jobs) if options.worker else None
    if worker is not None:
        worker.start()
    try:
        served = http_app(app, options)
        settle_heap()
        uvicorn.run(served, **uvicorn_settings(options))
    finally:
        if worker is not None:
            worker.stop()


def run_processes(database_url: str, options: ServerOptions, workers: int) -> None:
    """``workers`` API processes on one port (uvicorn's supervisor binds it once; each
    process builds its platform with the composition root, :func:`process_app`). PostgreSQL
    only: on SQLite one process writes."""
    import json

    import uvicorn

    if not database_url.startswith(("postgresql://", "postgres://")):
        typer.echo("error: --workers needs PostgreSQL (on SQLite one process writes)", err=True)
        raise typer.Exit(2)
    shared = {
        "database_url": database_url,
        "host": options.host,
        "port": options.port,
        "rate_per_key": options.rate_per_key,
        "rate_burst": options.rate_burst,
        "access_log": options.access_log,
        "worker": options.worker,
    }
    os.environ[SERVE_OPTIONS_ENV] = json.dumps(shared)
    settings = uvicorn_settings(options)
    uvicorn.run("centime.cli.serve:process_app", factory=True, workers=workers, **settings)


def process_app() -> Litestar:
    """One API process of ``serve --workers N`` (uvicorn calls this in each): the platform
    by the composition root, its worker thread (the jobs' leases keep each job to one
    process at a time), both closed when the process shuts down."""
    import json
    from contextlib import ExitStack

    from centime.app import Settings, open_platform
    from centime.audit import audit_from_env
    from centime.worker import Worker

    shared = json.loads(os.environ[SERVE_OPTIONS_ENV])
    database_url = str(shared.pop("database_url"))
    options = ServerOptions(
        **shared, web_key=web_key(database_url), trusted_proxies=trusted_proxies()
    )
    stack = ExitStack()
    app = stack.enter_context(
        open_platform(database_url, "service", settings=Settings.from_env(), audit=audit_from_env())
    )
    if options.worker:
        worker = Worker(app.platform, app.jobs)
        worker.start()
        stack.callback(worker.stop)
    served = http_app(app, options)
    served.on_shutdown.append(stack.close)
    settle_heap()
    return served
