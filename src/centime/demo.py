"""``centime demo``: the platform on a fresh SQLite file, with a small world to click through.

Three merchants (a news site, a game, a podcaster) and five customers, built through the
SCREENED services (centime.usecases: the risk engine decides each sign-up, top-up,
payment, hold and transfer, so it knows the demo's people when a person tries them; any
other step it holds or refuses is an error: the demo's people are ordinary newcomers): card
top-ups confirmed by the sandbox provider, a carrier-billed top-up still restricted,
mandates, micropayments, a partial refund, a metered hold captured in part, a transfer
between two people, and one payment the risk engine holds for an analyst: the demo's risk
rules are the shipped ones and one more an operator could set too (a payment of
DEMO_REVIEW_AT dollars or more goes to review), so Ada's larger payment waits in the review
queue. Then ``centime serve`` runs on it and the keys, sign-in links and the held case are
printed, once, so that a person can call the API (``/docs`` lists every route) and act as
each role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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
from centime.platform.review import InReview
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS
from centime.risk.rules import DEFAULT_RULES_PATH
from centime.seed import MERCHANT_SCOPES, SeedError, World, await_success, expect, seed_world
from centime.timetext import human_duration
from centime.usecases import (
    CaptureRequest,
    HoldRequest,
    Origin,
    PaymentRequest,
    RefundRequest,
    TopUpRequest,
    TransferRequest,
)

__all__ = [
    "DEMO_CUSTOMERS",
    "DEMO_MERCHANTS",
    "DEMO_PAYOUT_METHOD_LOCK_S",
    "DEMO_REVIEW_AT",
    "DEMO_SANDBOX",
    "DemoWorld",
    "build_demo_world",
    "print_demo",
    "write_demo_rules",
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
# A payment of this many dollars or more waits for a risk analyst in the demo: the one rule
# the demo adds to the shipped ones (an operator's rules file can hold the same), so that a
# person can review a held payment. The seeded payments stay below it.
DEMO_REVIEW_AT: Final = 3
DEMO_REVIEW_RULE: Final = f"""
# centime demo: a payment of {DEMO_REVIEW_AT} USD or more waits for a risk analyst.
[[rule]]
code = "demo_large_payment"
action = "review"
types = ["payment"]
when = [["amount", ">=", {DEMO_REVIEW_AT}]]
"""
HELD_DESCRIPTION: Final = "A year of episodes"


@dataclass(frozen=True, slots=True)
class DemoWorld:
    world: World
    payments: list[Payment]
    hold: Hold
    carrier_topup: TopUp
    held: InReview  # Ada's payment the risk rules hold for an analyst


def write_demo_rules(path: Path) -> Path:
    """The demo's risk rules (the shipped ones and DEMO_REVIEW_RULE) written to ``path``."""
    shipped = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    path.write_text(shipped + DEMO_REVIEW_RULE, encoding="utf-8")
    return path


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
    refund = RefundRequest(payments[4].id, USD.parse("0.005"), "article not loaded")
    expect(platform.execute(refund_payment(platform, refund)), "refund")
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
    capture = capture_hold(platform, CaptureRequest(hold.id, USD.parse("0.35")))
    captured = expect(platform.execute(capture), "capture")
    lunch = usecases.send(
        platform,
        TransferRequest(people[0].id, people[1].id, "USD", USD.parse("2.5"), note="lunch"),
        Origin(device=f"seed-device-{people[0].id}"),
    )
    expect(lunch, "transfer")
    return DemoWorld(world, payments, captured.hold, carrier, _held_payment(platform, world))


def _held_payment(platform: Platform, world: World) -> InReview:
    """Ada pays Ana's Podcast DEMO_REVIEW_AT dollars: the demo's risk rules hold it for an
    analyst (the money is set aside until the case is decided)."""
    ada, podcast = world.customers[0].customer, world.merchants[2].merchant
    request = PaymentRequest(
        ada.id, podcast.id, "USD", USD.parse(str(DEMO_REVIEW_AT)), description=HELD_DESCRIPTION
    )
    held = usecases.pay(platform, request, Origin(device=f"seed-device-{ada.id}"))
    if not isinstance(held, InReview):
        raise SeedError(
            f"Ada's payment of {DEMO_REVIEW_AT} USD was not held for review ({held!r}): the"
            " demo's risk rules are not in force (is CENTIME_RISK_RULES set?)"
        )
    return held


def print_demo(
    platform: Platform,
    demo: DemoWorld,
    base_url: str,
    console: Console,
    rules_file: Path | None = None,
) -> None:
    """The URL, the keys (shown this once), who is who and the held payment to review
    (``rules_file``: the demo's risk rules, named so that a person can read them)."""
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
            ", ".join(f"{ASSETS[b.asset].short(b.available)} {b.asset}" for b in earned) or "-",
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
                f"{ASSETS[balance.asset].short(balance.available)} {balance.asset}",
                f"{ASSETS[balance.asset].short(balance.restricted)} {balance.asset}",
            )
    console.print(customers)
    say(
        f"Payouts: adding a bank account pauses payouts for"
        f" {human_duration(platform.config.payouts.payout_method_lock_s)} in this demo (a day by"
        f" default; {PAYOUT_LOCK_ENV} sets it). Test account number: {ACCOUNT_SUCCEEDS}."
    )
    _print_web(platform, demo, base_url, say)
    _print_review(demo, base_url.replace("127.0.0.1", "localhost"), rules_file, say)
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


def _print_review(
    demo: DemoWorld, web: str, rules_file: Path | None, say: Callable[[str], None]
) -> None:
    """Where the held payment waits, who may decide it and what each decision does."""
    held = demo.held
    ada = demo.world.customers[0].customer.name
    podcast = demo.world.merchants[2].merchant.name
    amount = f"{ASSETS[held.asset].short(held.amount)} {held.asset}"
    rules = f" ({rules_file})" if rules_file is not None else ""
    say("[bold]a payment held for review[/bold]")
    say(
        f"  {ada}'s payment of {amount} to {podcast} ({HELD_DESCRIPTION!r}) waits for an"
        f" analyst: the demo's risk rules{rules} are the shipped ones plus one that sends a"
        f" payment of {DEMO_REVIEW_AT} {held.asset} or more to review (CENTIME_RISK_RULES"
        " names another rules file)."
    )
    say(
        "  To review it: open the link of Ari (risk analyst) above, create the passkey, then"
        f" open {web}/console/cases/{format_id('case', held.case_id)}"
        f" (the console, {web}/console, lists the open cases)."
    )
    say(
        f"  Approve: the payment goes ahead; {ada}'s wallet lists it (her link above) and"
        f" {podcast} earns it. Decline: the money set aside is {ada}'s again.\n"
    )


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
