"""Open Payments through the HTTP app: ``centime bench open-payments``.

One SQLite database, one funded customer, one merchant (its wallet address is the client,
with a registered key), the app in process (Litestar's test client: the whole ASGI stack,
signatures verified, no network). Two outgoing-payment grants of the customer, made through
the grant service as if consented: one without a budget (each payment is a ledger payment)
and one with an hourly ``debitAmount`` budget (Web Monetization: payments stream under a
reserve and settle in batches). Payments of ``incomingPayment`` + ``debitAmount`` to one
incoming payment per side, alternating in chunks so that both sides share the machine's
load. Figures: median latency and payments/s per side, and ledger transfers written per
1,000 payments (the streamed side's final settlement included).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from centime.ledger import Ledger
from centime.openpayments import OpenPaymentsState, Urls
from centime.openpayments.addresses import Wallet
from centime.openpayments.client import ClientKey
from centime.openpayments.grants import create_grant
from centime.openpayments.keys import register_key
from centime.openpayments.streams import settle_idle_streams
from centime.platform.context import Platform
from centime.platform.review import AllowAllScreen
from centime.providers import SandboxConfig, SandboxProvider
from centime.seed import seed_world
from centime.store.sqlite import SqliteStore

__all__ = ["OpenPaymentsBenchResult", "run_open_payments_bench"]

BASE = "https://bench.centime.local"
CHUNK = 50


@dataclass(frozen=True, slots=True)
class Side:
    payments: int
    median_ms: float
    per_s: float  # payments / the time spent on them
    transfers: int  # ledger transfers written

    @property
    def transfers_per_1000(self) -> float:
        return self.transfers * 1000 / self.payments


@dataclass(frozen=True, slots=True)
class OpenPaymentsBenchResult:
    direct: Side
    streamed: Side


def _transfers(platform: Platform) -> int:
    with platform.read() as fetch:
        [(count,)] = fetch("SELECT COUNT(*) FROM transfers", ())
    return int(count)


class _Client:
    def __init__(self, http: TestClient[Any], key: ClientKey) -> None:
        self.http, self.key = http, key

    def call(self, method: str, url: str, body: object = None, token: str | None = None) -> Any:
        headers, content = self.key.sign(method, url, body, token)
        answer = self.http.request(method, url, headers=headers, content=content or None)
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {url}: {answer.status_code} {answer.text}")
        return answer.json()


def _grant(
    platform: Platform, client: str, key: ClientKey, payer: Wallet, limits: dict[str, Any] | None
) -> str:
    urls = Urls(BASE)
    access: dict[str, Any] = {
        "type": "outgoing-payment",
        "actions": ["create", "read"],
        "identifier": urls.wallet(payer),
    }
    if limits:
        access["limits"] = limits
    issued = platform.execute(create_grant(client, key.kid, [access], payer, None, False))
    return issued.token_value or ""


def _setup(platform: Platform) -> tuple[Wallet, Wallet, ClientKey]:
    sandbox = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
    world = seed_world(platform, sandbox, customers=1, merchants=1, funding="1000")
    merchant = Wallet("merchant", world.merchants[0].merchant.id, world.asset)
    payer = Wallet("customer", world.customers[0].customer.id, world.asset)
    key = ClientKey("bench")
    platform.execute(register_key(platform, "merchant", merchant.party_id, key.kid, key.x))
    return merchant, payer, key


def run_open_payments_bench(
    payments: int = 1000, progress: Callable[[str], None] = lambda _: None
) -> OpenPaymentsBenchResult:
    from centime.server import create_app

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    with tempfile.TemporaryDirectory(prefix="centime-bench-op-") as tmp:
        store = SqliteStore.open(Path(tmp) / "bench.db")
        with Ledger(store) as ledger:
            platform = Platform(ledger, ledger.clock)
            platform.screen = AllowAllScreen()  # the plumbing's cost, not the model's
            merchant, payer, key = _setup(platform)
            urls = Urls(BASE)
            client_url = urls.wallet(merchant)
            app = create_app(
                platform,
                rate_per_s=1e9,
                rate_burst=10**9,
                open_payments=OpenPaymentsState(platform, urls),
            )
            tokens = {
                "direct": _grant(platform, client_url, key, payer, None),
                "streamed": _grant(
                    platform,
                    client_url,
                    key,
                    payer,
                    {
                        "debitAmount": {
                            "value": str(10**7),
                            "assetCode": payer.asset,
                            "assetScale": 6,
                        },
                        "interval": "R/2020-01-01T00:00:00Z/PT1H",
                    },
                ),
            }
            with TestClient(app, base_url=BASE) as http:
                client = _Client(http, key)
                return _run(platform, client, client_url, payer, tokens, payments, progress)


def _run(
    platform: Platform,
    client: _Client,
    client_url: str,
    payer: Wallet,
    tokens: dict[str, str],
    payments: int,
    progress: Callable[[str], None],
) -> OpenPaymentsBenchResult:
    urls = Urls(BASE)
    grant = client.call(
        "POST",
        urls.auth_server,
        {
            "client": client_url,
            "access_token": {"access": [{"type": "incoming-payment", "actions": ["create"]}]},
        },
    )
    incoming = {
        side: client.call(
            "POST",
            f"{urls.resource_server}/incoming-payments",
            {"walletAddress": client_url},
            grant["access_token"]["value"],
        )["id"]
        for side in tokens
    }
    times: dict[str, list[float]] = {side: [] for side in tokens}
    transfers = dict.fromkeys(tokens, 0)
    done = 0
    while done < payments:
        size = min(CHUNK, payments - done)
        for side in tokens if (done // CHUNK) % 2 else reversed(list(tokens)):
            before = _transfers(platform)
            body = {
                "walletAddress": urls.wallet(payer),
                "incomingPayment": incoming[side],
                "debitAmount": {"value": "1000", "assetCode": payer.asset, "assetScale": 6},
            }
            for _ in range(size):
                started = time.perf_counter()
                client.call("POST", f"{urls.resource_server}/outgoing-payments", body, tokens[side])
                times[side].append(time.perf_counter() - started)
            transfers[side] += _transfers(platform) - before
        done += size
        progress(f"{done}/{payments} payments per side")
    before = _transfers(platform)
    settle_idle_streams(platform, idle_s=0)  # the streamed side's last settlement
    transfers["streamed"] += _transfers(platform) - before

    def summary(name: str) -> Side:
        spent = times[name]
        return Side(
            len(spent), statistics.median(spent) * 1e3, len(spent) / sum(spent), transfers[name]
        )

    return OpenPaymentsBenchResult(summary("direct"), summary("streamed"))
