"""A world to run against: an operator key, merchants with keys, funded customers with
mandates. The demo and the API benchmark start from one.

Everything goes through the services (keys, parties, mandates, top-ups through the sandbox
provider and its events), never around them, so a seeded world is one the platform could
have built for itself: ``centime ledger check`` and ``audit verify`` hold on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from centime import usecases
from centime.auth import NewKey, Scope, create_key
from centime.money import ASSETS
from centime.platform.chart import OPERATOR
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.funding import (
    TopUp,
    TopUpStatus,
    create_topup,
    process_provider_events,
)
from centime.platform.parties import (
    Customer,
    Merchant,
    create_customer,
    create_merchant,
)
from centime.platform.payments import Mandate, create_mandate
from centime.platform.review import InReview
from centime.providers import Method, SandboxProvider
from centime.usecases import Origin, SignupRequest, TopUpRequest

__all__ = [
    "SeedError",
    "SeededCustomer",
    "SeededMerchant",
    "World",
    "await_success",
    "expect",
    "seed_world",
]

# Payouts too: a merchant trying the demo takes its earnings out with the printed key.
MERCHANT_SCOPES: Final = frozenset({Scope.READ, Scope.PAYMENTS, Scope.REFUNDS, Scope.PAYOUTS})
CARD_OK: Final = "4242424242424242"
# Top-ups run in a few threads: each is two units with a provider call between them.
TOPUP_THREADS: Final = 8
SETTLE_WAIT_MAX_S: Final = 30.0

T = TypeVar("T")


class SeedError(RuntimeError):
    """A service refused what seeding asked for: the world would not be what was asked."""


@dataclass(frozen=True, slots=True)
class SeededMerchant:
    merchant: Merchant
    api_key: str  # payments, refunds and read; shown here once, as on creation


@dataclass(frozen=True, slots=True)
class SeededCustomer:
    customer: Customer
    mandates: dict[int, Mandate]  # by merchant id


@dataclass
class World:
    asset: str
    operator_key: str
    merchants: list[SeededMerchant] = field(default_factory=list)
    customers: list[SeededCustomer] = field(default_factory=list)


def expect(result: T | Refusal | InReview, what: str) -> T:
    """The result, or SeedError naming the refusal (or the risk screen's review hold)."""
    if isinstance(result, Refusal):
        raise SeedError(f"{what}: {result.code.value}: {result.detail}")
    if isinstance(result, InReview):
        raise SeedError(f"{what}: held for review by the risk screen: {result.reasons}")
    return result


def _run_all(platform: Platform, operations: Sequence[Operation[Any]]) -> list[Any]:
    """Submit every operation at once (the writer commits them in a few groups)."""
    futures = [platform.ledger.submit_unit(op.unit, op.events_max) for op in operations]
    return [future.result() for future in futures]


def _parties(
    platform: Platform,
    kind: Literal["customer", "merchant"],
    count: int,
    names: Callable[[int], str],
    screened: bool,
) -> list[Any]:
    """``count`` customers or merchants: signed up through the risk screen one at a time
    (``screened``), else created all at once."""
    merchant = kind == "merchant"
    if screened:
        signup: Any = usecases.signup_merchant if merchant else usecases.signup_customer
        return [expect(signup(platform, SignupRequest(kind), names(i)), kind) for i in range(count)]
    create: Any = create_merchant if merchant else create_customer
    return _run_all(platform, [create(platform, names(i)) for i in range(count)])


def _key(platform: Platform, kind: Any, owner: int, name: str, scopes: frozenset[Scope]) -> str:
    operation = create_key(platform, kind, owner, name, scopes)
    created: NewKey = expect(platform.execute(operation), name)
    return created.token


def seed_world(
    platform: Platform,
    provider: SandboxProvider,
    *,
    customers: int,
    merchants: int,
    asset: str = "USD",
    funding: str = "100",
    mandate_daily: str = "1000",
    customer_names: Callable[[int], str] = lambda i: f"Customer {i + 1}",
    merchant_names: Callable[[int], str] = lambda i: f"Merchant {i + 1}",
    screened: bool = False,
    unfunded: frozenset[int] = frozenset(),
) -> World:
    """Create the world and return its keys and parties. Each customer is topped up by card
    with ``funding`` (major units) and grants every merchant a mandate of ``mandate_daily``
    a day. The sandbox must confirm card charges at once (``card_confirm_s=0``) or seeding
    waits for its events. ``screened``: sign-ups and top-ups go through the risk screen
    (centime.platform.review.screening), one at a time, so the screen knows the parties (the demo
    runs with the engine on). Customers whose index is in ``unfunded`` get no card top-up."""
    scale_asset = ASSETS[asset]
    world = World(asset, _key(platform, "operator", OPERATOR, "seed operator", frozenset(Scope)))
    for made_merchant in _parties(platform, "merchant", merchants, merchant_names, screened):
        merchant = expect(made_merchant, "merchant")
        token = _key(platform, "merchant", merchant.id, "seed key", MERCHANT_SCOPES)
        world.merchants.append(SeededMerchant(merchant, token))
    signed = _parties(platform, "customer", customers, customer_names, screened)
    made = [expect(c, "customer") for c in signed]
    daily = scale_asset.parse(mandate_daily)
    mandate_ops = [
        create_mandate(platform, c.id, m.merchant.id, asset, daily)
        for c in made
        for m in world.merchants
    ]
    mandates = iter(_run_all(platform, mandate_ops))
    for customer in made:
        granted = {m.merchant.id: expect(next(mandates), "mandate") for m in world.merchants}
        world.customers.append(SeededCustomer(customer, granted))
    funded = [c for i, c in enumerate(made) if i not in unfunded]
    _fund(platform, provider, funded, asset, scale_asset.parse(funding), screened)
    return world


def _device(customer: Customer) -> str:
    """The device a seeded customer uses (the screen sees one phone per person)."""
    return f"seed-device-{customer.id}"


def _fund(
    platform: Platform,
    provider: SandboxProvider,
    customers: Sequence[Customer],
    asset: str,
    amount: int,
    screened: bool,
) -> None:
    """Top every customer up by card and wait until the sandbox's confirmations landed.
    ``screened``: each top-up goes through the risk screen, one at a time (the screen sees
    them in order); a refused or held one is an error (the seeded world would not be as
    asked). Otherwise they go at once, from a few threads."""
    if screened:
        topups = [
            expect(
                usecases.topup(
                    platform,
                    provider,
                    TopUpRequest(c.id, asset, amount, Method.CARD.value, CARD_OK),
                    Origin(device=_device(c)),
                ),
                "top-up",
            )
            for c in customers
        ]
    else:
        with ThreadPoolExecutor(TOPUP_THREADS) as pool:
            futures: list[Future[TopUp | Refusal]] = [
                pool.submit(
                    create_topup, platform, provider, c.id, asset, amount, Method.CARD, CARD_OK
                )
                for c in customers
            ]
            topups = [expect(f.result(), "top-up") for f in futures]
    await_success(platform, provider, [t.id for t in topups])


def await_success(platform: Platform, provider: SandboxProvider, topup_ids: list[int]) -> None:
    """Handle the provider's events until every one of these top-ups succeeded (other
    events, such as a carrier settlement due in a month, may stay queued)."""
    pending = set(topup_ids)
    deadline = time.monotonic() + SETTLE_WAIT_MAX_S
    while pending:
        for result in process_provider_events(platform, provider):
            if result.topup is not None and result.topup.status is TopUpStatus.SUCCEEDED:
                pending.discard(result.topup.id)
        if pending and time.monotonic() > deadline:
            raise SeedError(f"{len(pending)} top-ups were not confirmed in time")
        if pending:
            time.sleep(0.05)
