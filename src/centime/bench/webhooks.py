"""What the outbox costs the batch path: ``centime bench outbox``.

On one SQLite database (audit log on, as ``centime serve`` runs), one unit of
BATCH_PAYMENTS_MAX payments at a time, alternating between a merchant nobody listens for
(the payments write no event: the unit pays one primary-key read for the subscriptions'
version) and a merchant with an endpoint subscribed to ``payment.created`` (every payment
writes its outbox row). Both sides run in the same process, interleaved, so the machine's
load weighs on both alike; medians of ``rounds`` units each. A third figure is the check on
its own: units that each ask once whether a merchant listens, against empty units.
"""

from __future__ import annotations

import ipaddress
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from centime.audit import AuditLog
from centime.ledger import Ledger
from centime.limits import BATCH_PAYMENTS_MAX
from centime.platform.context import Operation, Platform
from centime.platform.events import (
    NewSecret,
    SecretBox,
    TargetPolicy,
    create_endpoint,
    install_secret_box,
    install_target_policy,
    subscribed,
)
from centime.platform.payments import PaymentItem, create_payments_batch
from centime.providers import SandboxConfig, SandboxProvider
from centime.seed import World, seed_world
from centime.store.sqlite import SqliteStore

__all__ = ["OutboxBenchResult", "run_outbox_bench"]


@dataclass(frozen=True, slots=True)
class OutboxBenchResult:
    batch_size: int
    rounds: int
    quiet_ms: float  # median ms per unit: nobody listens
    listened_ms: float  # median ms per unit: every payment writes its event
    check_us: float  # median µs of a unit with the subscription check
    empty_us: float  # median µs of an empty unit

    @property
    def listened_cost(self) -> float:
        return self.listened_ms / self.quiet_ms - 1


def _items(world: World, merchant_id: int, size: int) -> list[PaymentItem]:
    customers = world.customers
    return [
        PaymentItem(c.customer.id, world.asset, 1_000, mandate_id=c.mandates[merchant_id].id)
        for c in (customers[i % len(customers)] for i in range(size))
    ]


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def run_outbox_bench(
    rounds: int = 15,
    batch_size: int = BATCH_PAYMENTS_MAX,
    customers: int = 64,
    progress: Callable[[str], None] = lambda _: None,
) -> OutboxBenchResult:
    with tempfile.TemporaryDirectory(prefix="centime-bench-outbox-") as tmp:
        store = SqliteStore.open(Path(tmp) / "bench.db")
        with Ledger(store, audit=AuditLog(None)) as ledger:
            platform = Platform(ledger, ledger.clock)
            install_secret_box(platform, SecretBox(os.urandom(32)))
            # Its endpoint is plain http on loopback: the development setting permits it.
            install_target_policy(
                platform,
                TargetPolicy(allow_http=True, allow_private=(ipaddress.ip_network("127.0.0.0/8"),)),
            )
            sandbox = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
            progress(f"seeding {customers} funded customers and two merchants")
            world = seed_world(
                platform,
                sandbox,
                customers=customers,
                merchants=2,
                funding="1000",
                mandate_daily="1000",
            )
            quiet, listened = (m.merchant.id for m in world.merchants)
            made = platform.execute(
                create_endpoint(platform, listened, "http://127.0.0.1:9/hook", ["payment.created"])
            )
            if not isinstance(made, NewSecret):
                raise RuntimeError(f"the endpoint was refused: {made}")
            batches = {m: _items(world, m, batch_size) for m in (quiet, listened)}
            times: dict[int, list[float]] = {quiet: [], listened: []}
            for index in range(rounds + 1):  # the first round warms up
                progress(f"round {index}/{rounds}")
                for merchant_id in (quiet, listened) if index % 2 else (listened, quiet):
                    operation = create_payments_batch(platform, merchant_id, batches[merchant_id])
                    spent = _timed(lambda op=operation: platform.execute(op))  # type: ignore[misc]
                    if index:
                        times[merchant_id].append(spent)
            check = Operation(lambda ctx: subscribed(ctx, quiet, "payment.created"), 0)
            empty = Operation(lambda ctx: None, 0)
            checks, empties = [], []
            for _ in range(200):
                checks.append(_timed(lambda: platform.execute(check)))
                empties.append(_timed(lambda: platform.execute(empty)))
    return OutboxBenchResult(
        batch_size,
        rounds,
        statistics.median(times[quiet]) * 1e3,
        statistics.median(times[listened]) * 1e3,
        statistics.median(checks) * 1e6,
        statistics.median(empties) * 1e6,
    )
