"""The package's public names, and the vendored specification files unchanged."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import centime.openpayments

SPEC = Path(centime.openpayments.__file__).parent / "spec"


def test_public_names() -> None:
    assert centime.openpayments.__all__ == [
        "OpError",
        "OpenPaymentsState",
        "Urls",
        "open_payments_router",
    ]


def test_the_specification_files_are_the_published_ones() -> None:
    recorded = dict(
        re.findall(r"- `([\w-]+\.yaml)`: `([0-9a-f]{64})`", (SPEC / "SOURCE.md").read_text())
    )
    assert set(recorded) == {
        "wallet-address-server.yaml",
        "resource-server.yaml",
        "auth-server.yaml",
    }
    for name, digest in recorded.items():
        assert hashlib.sha256((SPEC / name).read_bytes()).hexdigest() == digest, name
        assert "version: '1.1.0'" in (SPEC / name).read_text()
