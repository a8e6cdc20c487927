"""The composition root: one configuration, typed providers, the jobs of a service."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.app import (
    PAYOUT_METHOD_LOCK_ENV,
    RISK_SCREEN_ENV,
    ConfigError,
    Settings,
    open_platform,
    platform_config_from_env,
)
from centime.platform.events import SecretBox, TargetPolicy
from centime.platform.review import AllowAllScreen, NoScreen
from centime.providers import SandboxConfig, SandboxPayoutRail, SandboxProvider
from centime.worker import Worker

_YEAR_S = 366 * 86_400


@given(st.integers(0, 2 * _YEAR_S))
def test_the_payout_lock_is_whole_seconds_up_to_a_year(seconds: int) -> None:
    environ = {PAYOUT_METHOD_LOCK_ENV: str(seconds)}
    if seconds <= _YEAR_S:
        assert platform_config_from_env(environ=environ).payouts.payout_method_lock_s == seconds
    else:
        with pytest.raises(ConfigError, match=PAYOUT_METHOD_LOCK_ENV):
            platform_config_from_env(environ=environ)


@given(st.text(max_size=20))
def test_the_screen_is_the_engine_or_an_announced_allow_all(choice: str) -> None:
    if choice in ("engine", "allow-all-unsafe"):
        assert Settings.from_env(environ={RISK_SCREEN_ENV: choice}).screen == choice
    else:
        with pytest.raises(ConfigError, match=RISK_SCREEN_ENV):
            Settings.from_env(environ={RISK_SCREEN_ENV: choice})


def test_the_settings_name_the_risk_files_and_default_to_the_shipped_ones() -> None:
    assert Settings.from_env(environ={}) == Settings()
    chosen = Settings.from_env(environ={"CENTIME_RISK_RULES": "r.yaml", "CENTIME_RISK_MODEL": "m"})
    assert (chosen.risk_rules, chosen.risk_model) == (Path("r.yaml"), Path("m"))


def _unscreened(lock_s: str = "") -> Settings:
    return Settings.from_env(
        environ={RISK_SCREEN_ENV: "allow-all-unsafe", PAYOUT_METHOD_LOCK_ENV: lock_s}
    )


def test_a_service_gets_its_typed_providers_keys_and_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CENTIME_WEBHOOK_KEY", "CENTIME_WEBHOOK_KEY_FILE", "CENTIME_INSTRUMENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    database = tmp_path / "db.sqlite"
    url = f"sqlite:///{database}"
    with open_platform(url, "service", settings=_unscreened("90")) as app:
        platform = app.platform
        providers = platform.providers
        assert isinstance(platform.screen, AllowAllScreen)
        assert platform.config.payouts.payout_method_lock_s == 90
        assert isinstance(providers.funding["sandbox"], SandboxProvider)
        assert isinstance(
            providers.payout_rails[platform.config.payouts.provider], SandboxPayoutRail
        )
        assert isinstance(providers.webhook_box, SecretBox)
        assert isinstance(providers.instrument_key, bytes) and len(providers.instrument_key) == 32
        assert providers.webhook_targets == TargetPolicy()
        names = {job.name for job in app.jobs}
        assert {
            "provider.events",
            "payouts.events",
            "idempotency.purge",
            "webhooks.deliver",
        } <= names
        # One mechanism: the worker accepts every job (unique names, intervals in range)
        # and runs each once when it is first due.
        assert sorted(Worker(platform, app.jobs).tick()) == sorted(names)
    # The keys live beside the SQLite file: the next process opens the same secrets.
    assert Path(f"{database}.webhook-key").exists() and Path(f"{database}.instrument-key").exists()


def test_a_service_takes_the_sandbox_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    quick = SandboxConfig(card_confirm_s=0, carrier_confirm_s=0)
    with open_platform(url, "service", settings=_unscreened(), sandbox=quick) as app:
        sandbox = app.platform.providers.funding["sandbox"]
        assert isinstance(sandbox, SandboxProvider) and sandbox.config == quick


def test_a_tool_screens_nothing_and_runs_no_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with open_platform(url, "tool", settings=_unscreened("5")) as app:
        assert isinstance(app.platform.screen, NoScreen)
        assert app.jobs == [] and app.platform.providers.funding == {}
        assert app.platform.config.payouts.payout_method_lock_s == 5


def test_a_key_the_service_cannot_read_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CENTIME_WEBHOOK_KEY", "not base64 of 32 bytes")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with (
        pytest.raises(ConfigError, match="webhook"),
        open_platform(url, "service", settings=_unscreened()),
    ):
        pass
