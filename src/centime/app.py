"""The composition root: every command's platform, built one way from one configuration.

:class:`Settings` is what the environment configures (read once, by
:meth:`Settings.from_env`); :func:`open_platform` turns a database URL and the settings into
a running :class:`~centime.platform.context.Platform`, in one of two roles:

- a **service** (``centime serve``, ``centime worker``, ``centime demo``, ``centime
  simulate``): the risk engine screens, the keys (webhook secrets, instrument fingerprints,
  webhook targets) are installed, the funding provider and payout rail are registered, the
  risk labels of the last 30 days are replayed, and :attr:`App.jobs` lists the background
  jobs the worker runs under its leases (:mod:`centime.worker`);
- a **tool** (``centime keys create``, ``centime risk label``, ``centime export`` ...): the
  same configuration, nothing screened (no money moves through a tool), no keys or jobs.

A setting that cannot be read raises :class:`ConfigError`; the command line reports it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from centime.platform.config import PlatformConfig
from centime.platform.context import Platform
from centime.platform.review import NoScreen

if TYPE_CHECKING:
    from centime.audit import AuditLog
    from centime.clock import Clock
    from centime.http.ratelimit import RateStore
    from centime.providers import SandboxConfig
    from centime.risk.types import Screen
    from centime.store import LedgerStore
    from centime.worker import Job

__all__ = [
    "PAYOUT_METHOD_LOCK_ENV",
    "REDIS_URL_ENV",
    "RISK_SCREEN_ENV",
    "App",
    "ConfigError",
    "Settings",
    "install_funding_providers",
    "install_keys",
    "install_payout_rail",
    "open_platform",
    "platform_config_from_env",
    "risk_screen",
    "service_jobs",
]

RISK_SCREEN_ENV: Final = "CENTIME_RISK_SCREEN"
RISK_RULES_ENV: Final = "CENTIME_RISK_RULES"
RISK_MODEL_ENV: Final = "CENTIME_RISK_MODEL"
REDIS_URL_ENV: Final = "CENTIME_REDIS_URL"
REDIS_PREFIX_ENV: Final = "CENTIME_REDIS_PREFIX"  # one Redis for several deployments
PAYOUT_METHOD_LOCK_ENV: Final = "CENTIME_PAYOUT_METHOD_LOCK_S"
_LOCK_S_MAX: Final = 366 * 86_400

ScreenChoice = Literal["engine", "allow-all-unsafe"]
Role = Literal["service", "tool"]


class ConfigError(ValueError):
    """A setting the environment gives that cannot be used (the message names it)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the environment configures, for every command alike."""

    platform: PlatformConfig = field(default_factory=PlatformConfig)
    screen: ScreenChoice = "engine"
    risk_rules: Path | None = None  # None: the rules shipped in the package
    risk_model: Path | None = None  # None: the model shipped in the package
    redis_url: str | None = None  # None: rate limits and velocity state in this process
    redis_prefix: str = "centime:"  # every key this deployment keeps in Redis starts so

    @classmethod
    def from_env(
        cls, lock_s: int | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """The settings of ``environ`` (default: the process's environment); ``lock_s`` is
        the payout lock when ``CENTIME_PAYOUT_METHOD_LOCK_S`` is unset (the demo's minute)."""
        env = os.environ if environ is None else environ
        choice = env.get(RISK_SCREEN_ENV, "engine")
        if choice not in ("engine", "allow-all-unsafe"):
            raise ConfigError(f"{RISK_SCREEN_ENV} is engine or allow-all-unsafe")
        rules, model = env.get(RISK_RULES_ENV), env.get(RISK_MODEL_ENV)
        redis_url = env.get(REDIS_URL_ENV, "").strip() or None
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"{REDIS_URL_ENV} is a redis://, rediss:// or unix:// URL")
        return cls(
            platform_config_from_env(lock_s, env),
            "engine" if choice == "engine" else "allow-all-unsafe",
            Path(rules) if rules else None,
            Path(model) if model else None,
            redis_url,
            env.get(REDIS_PREFIX_ENV, "").strip() or "centime:",
        )


def platform_config_from_env(
    lock_s: int | None = None, environ: Mapping[str, str] | None = None
) -> PlatformConfig:
    """The platform's settings: the defaults, with ``CENTIME_PAYOUT_METHOD_LOCK_S`` (seconds
    payouts pause after a bank-account change; default a day, or ``lock_s``: the demo's
    minute) when set, e.g. for a sandbox or the browser test."""
    env = os.environ if environ is None else environ
    config = PlatformConfig()
    text = env.get(PAYOUT_METHOD_LOCK_ENV, "").strip() or ("" if lock_s is None else str(lock_s))
    if not text:
        return config
    if not text.isdigit() or int(text) > _LOCK_S_MAX:
        raise ConfigError(f"{PAYOUT_METHOD_LOCK_ENV} is whole seconds, at most a year")
    payouts = dataclasses.replace(config.payouts, payout_method_lock_s=int(text))
    return dataclasses.replace(config, payouts=payouts)


def risk_screen(clock: Clock, settings: Settings | None = None) -> Screen:
    """The risk screen services decide with.

    ``engine`` (the default): the risk engine (centime.risk.engine) with the configured
    rules file and model directory (an unusable model leaves the rules deciding alone,
    logged, never allow-all); its velocity counters in Redis when ``CENTIME_REDIS_URL`` is
    set (docs/scaling.md). ``allow-all-unsafe``: every decision ALLOW (benchmarks of the
    platform's own cost, development), announced in the log."""
    import logging

    from centime.platform.review import AllowAllScreen
    from centime.risk.engine import build_engine

    chosen = Settings.from_env() if settings is None else settings
    if chosen.screen == "allow-all-unsafe":
        logging.getLogger("centime.risk").warning(
            "%s=allow-all-unsafe: money moves UNSCREENED (benchmarks, development only)",
            RISK_SCREEN_ENV,
        )
        return AllowAllScreen()
    velocity = None
    if chosen.redis_url is not None:  # every process screens with the same velocity counters
        from centime.risk.shared_state import RedisVelocity

        velocity = RedisVelocity.from_url(chosen.redis_url, f"{chosen.redis_prefix}risk:")
    return build_engine(chosen.risk_rules, chosen.risk_model, clock=clock, velocity=velocity)


@dataclass(slots=True)
class App:
    """A composed platform and, for a service, its background jobs."""

    platform: Platform
    audit: AuditLog | None = None
    jobs: list[Job] = field(default_factory=list)
    labels_replayed: int = 0  # risk labels the engine was told at start
    rate_store: RateStore | None = None  # None: each limit keeps its buckets in this process


def shared_rate_store(settings: Settings) -> RateStore | None:
    """The rate limits' store every API process shares: Redis at ``CENTIME_REDIS_URL``;
    None (each limit in this process) when it is unset."""
    if settings.redis_url is None:
        return None
    from centime.http.ratelimit import RedisRateStore

    return RedisRateStore.from_url(settings.redis_url, f"{settings.redis_prefix}rl:")


@contextmanager
def open_platform(
    database_url: str,
    role: Role,
    *,
    settings: Settings | None = None,
    audit: AuditLog | None = None,
    clock: Clock | None = None,
    store: LedgerStore | None = None,
    sandbox: SandboxConfig | None = None,
) -> Iterator[App]:
    """The platform over ``database_url`` (or ``store``, already open) in ``role``, its
    ledger closed on exit. ``sandbox`` configures the sandbox funding provider of a service
    (default: its carrier settles after the platform's configured days)."""
    from centime.ledger import Ledger
    from centime.store import open_store

    chosen = Settings.from_env() if settings is None else settings
    opened = store if store is not None else open_store(database_url)
    with id_lane(database_url), Ledger(opened, clock, audit=audit) as ledger:
        now = ledger.clock if clock is None else clock
        if role == "tool":
            yield App(Platform(ledger, now, config=chosen.platform, screen=NoScreen()), audit)
            return
        platform = Platform(ledger, now, config=chosen.platform, screen=risk_screen(now, chosen))
        install_keys(platform, database_url)
        jobs = service_jobs(platform, sandbox)
        labels = _replay_risk_labels(platform)
        yield App(platform, audit, jobs, labels, shared_rate_store(chosen))


# The advisory-lock class of id lanes (any constant of this application's own).
_ID_LANE_LOCKS: Final = 0x63656E74  # "cent"


@contextmanager
def id_lane(database_url: str) -> Iterator[int | None]:
    """On PostgreSQL, a lane of new ids for this process (``centime.platform.ids``),
    claimed with a session advisory lock held on a connection of its own while the block
    runs: processes of one database then never make the same id. None: SQLite (one
    process), a lane already held by this process, or every lane taken (ids then count
    from a random start, as without lanes)."""
    import secrets

    from centime.platform.ids import LANES, set_id_lane

    if not database_url.startswith(("postgresql://", "postgres://")) or _LANE_HELD:
        yield None
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        lanes = sorted(range(LANES), key=lambda _: secrets.randbits(32))
        for lane in lanes:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (_ID_LANE_LOCKS, lane)
            ).fetchone()
            if row is not None and row[0]:
                break
        else:
            yield None
            return
        set_id_lane(lane)
        _LANE_HELD.append(lane)
        try:
            yield lane
        finally:
            _LANE_HELD.clear()
            set_id_lane(None)  # the lock goes with the connection


_LANE_HELD: list[int] = []  # the lane this process holds, if any


def _replay_risk_labels(platform: Platform) -> int:
    """The risk engine's features live in process: at start it is told the labels of the
    last 30 days from the label store (docs/risk-operations.md)."""
    from centime.platform.review import replay_labels

    return replay_labels(platform)


def _key_base(database_url: str) -> str | None:
    """The SQLite file's path, beside which its key files are kept (None: PostgreSQL)."""
    from centime.store.migrate import sqlalchemy_url

    url = database_url if "://" in database_url else f"sqlite:///{database_url}"
    if url.startswith("sqlite:///"):
        return sqlalchemy_url(url).removeprefix("sqlite:///")
    return None


def install_keys(platform: Platform, database_url: str) -> None:
    """The key that encrypts webhook secrets at rest: CENTIME_WEBHOOK_KEY (base64 of 32
    bytes) or the file CENTIME_WEBHOOK_KEY_FILE names; on SQLite without either, the file
    ``<database>.webhook-key`` beside the database (made, mode 0600, when missing). On
    PostgreSQL one of the two must be set (every process needs the same key). Likewise the
    instrument fingerprints' key (CENTIME_INSTRUMENT_KEY, CENTIME_INSTRUMENT_KEY_FILE,
    ``<database>.instrument-key``; the migration to 0012_card_tokens reads the same file).
    Also where webhooks may go: CENTIME_WEBHOOK_ALLOW_HTTP and CENTIME_WEBHOOK_ALLOW_PRIVATE
    (centime.platform.events.webhook_targets; public https only when neither is set)."""
    from centime.platform.events import (
        install_secret_box,
        install_target_policy,
        policy_from_env,
        secret_box_from_env,
    )
    from centime.platform.funding import install_instrument_key, instrument_key_from_env

    base = _key_base(database_url)
    try:
        install_target_policy(platform, policy_from_env())
        install_secret_box(
            platform, secret_box_from_env(None if base is None else Path(f"{base}.webhook-key"))
        )
        install_instrument_key(
            platform,
            instrument_key_from_env(None if base is None else Path(f"{base}.instrument-key")),
        )
    except (RuntimeError, ValueError) as missing:
        raise ConfigError(str(missing)) from None


def service_jobs(platform: Platform, sandbox: SandboxConfig | None = None) -> list[Job]:
    """Register the providers (:func:`install_funding_providers`) and return every
    background job of a service: the money services' and the API's housekeeping (the
    idempotency purge, idle Web Monetization streams settled)."""
    from centime.api.background import housekeeping_jobs

    return [*install_funding_providers(platform, sandbox), *housekeeping_jobs()]


def install_funding_providers(
    platform: Platform, sandbox: SandboxConfig | None = None
) -> list[Job]:
    """Register the sandbox funding provider as ``platform.providers.funding["sandbox"]``
    (kept when one is registered already), its carrier settling after the platform's
    configured days (or as ``sandbox`` says), and the sandbox payout rail
    (:func:`install_payout_rail`); return the worker's jobs that serve the money services
    (centime.worker.default_jobs: the provider's events, lapsed metered holds marked
    expired, webhook delivery; the payout jobs; the referral reward pass; the settlement of
    spending budgets; each bounded per run)."""
    from centime.providers import SandboxConfig, SandboxProvider
    from centime.worker import default_jobs

    funding = platform.providers.funding
    if not isinstance(funding.get("sandbox"), SandboxProvider):
        days = platform.config.carrier_settlement_days
        config = sandbox or SandboxConfig(carrier_settlement_days=days)
        made = SandboxProvider(platform.clock, config)
        funding[made.name] = made
    return default_jobs(platform, extra=[*install_payout_rail(platform), *_platform_jobs()])


def _platform_jobs() -> list[Job]:
    """The referral reward pass (rewards once the referred person's activity qualifies) and
    the settlement of spending budgets before their metered holds lapse."""
    from centime.limits import BUDGET_SETTLE_INTERVAL_S, REFERRAL_REWARD_INTERVAL_S
    from centime.platform.payments import settle_due_budgets
    from centime.platform.referrals import run_reward_pass
    from centime.worker import Job

    return [
        Job("referrals.reward", REFERRAL_REWARD_INTERVAL_S, run_reward_pass),
        Job("budgets.settle", BUDGET_SETTLE_INTERVAL_S, settle_due_budgets),
    ]


def install_payout_rail(platform: Platform) -> list[Job]:
    """Register the sandbox payout rail as ``platform.providers.payout_rails[name]`` (the
    configured rail's name; kept when one is registered already) and return the payout
    jobs: the rail's events applied, payouts never acknowledged sent again (once a minute
    old), and the scheduled payouts of the day (idempotent per merchant and date: a run
    repeated pays nothing again). Each bounded per run."""
    from centime.limits import (
        PAYOUT_RECOVER_INTERVAL_S,
        PAYOUT_RUN_INTERVAL_S,
        PROVIDER_EVENTS_INTERVAL_S,
    )
    from centime.platform.payouts import (
        DatabaseRailJournal,
        process_payout_events,
        recover_payouts,
        run_scheduled_payouts,
    )
    from centime.providers import SandboxPayoutConfig, SandboxPayoutRail
    from centime.worker import Job

    name = platform.config.payouts.provider
    rails = platform.providers.payout_rails
    if name not in rails:
        # Its records in the database: a restarted server still knows its bank accounts.
        rails[name] = SandboxPayoutRail(
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
