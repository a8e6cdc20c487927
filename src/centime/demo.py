"""``centime demo``: the platform on a fresh SQLite file, with a small world to click through.

Three merchants (a news site, a game, a podcaster) and five customers, built through the
SCREENED services (centime.usecases: the risk engine decides each sign-up, top-up,
payment, hold and transfer, so it knows the demo's people when a person tries them; a step
it holds or refuses is an error: the demo's people are ordinary newcomers): card
top-ups confirmed by the sandbox provider, a carrier-billed top-up still restricted,
mandates, micropayments, a partial refund, a metered hold captured in part and a transfer
between two people. Then ``centime serve`` runs on it and the keys are printed, once, so that
a person can call the API (``/docs`` lists every route).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from rich.console import Console
from rich.table import Table

from centime import usecases
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.funding import TopUp
from centime.platform.ids import format_id
from centime.platform.parties import customer_balances, merchant_balances
from centime.platform.payments import Hold, Payment, capture_hold, refund_payment
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS
from centime.seed import MERCHANT_SCOPES, World, await_success, expect, seed_world
from centime.timetext import human_duration
from centime.usecases import HoldRequest, Origin, PaymentRequest, TopUpRequest, TransferRequest

__all__ = [
    "DEMO_CUSTOMERS",
    "DEMO_MERCHANTS",
    "DEMO_PAYOUT_METHOD_LOCK_S",
    "DEMO_SANDBOX",
    "DemoWorld",
    "build_demo_world",
    "print_demo",
]

DEMO_MERCHANTS: Final = ("The Daily Byte", "Pixel Quest", "Ana's Podcast")
DEMO_CUSTOMERS: Final = ("Ada Lovelace", "Ben Okafor", "Chloe Martin", "Dev Patel", "Zoe Kim")
CARRIER_PHONE_SETTLES: Final = "+15555550100"  # the sandbox's carrier number that settles
USD: Final = ASSETS["USD"]
PAYOUT_LOCK_ENV: Final = "CENTIME_PAYOUT_METHOD_LOCK_S"
# Payouts pause after a bank-account change (a day by default, against a taken-over
# account); the demo pauses a minute so that a person can try a payout (and says so).
DEMO_PAYOUT_METHOD_LOCK_S: Final = 60
# The demo's sandbox confirms card and carrier charges at once, so that a person trying the
# demo sees a top-up land (the carrier top-up's settlement still to come).
DEMO_SANDBOX: Final = SandboxConfig(card_confirm_s=0, carrier_confirm_s=0)


@dataclass(frozen=True, slots=True)
class DemoWorld:
    world: World
    payments: list[Payment]
    hold: Hold
    carrier_topup: TopUp


def _sandbox(platform: Platform) -> SandboxProvider:
    """The sandbox the composition root registered (`centime demo` gives it DEMO_SANDBOX),
    else one made and registered here, so that the server keeps it."""
    found = platform.providers.funding.get("sandbox")
    if isinstance(found, SandboxProvider):
        return found
    made = SandboxProvider(platform.clock, DEMO_SANDBOX)
    platform.providers.funding[made.name] = made
    return made


def build_demo_world(platform: Platform) -> DemoWorld:
    """Seed the demo's parties and their first activity (everything through the services)."""
    sandbox = _sandbox(platform)
    world = seed_world(
        platform,
        sandbox,
        customers=len(DEMO_CUSTOMERS),
        merchants=len(DEMO_MERCHANTS),
        funding="25",
        mandate_daily="5",
        customer_names=lambda i: DEMO_CUSTOMERS[i],
        merchant_names=lambda i: DEMO_MERCHANTS[i],
        screened=True,
        unfunded=frozenset({4}),
    )
    people = [c.customer for c in world.customers]
    shops = [m.merchant for m in world.merchants]
    # Zoe pays by phone bill (her only top-up): the money is restricted until the carrier
    # settles (30 days).
    carrier = expect(
        usecases.topup(
            platform,
            sandbox,
            TopUpRequest(
                people[4].id, "USD", USD.parse("10"), Method.CARRIER.value, CARRIER_PHONE_SETTLES
            ),
            Origin(device=f"seed-device-{people[4].id}"),
        ),
        "carrier top-up",
    )
    await_success(platform, sandbox, [carrier.id])
    payments: list[Payment] = []
    prices = ("0.001", "0.0125", "0.05", "0.002", "0.25")  # an article, an API call, a tip...
    for index, person in enumerate(people):
        for round_ in range(3):
            shop = shops[(index + round_) % len(shops)]
            price = USD.parse(prices[(index + round_) % len(prices)])
            paid = usecases.pay(
                platform,
                PaymentRequest(person.id, shop.id, "USD", price),
                Origin(device=f"seed-device-{person.id}"),
            )
            payments.append(expect(paid, "payment"))
    refund = refund_payment(platform, payments[4].id, USD.parse("0.005"), "article not loaded")
    expect(platform.execute(refund), "refund")
    hold = expect(
        usecases.authorize(
            platform,
            HoldRequest(
                people[1].id,
                shops[1].id,
                "USD",
                USD.parse("1"),
                timeout_s=3600,
                description="Pixel Quest: one hour of play",
            ),
            Origin(device=f"seed-device-{people[1].id}"),
        ),
        "hold",
    )
    capture = capture_hold(platform, hold.id, USD.parse("0.35"))
    captured = expect(platform.execute(capture), "capture")
    lunch = usecases.send(
        platform,
        TransferRequest(people[0].id, people[1].id, "USD", USD.parse("2.5"), note="lunch"),
        Origin(device=f"seed-device-{people[0].id}"),
    )
    expect(lunch, "transfer")
    return DemoWorld(world, payments, captured.hold, carrier)


def print_demo(platform: Platform, demo: DemoWorld, base_url: str, console: Console) -> None:
    """The URL, the keys (shown this once) and who is who."""
    world = demo.world

    def say(text: str) -> None:  # keys and commands must not be wrapped or cut
        console.print(text, soft_wrap=True, highlight=False)

    say(f"\n[bold]centime demo[/bold] at {base_url}  (API docs: {base_url}/docs)\n")
    say(f"operator key (admin): {world.operator_key}")
    merchants = Table("merchant", "id", "earnings available")
    for seeded in world.merchants:
        earned = merchant_balances(platform, seeded.merchant.id)
        merchants.add_row(
            seeded.merchant.name,
            format_id("mer", seeded.merchant.id),
            ", ".join(f"{USD.format(b.available)} {b.asset}" for b in earned) or "-",
        )
        scopes = ", ".join(sorted(s.value for s in MERCHANT_SCOPES))
        say(f"key of {seeded.merchant.name} ({scopes}): {seeded.api_key}")
    console.print(merchants)
    customers = Table("customer", "id", "available", "restricted (carrier-billed)")
    for person in world.customers:
        for balance in customer_balances(platform, person.customer.id):
            customers.add_row(
                person.customer.name,
                format_id("cus", person.customer.id),
                f"{USD.format(balance.available)} {balance.asset}",
                f"{USD.format(balance.restricted)} {balance.asset}",
            )
    console.print(customers)
    say(
        f"Payouts: adding a bank account pauses payouts for"
        f" {human_duration(platform.config.payouts.payout_method_lock_s)} in this demo (a day by"
        f" default; {PAYOUT_LOCK_ENV} sets it). Test account number: {ACCOUNT_SUCCEEDS}."
    )
    _print_web(platform, demo, base_url, say)
    say("Try:")
    say(f"  curl -s -H 'Authorization: Bearer {world.operator_key}' {base_url}/v1/customers")
    say(
        f"  curl -s -H 'Authorization: Bearer {world.merchants[0].api_key}'"
        f" {base_url}/v1/merchants/me/balances"
    )
    first = world.merchants[0]
    theirs = next((p for p in demo.payments if p.merchant_id == first.merchant.id), None)
    if theirs is not None:  # a payment's audit proof, as its merchant asks for it
        say(
            f"  curl -s -H 'Authorization: Bearer {first.api_key}'"
            f" {base_url}/v1/payments/{format_id('pay', theirs.id)}/proof"
        )
    say(
        "Receipts with their audit proof: the wallet's history links each payment's receipt"
        " and a 'Verify' button that checks the proof in the browser."
    )
    say("Keys are shown only now; the server stores their hashes. Ctrl-C stops the server.")


def _print_web(
    platform: Platform, demo: DemoWorld, base_url: str, say: Callable[[str], None]
) -> None:
    """The web apps: one-time links to set up a passkey for demo accounts (a customer with
    money, a creator, an operator admin and an analyst), and the demo merchant site."""
    from centime.auth.passkeys import Role, UserKind, create_enrollment
    from centime.platform.chart import OPERATOR

    web = base_url.replace("127.0.0.1", "localhost")
    people = [
        (
            UserKind.CUSTOMER,
            demo.world.customers[0].customer.id,
            demo.world.customers[0].customer.name,
            None,
        ),
        (
            UserKind.MERCHANT,
            demo.world.merchants[0].merchant.id,
            demo.world.merchants[0].merchant.name,
            None,
        ),
        (UserKind.OPERATOR, OPERATOR, "Olga (operator admin)", Role.ADMIN),
        (UserKind.OPERATOR, OPERATOR, "Ari (risk analyst)", Role.ANALYST),
    ]
    say(f"\n[bold]web apps[/bold] at {web}/app  (passkeys need this host name: localhost)")
    for kind, party_id, name, role in people:
        token = platform.execute(create_enrollment(platform, kind, party_id, name, role))
        say(f"  {name} ({kind.value}): {web}/enroll/{token}")
    say(f"  demo merchant site with the pay button: {web}/demo/site")
    say("  or create a new account with a passkey on the home page.\n")
