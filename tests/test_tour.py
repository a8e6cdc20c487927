"""The ledger tour (`centime tour`) must run, check clean and verify its audit log."""

from io import StringIO
from pathlib import Path

from rich.console import Console

from centime.tour import run_demo


def test_demo_runs_checks_and_verifies(tmp_path: Path) -> None:
    out = StringIO()
    assert run_demo(tmp_path / "demo.db", Console(file=out, width=120)) is True
    text = out.getvalue()
    assert "exceeds_credits, linked_event_failed" in text  # the refused chain left no trace
    assert "pending_transfer_already_posted" in text
    assert "all verified" in text
    key = tmp_path / "demo.db.audit-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in text
