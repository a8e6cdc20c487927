"""``centime bench api``: payments per second through the HTTP API, over loopback.

The production configuration by default: the risk engine screens every payment, the audit
log is on, a published fee schedule prices every payment (optionally the merchant also has a
webhook endpoint subscribed to ``payment.created``), and, in the same run, the same workload
with the screen off (``CENTIME_RISK_SCREEN=allow-all-unsafe``), so that what the screen costs
is a ratio measured side by side. Per configuration, a fresh SQLite database is seeded
through the services (a merchant with a key, funded customers who granted it mandates, the
fee schedule), then ``centime serve`` starts on it in a subprocess, as a user would run it,
and this process drives it with the loopback load generator (:mod:`centime.bench.http_load`):

- single: ``clients`` closed-loop clients, each posting one payment (``POST /v1/payments``,
  its own ``Idempotency-Key``) and waiting for the answer before the next;
- batch: ``batch_clients`` clients posting ``POST /v1/payments/batch`` with ``batch_size``
  payments each.

Each measurement runs for ``duration_s``; both servers run throughout and the measurements
alternate (run 1: single and batch on each configuration, then run 2, ...), so that both
configurations see the same machine; the report gives the median of the ``runs``.
Afterwards the servers are stopped and each database checked: the ledger check must pass and
the payments stored must be exactly the ones the server answered as created.

On PostgreSQL (``store="postgres"``), each configuration gets a fresh database, created on
the server of ``postgres_url`` and dropped at the end, and is measured with each of
``processes`` API processes, side by side in the same run (1 and 2 alternate like the
screens do), so the scale-out gain is a ratio. N processes are N ``centime serve`` commands on
N ports, the clients spread over them in turn as a proxy in front of them would: with
``centime serve --workers N`` the processes share one listening socket and the first to wake
accepts every connection waiting (asyncio accepts in a loop), so both batch clients' keep-alive
connections landed on one process and the other sat idle (top, 2026-12-08: one process at
90%, the other at 4%). With more than one process the servers share the rate limits and the
velocity counters through Redis at ``redis_url`` (under a prefix of their own), as a
deployment of several processes must.
"""

from __future__ import annotations

import base64
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from centime.ledger import Ledger
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.providers import SandboxConfig, SandboxProvider
from centime.seed import World, seed_world
from centime.store import open_store

from .databases import CONNECT_TIMEOUT_S
from .http_load import LoadResult, build_request, run_load

__all__ = ["ApiBenchConfig", "ApiBenchResult", "ApiRun", "run_api_bench"]

HOST: Final = "127.0.0.1"
READY_WAIT_MAX_S: Final = 60.0
STOP_WAIT_MAX_S: Final = 30.0
PAYMENT_AMOUNT: Final = "0.001"  # a tenth of a cent per payment
# The risk screens compared (CENTIME_RISK_SCREEN): production first, then the screen off.
SCREEN_ENGINE: Final = "engine"
SCREEN_OFF: Final = "allow-all-unsafe"
SCREENS: Final = (SCREEN_ENGINE, SCREEN_OFF)
# The default fee schedule the bench publishes (pricing on): 1.5% + 0, 1% from 1,000 USD of
# the merchant's monthly volume (the tier is looked up, and the volume row written, per unit).
FEE_TIERS: Final = (("0", 150), ("1000000000", 100))
# Rate limits are per key and the benchmark uses one merchant key: lift them for the run.
UNLIMITED_RATE: Final = 1_000_000_000
API_STORES: Final = ("sqlite", "postgres")
# The server whose fresh databases the PostgreSQL mode creates (the path names none of them).
DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class ApiBenchConfig:
    # Short by default: `make bench` runs 2 configurations x 2 kinds x 3 runs of it.
    duration_s: float = 4.0
    clients: int = 64
    batch_clients: int = 2
    batch_size: int = 8189
    customers: int = 256
    runs: int = 3
    audit: bool = True
    # The merchant has a webhook endpoint subscribed to payment.created: every payment then
    # writes its outbox event, and the server's worker fans them out (to a closed port).
    webhook: bool = False
    screens: tuple[str, ...] = SCREENS
    store: str = "sqlite"
    processes: tuple[int, ...] = (1,)  # API processes per server (PostgreSQL only beyond 1)
    postgres_url: str = DEFAULT_POSTGRES_URL
    redis_url: str = DEFAULT_REDIS_URL

    def __post_init__(self) -> None:
        if not self.screens or set(self.screens) - set(SCREENS):
            raise ValueError(f"screens are among {', '.join(SCREENS)}")
        if self.store not in API_STORES:
            raise ValueError(f"store is one of {', '.join(API_STORES)}")
        if (
            not self.processes
            or min(self.processes) < 1
            or len(set(self.processes)) != len(self.processes)
        ):
            raise ValueError("processes are distinct counts of at least 1")
        if self.store == "sqlite" and self.processes != (1,):
            raise ValueError("several API processes need PostgreSQL (one process writes SQLite)")

    @property
    def targets(self) -> list[tuple[str, int]]:
        """Every (screen, processes) measured, in the order they alternate."""
        return [(screen, n) for screen in self.screens for n in self.processes]


@dataclass(frozen=True, slots=True)
class ApiRun:
    screen: str  # CENTIME_RISK_SCREEN of the server measured
    kind: str  # "single" or "batch"
    processes: int  # API processes of the server measured
    payments_per_s: float
    requests_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    payments_created: int
    failures: dict[int, int]  # answers that were not 2xx, by status
    errors: list[str]
    sample_failure: str


@dataclass
class ApiBenchResult:
    config: ApiBenchConfig
    runs: list[ApiRun] = field(default_factory=list)
    # By (screen, processes): one database each.
    payments_stored: dict[tuple[str, int], int] = field(default_factory=dict)
    ledger_violations: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def median(
        self, kind: str, attribute: str, screen: str = SCREEN_ENGINE, processes: int = 0
    ) -> float:
        """The median over the runs of ``screen`` with ``processes`` (0: the first count)."""
        n = processes or self.config.processes[0]
        values = [
            getattr(r, attribute)
            for r in self.runs
            if (r.kind, r.screen, r.processes) == (kind, screen, n)
        ]
        return statistics.median(values) if values else float("nan")

    def ratio(
        self, kind: str, screen: str, baseline: str, processes: int = 0, base_processes: int = 0
    ) -> float:
        """Median payments/s of ``screen`` with ``processes`` over that of ``baseline`` with
        ``base_processes`` (0: the first count; nan without both)."""
        base = self.median(kind, "payments_per_s", baseline, base_processes)
        rate = self.median(kind, "payments_per_s", screen, processes)
        return rate / base if base else float("nan")

    def payments_created(self, screen: str, processes: int = 0) -> int:
        n = processes or self.config.processes[0]
        return sum(r.payments_created for r in self.runs if (r.screen, r.processes) == (screen, n))

    @property
    def consistent(self) -> bool:
        """Every database holds exactly the payments answered created, and checks."""
        return all(
            not self.ledger_violations.get(target)
            and self.payments_stored.get(target) == self.payments_created(*target)
            for target in self.config.targets
        )


# The development setting that lets webhooks go to plain http on loopback (refused by
# default: centime.platform.events.webhook_targets).
_LOOPBACK_TARGETS: Final = {
    "CENTIME_WEBHOOK_ALLOW_HTTP": "1",
    "CENTIME_WEBHOOK_ALLOW_PRIVATE": f"{HOST}/32",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _seed(database_url: str, customers: int, audit: bool, webhook_key: str | None) -> World:
    """Build the world in this process, then close the store: the server is its writer."""
    from centime.audit import AuditLog

    with Ledger(open_store(database_url), audit=AuditLog(None) if audit else None) as ledger:
        platform = Platform(ledger, ledger.clock)
        sandbox = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
        world = seed_world(platform, sandbox, customers=customers, merchants=1, funding="1000")
        _publish_fees(platform, world.asset)
        if webhook_key is not None:
            _subscribe(platform, world, webhook_key)
        return world


def _publish_fees(platform: Platform, asset: str) -> None:
    """Pricing on: a default volume fee schedule, as an operator publishes one."""
    from centime.platform.pricing.rules import FeeScheduleDoc, RuleSetDocument, TierDoc
    from centime.platform.pricing.store import publish_rules

    tiers = [TierDoc(volume_from=start, fee_bp=bp) for start, bp in FEE_TIERS]
    document = RuleSetDocument(fee_schedules=[FeeScheduleDoc(asset=asset, tiers=tiers)])
    published = platform.execute(publish_rules(platform, document, "centime bench api"))
    if not hasattr(published, "version"):
        raise RuntimeError(f"the bench's fee schedule was refused: {published}")


def _subscribe(platform: Platform, world: World, webhook_key: str) -> None:
    from centime.platform.events import (
        NewSecret,
        SecretBox,
        create_endpoint,
        install_target_policy,
        policy_from_env,
    )
    from centime.platform.events import install_secret_box as install

    install(platform, SecretBox(base64.b64decode(webhook_key)))
    install_target_policy(platform, policy_from_env(_LOOPBACK_TARGETS))
    url = f"http://{HOST}:{_free_port()}/hook"  # nothing listens: attempts fail at once
    made = platform.execute(
        create_endpoint(platform, world.merchants[0].merchant.id, url, ["payment.created"])
    )
    if not isinstance(made, NewSecret):
        raise RuntimeError(f"the bench's webhook endpoint was refused: {made}")


@contextmanager
def _server(
    database_url: str,
    port: int,
    audit: bool,
    webhook_key: str,
    screen: str,
    store_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``centime serve``, one API process; ``store_env``: what the store and several
    processes need in the environment (``_store_env``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTIME_REDIS")}
    env.update(store_env or {})
    env["CENTIME_AUDIT"] = "on" if audit else "off"
    env["CENTIME_WEBHOOK_KEY"] = webhook_key
    env.update(_LOOPBACK_TARGETS)  # the bench's endpoint: plain http on loopback
    env.pop("CENTIME_AUDIT_KEY_FILE", None)
    # The risk screen: the engine (production), or allow-all, which measures the platform's
    # own cost of screening (events, one decide_many per batch, a decision row per payment).
    env["CENTIME_RISK_SCREEN"] = screen
    command = [
        sys.executable,
        "-c",
        "from centime.cli import main; main()",
        "serve",
        "--database-url",
        database_url,
        "--host",
        HOST,
        "--port",
        str(port),
        "--rate-per-key",
        str(UNLIMITED_RATE),
        "--rate-burst",
        str(UNLIMITED_RATE),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(process, port)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_WAIT_MAX_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + READY_WAIT_MAX_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{stderr[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready in time")


class _Payments:
    """Request bodies: payments of PAYMENT_AMOUNT by the seeded customers, round robin."""

    def __init__(self, world: World) -> None:
        merchant = world.merchants[0]
        self._host = HOST
        self._auth = f"Bearer {merchant.api_key}"
        asset = ASSETS[world.asset]
        self._amount = {
            "value": str(asset.parse(PAYMENT_AMOUNT)),
            "asset": asset.code,
            "scale": asset.scale,
        }
        self._payers = [
            (format_id("cus", c.customer.id), format_id("man", c.mandates[merchant.merchant.id].id))
            for c in world.customers
        ]
        self._next = itertools.count()
        self._run = uuid.uuid4().hex[:12]

    def _item(self, n: int) -> dict[str, Any]:
        customer, mandate = self._payers[n % len(self._payers)]
        return {"customer_id": customer, "mandate_id": mandate, "amount": self._amount}

    def _headers(self, n: int) -> dict[str, str]:
        return {"Authorization": self._auth, "Idempotency-Key": f"bench-{self._run}-{n}"}

    def single(self) -> bytes:
        n = next(self._next)
        body = msgspec.json.encode(self._item(n))
        return build_request("POST", "/v1/payments", self._host, body, self._headers(n))

    def batch(self, size: int) -> Callable[[], bytes]:
        def make() -> bytes:
            first = next(self._next)
            items = [self._item(first * size + i) for i in range(size)]
            body = msgspec.json.encode({"payments": items})
            return build_request(
                "POST", "/v1/payments/batch", self._host, body, self._headers(first)
            )

        return make


class _BatchCounts(msgspec.Struct):
    created: int


def _created_in_batch(body: bytes) -> int:
    """How many payments of the batch the server answered created (its own count)."""
    return msgspec.json.decode(body, type=_BatchCounts).created


def _run(target: _Target, kind: str, load: LoadResult, created: int) -> ApiRun:
    return ApiRun(
        screen=target.screen,
        kind=kind,
        processes=target.processes,
        payments_per_s=created / load.duration_s if load.duration_s else 0.0,
        requests_per_s=load.per_s(),
        latency_ms_p50=load.latency_ms(0.50),
        latency_ms_p99=load.latency_ms(0.99),
        payments_created=created,
        failures={s: n for s, n in load.statuses.items() if not 200 <= s < 300},
        errors=load.errors[:5],
        sample_failure=load.sample_failure.decode(errors="replace"),
    )


def _measure_single(target: _Target, config: ApiBenchConfig) -> ApiRun:
    load = run_load(HOST, target.ports, target.payments.single, config.clients, config.duration_s)
    return _run(target, "single", load, load.ok)


def _measure_batch(target: _Target, config: ApiBenchConfig) -> ApiRun:
    created = 0

    def count(status: int, body: bytes) -> None:
        nonlocal created
        if 200 <= status < 300:
            created += _created_in_batch(body)

    load = run_load(
        HOST,
        target.ports,
        target.payments.batch(config.batch_size),
        config.batch_clients,
        config.duration_s,
        on_response=count,
    )
    return _run(target, "batch", load, created)


def _verify(target: _Target, result: ApiBenchResult) -> None:
    store = open_store(target.database_url)
    try:
        result.ledger_violations[target.key] = [str(v) for v in store.check()]
        with store.reader() as fetch:
            stored = int(fetch("SELECT count(*) FROM payments", ())[0][0])
        result.payments_stored[target.key] = stored
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class _Target:
    """One configuration's running server."""

    screen: str
    processes: int
    database_url: str
    ports: tuple[int, ...]  # one per API process
    payments: _Payments

    @property
    def key(self) -> tuple[str, int]:
        return (self.screen, self.processes)

    @property
    def name(self) -> str:
        return f"screen {self.screen}, {self.processes} process" + "es" * (self.processes > 1)


@contextmanager
def _fresh_postgres(server_url: str, name: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``server_url``, dropped when the block
    ends (its servers are stopped by then; FORCE ends any connection still open)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        # The server's URL names another database, maybe with options (a search_path):
        # the fresh database takes the defaults.
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}", query=""))
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database(config: ApiBenchConfig, tmp: str, stack: ExitStack, name: str) -> str:
    """A fresh database of the configured store for one target, removed with ``stack``."""
    if config.store == "sqlite":
        return f"sqlite:///{Path(tmp) / f'{name}.db'}"
    unique = f"centime_bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    return stack.enter_context(_fresh_postgres(config.postgres_url, unique))


def _store_env(
    config: ApiBenchConfig, processes: int, key: str, stack: ExitStack
) -> dict[str, str]:
    """What a server needs beyond SQLite's defaults. On PostgreSQL, the instruments' key in
    the environment (no file beside a database there). Several processes share the rate
    limits and velocity counters through Redis, under a prefix no other run uses, whose
    keys are deleted when ``stack`` closes; one process keeps them in memory (the embedded
    default)."""
    env = {"CENTIME_INSTRUMENT_KEY": key} if config.store == "postgres" else {}
    if processes > 1:
        prefix = f"centime-bench:{uuid.uuid4().hex[:12]}:"
        env["CENTIME_REDIS_URL"] = config.redis_url
        env["CENTIME_REDIS_PREFIX"] = prefix
        stack.callback(_forget_redis_keys, config.redis_url, prefix)
    return env


def _forget_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _start(
    config: ApiBenchConfig,
    tmp: str,
    stacks: tuple[ExitStack, ExitStack],
    webhook_key: str,
    progress: Callable[[str], None],
) -> list[_Target]:
    """Seed each target's database and start its server (``stacks``: the databases', the
    servers'; the databases outlive the servers, to be checked)."""
    databases, servers = stacks
    instrument_key = base64.b64encode(os.urandom(32)).decode()  # a key of its own
    targets = []
    for screen, processes in config.targets:
        database_url = _database(config, tmp, databases, f"{screen}-{processes}")
        progress(f"{screen}, {processes} process(es): seeding {config.customers} customers")
        hook = webhook_key if config.webhook else None
        world = _seed(database_url, config.customers, config.audit, hook)
        shared = _store_env(config, processes, instrument_key, databases)
        ports = []
        for _ in range(processes):
            ports.append(_free_port())
            servers.enter_context(
                _server(database_url, ports[-1], config.audit, webhook_key, screen, shared)
            )
        targets.append(_Target(screen, processes, database_url, tuple(ports), _Payments(world)))
    return targets


def run_api_bench(
    config: ApiBenchConfig, progress: Callable[[str], None] = lambda _: None
) -> ApiBenchResult:
    result = ApiBenchResult(config)
    webhook_key = base64.b64encode(os.urandom(32)).decode()
    with (
        tempfile.TemporaryDirectory(prefix="centime-bench-api-") as tmp,
        ExitStack() as databases,
        ExitStack() as servers,  # closed first: the databases outlive them
    ):
        targets = _start(config, tmp, (databases, servers), webhook_key, progress)
        for index in range(config.runs):
            for target in targets:
                run = f"run {index + 1}/{config.runs}, {target.name}"
                progress(f"{run}: single payments, {config.clients} clients")
                result.runs.append(_measure_single(target, config))
                progress(f"{run}: batches of {config.batch_size}")
                result.runs.append(_measure_batch(target, config))
        servers.close()  # stop the servers: each database has one writer
        for target in targets:
            progress(f"{target.name}: checking the ledger and the payments stored")
            _verify(target, result)
    return result
