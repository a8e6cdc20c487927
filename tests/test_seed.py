"""A seeded world is what the services would build: funded customers, mandates, keys that
authenticate, and a ledger that checks."""

from __future__ import annotations

from centime.auth import KeyVerifier
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.parties import customer_balances
from centime.providers import SandboxConfig, SandboxProvider
from centime.seed import seed_world


def test_a_seeded_world_is_funded_keyed_and_consistent(platform: Platform) -> None:
    sandbox = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
    world = seed_world(platform, sandbox, customers=5, merchants=2, funding="12.5")
    assert len(world.customers) == 5 and len(world.merchants) == 2
    for seeded in world.customers:
        (balance,) = customer_balances(platform, seeded.customer.id)
        assert balance.available == ASSETS["USD"].parse("12.5")
        assert set(seeded.mandates) == {m.merchant.id for m in world.merchants}
    verifier = KeyVerifier(platform)
    assert verifier.verify(world.operator_key) is not None
    for merchant in world.merchants:
        principal = verifier.verify(merchant.api_key)
        assert principal is not None and principal.owner_id == merchant.merchant.id
    assert list(platform.ledger.store.check()) == []
