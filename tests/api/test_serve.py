"""`centime serve` end to end: the real server on loopback publishes the audit keys and the
signed tree head of a ledger written through it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from centime.audit import AuditLog
from centime.audit.sth import generate_key_file
from centime.ledger import Account, Ledger, Transfer
from centime.store import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_publishes_keys_and_heads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key_file = tmp_path / "key.pem"
    signer = generate_key_file(key_file, 1)
    with Ledger(open_store(url), audit=AuditLog(signer, head_interval_s=0)) as ledger:
        ledger.create_accounts([Account(1, "USD", 1), Account(2, "USD", 1)])
        ledger.create_transfers([Transfer(10, 1, 2, 125, "USD", 1)])
    port = _free_port()
    env = {**os.environ, "CENTIME_AUDIT_KEY_FILE": str(key_file)}
    server = subprocess.Popen(
        [sys.executable, "-m", "centime.cli", "serve", "--database-url", url, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # wait until it listens (bounded: 20 s)
            try:
                keys = httpx.get(f"{base}/.well-known/centime-audit-keys.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        assert keys.status_code == 200
        assert keys.json()["keys"][0]["public_key"]
        head = httpx.get(f"{base}/v1/audit/tree-head", timeout=5)
        assert head.status_code == 200
        assert head.json()["tree_size"] == 1
        bad = httpx.get(f"{base}/v1/audit/inclusion-proof?transfer_id=-1", timeout=5)
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
    finally:
        server.terminate()
        server.wait(timeout=20)
