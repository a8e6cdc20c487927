"""`centime keys create` and `centime serve` end to end: the first operator key made on
the command line, then the typed client over a real server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from centime.client import Client, ProblemError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _centime(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTIME_AUDIT")}
    return subprocess.run(
        [sys.executable, "-m", "centime.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_create_then_serve_then_the_client_on_loopback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centime.db'}"
    made = _centime("keys", "create", "--operator", "--database-url", url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("ck_key_") and len(token) == 64 and "shown once" in made.stderr
    refused = _centime("keys", "create", "--merchant", "mer_0000000000001", "--database-url", url)
    assert refused.returncode == 1 and "merchant_not_found" in refused.stderr
    bad = _centime("keys", "create", "--operator", "--scopes", "root", "--database-url", url)
    assert bad.returncode != 0

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "centime.cli", "serve", "--database-url", url, "--port", str(port)],
        # No risk engine on this branch's server: sign-ups would be blocked (fail closed).
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CENTIME_AUDIT")},
            "CENTIME_RISK_SCREEN": "allow-all-unsafe",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # until it listens (bounded: 20 s)
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        with Client(base, token) as operator:
            customer = operator.create_customer("Ada")
            assert operator.list_customers().data == [customer]
            shop = operator.create_merchant("Shop")
            key = operator.create_api_key("shop", ["read"], merchant_id=shop.id)
            assert key.secret is not None
            with Client(base, key.secret) as merchant:
                assert merchant.me() == shop
            assert operator.ready().status == "ready"
        with Client(base, token[:-1] + "x") as wrong, pytest.raises(ProblemError) as raised:
            wrong.list_customers()
        assert raised.value.status == 401
        busy = _centime("keys", "create", "--operator", "--database-url", url)
        assert busy.returncode == 1 and "POST /v1/api-keys" in busy.stderr
    finally:
        server.terminate()
        server.wait(timeout=20)
    verified = _centime("audit", "verify", "--database-url", url)  # the log saw every write
    assert verified.returncode == 0, verified.stderr
