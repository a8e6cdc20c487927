"""The security regression suite's server: the real ``centime serve`` as a subprocess on a
free loopback port, over a temporary SQLite database, with every safeguard on (the risk
screen, the audit log, step-up) and the default webhook policy (public https only) unless
a test asks for a development setting.

``server`` (one per module) or ``start_server`` (a context manager, for a server with its
own environment) answer a :class:`Server`: its base URL, an operator key with the admin
scope, the database file and the server's output so far (its log)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from centime.platform.context import Platform

from ..api.conftest import Api, make_api

__all__ = ["Server", "free_port", "start_server"]

_START_WAIT_S = 60.0


@dataclass(frozen=True)
class Server:
    url: str  # http://127.0.0.1:PORT
    operator_key: str  # admin scope
    database: Path
    log_file: Path

    def log(self) -> str:
        """What the server wrote so far (stdout and stderr)."""
        return self.log_file.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTIME_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _cli(*args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "centime.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"centime {args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


@contextmanager
def start_server(
    tmp: Path, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``centime serve`` on a free port over ``tmp/centime.db``, ``env`` added to a clean
    environment (no CENTIME_* of the caller's); stopped on exit."""
    database = tmp / "centime.db"
    url = f"sqlite:///{database}"
    full_env = _env(env or {})
    key = _cli(
        "keys", "create", "--operator", "--scopes", "admin", "--database-url", url, env=full_env
    )
    port = free_port()
    log_file = tmp / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "centime.cli",
                "serve",
                "--database-url",
                url,
                "--port",
                str(port),
                *args,
            ],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log_file)
        yield Server(base, key, database, log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + _START_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log_file.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become healthy: {log_file.read_text()[-2000:]}")


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    """The API in process (tests/api's fixture), for attacks that need a scripted screen."""
    yield from make_api(platform)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One real server per test module, with the defaults (every safeguard on)."""
    with tempfile.TemporaryDirectory(prefix="centime-sec-") as tmp, start_server(Path(tmp)) as s:
        yield s
