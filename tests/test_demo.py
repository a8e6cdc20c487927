"""The demo (`make demo`): its world is built through the services on either store, checks
clean, and what it prints gives a person the keys and ids to call the API with."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from centime.auth import KeyVerifier, Scope
from centime.demo import DEMO_CUSTOMERS, DEMO_MERCHANTS, build_demo_world, print_demo
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.platform.parties import customer_balances
from centime.platform.payments import get_payment


def test_the_demo_world_is_real_and_printed(platform: Platform) -> None:
    demo = build_demo_world(platform)
    assert [m.merchant.name for m in demo.world.merchants] == list(DEMO_MERCHANTS)
    assert [c.customer.name for c in demo.world.customers] == list(DEMO_CUSTOMERS)
    zoe = demo.world.customers[-1].customer
    (balance,) = customer_balances(platform, zoe.id)
    assert balance.restricted > 0  # the carrier-billed top-up, restricted until settled
    assert demo.hold.captured > 0
    refunded = [get_payment(platform, p.id) for p in demo.payments]
    assert any(p is not None and p.refunded for p in refunded)
    assert list(platform.ledger.store.check()) == []
    out = StringIO()
    print_demo(platform, demo, "http://127.0.0.1:8000", Console(file=out, width=80))
    text = out.getvalue()
    verifier = KeyVerifier(platform)
    for key in [demo.world.operator_key, *(m.api_key for m in demo.world.merchants)]:
        assert key in text  # whole, not wrapped or cut
        assert verifier.verify(key) is not None
    assert format_id("cus", zoe.id) in text
    # The merchants' keys take payouts, and the demo says how long a new bank account
    # pauses them (the demo's minute, set by `centime demo`).
    for seeded in demo.world.merchants:
        found = verifier.verify(seeded.api_key)
        assert found is not None and Scope.PAYOUTS in found.scopes
    assert "pauses payouts for" in text and "CENTIME_PAYOUT_METHOD_LOCK_S" in text
