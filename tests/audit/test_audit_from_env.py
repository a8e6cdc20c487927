"""Entry points decide about the audit log with audit_from_env: on unless turned off."""

from pathlib import Path

from centime.audit import AuditLog, audit_from_env
from centime.audit.sth import generate_key_file


def test_on_by_default_without_signing() -> None:
    log = audit_from_env({})
    assert isinstance(log, AuditLog)
    assert log.signer is None


def test_off_only_when_asked() -> None:
    assert audit_from_env({"CENTIME_AUDIT": "off"}) is None


def test_key_file_turns_signing_on(tmp_path: Path) -> None:
    generate_key_file(tmp_path / "key.pem", 1)
    log = audit_from_env({"CENTIME_AUDIT_KEY_FILE": str(tmp_path / "key.pem")})
    assert log is not None
    assert log.signer is not None
    assert (
        audit_from_env(
            {"CENTIME_AUDIT_KEY_FILE": str(tmp_path / "key.pem"), "CENTIME_AUDIT": "off"}
        )
        is None
    )
