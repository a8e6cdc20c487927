"""The report and export commands (their services have their own tests: here, what the
commands print and exit with)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from centime.app import ConfigError
from centime.cli import app
from centime.ledger import Ledger
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.platform.parties import Merchant, create_merchant
from centime.store import open_store

runner = CliRunner()


def test_reconcile_and_export_on_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Ledger(open_store(url)) as ledger:
        made = Platform(ledger, ledger.clock)
        shop = made.execute(create_merchant(made, "Shop"))
        assert isinstance(shop, Merchant)
    agreed = runner.invoke(
        app, ["report", "reconcile", "--date", "2027-01-15", "--database-url", url]
    )
    assert agreed.exit_code == 0, agreed.output
    assert "2027-01-15: 0 differences" in agreed.output
    bad = runner.invoke(app, ["report", "reconcile", "--date", "15/01/2027"])
    assert bad.exit_code == 2
    out = tmp_path / "ops.csv"
    exported = runner.invoke(
        app,
        [
            "export",
            "--merchant",
            format_id("mer", shop.id),
            "--from",
            "2027-01-01",
            "--to",
            "2027-02-01",
            "--out",
            str(out),
            "--database-url",
            url,
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert out.read_text().startswith("type,id,created_at,payment_id,customer_id,asset,scale")
    too_long = runner.invoke(
        app,
        [
            "export",
            "--merchant",
            format_id("mer", shop.id),
            "--from",
            "2020-01-01",
            "--to",
            "2027-02-01",
            "--database-url",
            url,
        ],
    )
    assert too_long.exit_code == 1 and "invalid_period" in too_long.output


def test_the_payout_lock_after_a_bank_account_change_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from centime.app import PAYOUT_METHOD_LOCK_ENV, platform_config_from_env

    monkeypatch.delenv(PAYOUT_METHOD_LOCK_ENV, raising=False)
    assert platform_config_from_env().payouts.payout_method_lock_s == 24 * 3600
    monkeypatch.setenv(PAYOUT_METHOD_LOCK_ENV, "90")
    assert platform_config_from_env().payouts.payout_method_lock_s == 90
    for bad in ("-1", "1.5", "a day", str(400 * 86_400)):
        monkeypatch.setenv(PAYOUT_METHOD_LOCK_ENV, bad)
        with pytest.raises(ConfigError):
            platform_config_from_env()


def test_keys_create_beside_a_running_server_says_so_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server holds the file's writer lock (here: a store that wrote): the command
    answers one line and exit 1, and logs no traceback."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Ledger(open_store(url)) as ledger:
        made = Platform(ledger, ledger.clock)
        assert isinstance(made.execute(create_merchant(made, "Shop")), Merchant)  # writes
        busy = runner.invoke(app, ["keys", "create", "--operator", "--database-url", url])
    assert busy.exit_code == 1
    assert "a server is writing this database" in busy.output
    assert "Traceback" not in busy.output
    assert [r for r in caplog.records if r.exc_info] == []  # no failed group logged
    made_key = runner.invoke(app, ["keys", "create", "--operator", "--database-url", url])
    assert made_key.exit_code == 0, made_key.output


def test_the_demo_pauses_payouts_a_minute_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from centime.app import PAYOUT_METHOD_LOCK_ENV, platform_config_from_env
    from centime.demo import DEMO_PAYOUT_METHOD_LOCK_S

    monkeypatch.delenv(PAYOUT_METHOD_LOCK_ENV, raising=False)
    assert platform_config_from_env(DEMO_PAYOUT_METHOD_LOCK_S).payouts.payout_method_lock_s == 60
    monkeypatch.setenv(PAYOUT_METHOD_LOCK_ENV, "5")
    assert platform_config_from_env(DEMO_PAYOUT_METHOD_LOCK_S).payouts.payout_method_lock_s == 5
