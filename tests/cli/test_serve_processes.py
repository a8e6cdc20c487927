"""Scale-out end to end: two real ``centime serve`` processes over one PostgreSQL and one
Redis screen with one velocity history and share one rate limit; ``--workers N`` runs N API
processes on one port (PostgreSQL only). Each test stops the processes it started."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from centime import wire
from centime.client import Client, ProblemError
from centime.providers.sandbox import CARD_SUCCEEDS

# A merchant's third payment in the hour is refused (the payee's counters: its payments are
# the only events that count in them).
VELOCITY_RULES = """
version = "test-scale-out"
[bands]
review = 40
step_up = 70
block = 90
[lists]
[[rule]]
code = "payee_velocity_test"
action = "block"
types = ["payment"]
when = [["payee_n_1h", ">=", 2]]
"""
INSTRUMENT_KEY = "aW5zdHJ1bWVudC1rZXktb2YtdGhpcnR5LXR3by1ieXQ="
BURST = 40  # requests per API key, refilled at 0.001/s: not within a test


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(redis: tuple[str, str], tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules.toml"
    rules.write_text(VELOCITY_RULES)
    url, prefix = redis
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTIME_AUDIT")}
    return {
        **env,
        "CENTIME_REDIS_URL": url,
        "CENTIME_REDIS_PREFIX": prefix,
        "CENTIME_RISK_RULES": str(rules),
        "CENTIME_RISK_MODEL": str(tmp_path / "no-model"),  # the rules decide alone
        "CENTIME_INSTRUMENT_KEY": INSTRUMENT_KEY,
    }


def _centime(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "centime.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _wait_until_served(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # bounded: 60 s
        if server.poll() is not None:
            raise RuntimeError(
                f"the server exited: {server.stdout.read() if server.stdout else ''!r}"
            )
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


@contextmanager
def _served(
    env: dict[str, str], database_url: str, *extra: str
) -> Iterator[tuple[str, list[bytes]]]:
    """A ``centime serve`` on a free port until the block ends; yields its URL and, once
    stopped, its output."""
    port = _free_port()
    command = ["serve", "--database-url", database_url, "--port", str(port)]
    limits = ["--rate-burst", str(BURST), "--rate-per-key", "0.001"]
    server = subprocess.Popen(
        [sys.executable, "-m", "centime.cli", *command, *limits, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[bytes] = []
    try:
        _wait_until_served(f"http://127.0.0.1:{port}", server)
        yield f"http://127.0.0.1:{port}", output
    finally:
        server.terminate()
        try:
            out, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
        output.append(out)


def _wait_until_succeeded(client: Client, topup_id: str) -> None:
    """The sandbox card confirms after 2 s, applied by the worker's provider-events job."""
    for _ in range(BURST - 4):  # bounded: 18 s, within the polling key's burst
        if client.get_topup(topup_id).status == "succeeded":
            return
        time.sleep(0.5)
    raise RuntimeError(f"top-up {topup_id} did not succeed")


def _cents(n: int) -> wire.Money:
    return wire.money(n * 10_000, "USD")


def test_two_servers_share_the_velocity_history_and_the_rate_limits(
    postgres_url: str, redis_prefix: tuple[str, str], tmp_path: Path
) -> None:
    env = _environment(redis_prefix, tmp_path)
    made = _centime(env, "keys", "create", "--operator", "--database-url", postgres_url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    with (
        _served(env, postgres_url) as (first_url, _),
        _served(env, postgres_url) as (second_url, _),
        Client(first_url, token) as first,
        Client(second_url, token) as second,
    ):
        customer = first.create_customer("Ada", kyc_tier=1)
        shop = second.create_merchant("Shop")
        topup = first.create_topup(customer.id, _cents(10_000), "card", CARD_SUCCEEDS)
        poller = first.create_api_key("poller", ["read"]).secret
        assert poller is not None
        with Client(first_url, poller) as polling:
            _wait_until_succeeded(polling, topup.id)
        second.create_payment(customer.id, _cents(100), merchant_id=shop.id)  # none before
        first.create_payment(customer.id, _cents(100), merchant_id=shop.id)  # one before
        # The second server has screened one payment to the shop itself; the rule counts two
        # in the hour only with the first server's.
        with pytest.raises(ProblemError) as refused:
            second.create_payment(customer.id, _cents(100), merchant_id=shop.id)
        assert refused.value.code == "risk_blocked"
        assert "payee_velocity_test" in str(refused.value)

        key = first.create_api_key("reader", ["read"]).secret
        assert key is not None
        statuses = [
            httpx.get(f"{url}/v1/customers", headers={"Authorization": f"Bearer {key}"})
            for url in [first_url, second_url] * (BURST // 2)
        ]
        assert [s.status_code for s in statuses] == [200] * BURST  # the burst, across both
        over = httpx.get(f"{first_url}/v1/customers", headers={"Authorization": f"Bearer {key}"})
        assert over.status_code == 429  # each server alone has let only half of it through


def test_workers_run_several_api_processes_on_one_port(
    postgres_url: str, redis_prefix: tuple[str, str], tmp_path: Path
) -> None:
    env = _environment(redis_prefix, tmp_path)
    with _served(env, postgres_url, "--workers", "2") as (url, output):
        for _ in range(10):
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    started = set(re.findall(rb"Started server process \[(\d+)\]", output[0]))
    assert len(started) == 2, output[0].decode(errors="replace")[-3000:]


def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTIME_AUDIT")}
    database = f"sqlite:///{tmp_path / 'centime.db'}"
    refused = _centime(env, "serve", "--database-url", database, "--workers", "2")
    assert refused.returncode == 2
    assert "--workers needs PostgreSQL" in refused.stderr


def test_one_idempotency_key_sent_to_two_servers_at_once_pays_once(
    postgres_url: str, redis_prefix: tuple[str, str], tmp_path: Path
) -> None:
    """Payments of two processes overlap on PostgreSQL (docs/ledger.md, "The engine"): the
    same request under one key, sent to both at the same moment, is paid once and both are
    answered that payment; distinct keys each pay once."""
    env = _environment(redis_prefix, tmp_path)
    (tmp_path / "rules.toml").write_text(VELOCITY_RULES.replace('>=", 2', '>=", 100000'))
    made = _centime(env, "keys", "create", "--operator", "--database-url", postgres_url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    rounds = 6
    with (
        _served(env, postgres_url) as (first_url, _),
        _served(env, postgres_url) as (second_url, _),
        Client(first_url, token) as first,
        Client(second_url, token) as second,
    ):
        customer = first.create_customer("Ada", kyc_tier=1)
        shop = second.create_merchant("Shop")
        topup = first.create_topup(customer.id, _cents(10_000), "card", CARD_SUCCEEDS)
        poller = first.create_api_key("poller", ["read"]).secret
        assert poller is not None
        with Client(first_url, poller) as polling:
            _wait_until_succeeded(polling, topup.id)
        answers = []
        for n in range(rounds):
            key = f"race-{n}"

            def pay(client: Client, key: str = key) -> str:
                return client.create_payment(
                    customer.id, _cents(100), merchant_id=shop.id, idempotency_key=key
                ).id

            with ThreadPoolExecutor(2) as pool:
                pair = list(pool.map(pay, [first, second]))
            answers.append(pair)
        assert all(a == b for a, b in answers), answers
        assert len({a for a, _ in answers}) == rounds
        listed = first.list_payments(customer_id=customer.id)
        assert sorted(p.id for p in listed.data) == sorted(a for a, _ in answers)
