"""Back-pressure: when the ledger's writer queue is full, a request is answered 503 at once
(with Retry-After) instead of blocking the event loop, and nothing is written."""

from __future__ import annotations

import threading
from collections.abc import Callable

from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.ledger.units import UnitContext
from centime.platform.context import Platform
from centime.store import LedgerStore

from ..risk.screens import AllowScreen
from .conftest import make_api


def test_a_full_writer_queue_is_a_503_that_changes_nothing(
    store_factory: Callable[[], LedgerStore], clock: FakeClock
) -> None:
    ledger = Ledger(store_factory(), clock, queue_requests_max=1, expiry_interval_s=3600)
    platform = Platform(ledger, clock, screen=AllowScreen())
    release = threading.Event()
    started = threading.Event()

    def blocking(ctx: UnitContext) -> None:
        started.set()
        release.wait(30)

    try:
        for api in make_api(platform):
            held = ledger.submit_unit(blocking, 0)
            assert started.wait(30)
            queued = ledger.submit_unit(lambda ctx: None, 0)  # fills the queue
            answer = api.http.post(
                "/v1/customers",
                json={"name": "Ada"},
                headers=api.headers(**{"Idempotency-Key": "busy-1"}),
            )
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["code"] == "busy"
            release.set()
            held.result(30)
            queued.result(30)
            assert api.operator.list_customers().data == []
    finally:
        release.set()
        ledger.close()
