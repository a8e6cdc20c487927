"""A synthetic population and its fraud, as labelled RiskEvents in time order.

Customers pay merchants tiny amounts with a daily rhythm, top up when their estimated balance
runs low (by card, or by phone bill for some), send friends money now and then, change phones
once in a while; merchants are paid out weekly (some instantly). Into that, fraud typologies
are injected at random times, each event of a scheme labelled 1:

- ``ato``: a taken-over wallet is drained from a new device to a payee it never paid;
- ``card_testing``: a fresh account tries stolen cards with small top-ups, most declined;
- ``mule``: a merchant account collects payments from many payers, then pays out instantly;
- ``carrier_cashout``: top-ups billed to a phone up to the monthly limit, then a payment to a
  merchant selling resellable vouchers or a transfer to a broker who pays cash at a discount;
- ``circular``: a ring of accounts passes about the same amount round and round;
- ``structuring``: movements split to stay just below a limit;
- ``referral_ring``: sign-ups referred by one head, sharing devices, each topping up once for
  the bonus and sending it on to the head.

Deterministic for a seed. Amounts are integers in USD's scale (micro-dollars); the random
draws that pick them are floats turned into whole cents or micro-dollars once, by ``int``
(truncation), never money arithmetic.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NamedTuple, TextIO

from centime.clock import NS_PER_DAY, NS_PER_S
from centime.risk.types import EVENT_TYPES, RiskEvent

__all__ = [
    "CSV_COLUMNS",
    "TYPOLOGIES",
    "LabelledEvent",
    "SimConfig",
    "read_csv",
    "simulate",
    "write_csv",
]

MICRO: Final = 1_000_000  # USD scale 6: micro-dollars per dollar
CENT: Final = 10_000
ASSET: Final = "USD"

TYPOLOGIES: Final = (
    "ato",
    "card_testing",
    "mule",
    "carrier_cashout",
    "circular",
    "structuring",
    "referral_ring",
    "compromised_merchant",
    "compromised_account",
    "merchant_card_testing",
)

# Share of a day's activity in each UTC hour: quiet nights, a lunch bump, busy evenings.
HOUR_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 7, 8, 9, 10, 10, 8, 5, 2)

CSV_COLUMNS: Final = (
    "timestamp",
    "type",
    "amount",
    "asset",
    "payer",
    "payee",
    "device",
    "ip",
    "instrument",
    "label",
)
CSV_ROWS_MAX: Final = 50_000_000  # a file longer than this is refused, not read forever
CSV_FIELD_MAX: Final = 256  # characters in one id


class LabelledEvent(NamedTuple):
    event: RiskEvent
    label: int  # 1: part of a fraud scheme
    typology: str  # "" for legitimate traffic, else one of TYPOLOGIES


@dataclass(frozen=True, slots=True)
class SimConfig:
    """A simulated population (``customers``, ``merchants``) over ``days`` from
    ``start_ns``, and how often each fraud scheme starts in it. The same config (``seed``
    included) makes the same events."""

    customers: int = 2_000
    merchants: int = 60
    days: int = 30
    seed: int = 1
    start_ns: int = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z
    # Fraud schemes started per day per 1,000 customers, by typology.
    fraud_per_day_per_k: dict[str, float] = field(
        default_factory=lambda: {
            "ato": 0.6,
            "card_testing": 0.4,
            "mule": 0.2,
            "carrier_cashout": 0.8,
            "circular": 0.2,
            "structuring": 0.3,
            "referral_ring": 0.15,
            "compromised_merchant": 0.05,
            "compromised_account": 0.6,
            "merchant_card_testing": 0.15,
        }
    )
    voucher_merchants: int = 2  # the first merchants of the population sell vouchers
    brokers: int = 3  # customers who buy carrier-funded balances for cash


class _Person:
    __slots__ = (
        "balance",
        "card",
        "carrier",
        "device",
        "friends",
        "id",
        "ip",
        "payout",
        "rate",
        "spend",
    )

    def __init__(self, pid: str, rng: random.Random, ids: _Ids) -> None:
        self.id = pid
        self.device = ids.new("dev")
        self.ip = ids.ip(rng)
        self.card = ids.new("card")
        self.carrier: str | None = None
        self.payout = ids.new("bank")
        self.balance = 0
        self.friends: list[str] = []
        self.rate = min(12.0, rng.lognormvariate(0.8, 0.7))  # payments per active day
        # The median payment: most people pay micro-amounts, many shop at card scale (a few
        # dollars to a few hundred), so no absolute amount is suspicious on its own.
        self.spend = 0.25 if rng.random() < 0.6 else min(150.0, rng.lognormvariate(3.0, 1.0))


class _Ids:
    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        n = self._next.get(prefix, 0) + 1
        self._next[prefix] = n
        return f"{prefix}_{n:06d}"

    def ip(self, rng: random.Random) -> str:
        return f"198.{rng.randrange(18, 20)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _micro(rng: random.Random, median_dollars: float, sigma: float, lo: int, hi: int) -> int:
    """A lognormal amount in micro-dollars, truncated to whole micro-dollars, in [lo, hi]."""
    return max(lo, min(hi, int(rng.lognormvariate(math.log(median_dollars * MICRO), sigma))))


class _World:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.ids = _Ids()
        self.out: list[tuple[int, int, LabelledEvent]] = []
        self._seq = 0
        rng = self.rng
        self.customers = [self._person("cus") for _ in range(config.customers)]
        self.merchants = [self._person("mer") for _ in range(config.merchants)]
        for c in self.customers:
            c.friends = [p.id for p in rng.sample(self.customers, 3)]
            if rng.random() < 0.2:
                c.carrier = self.ids.new("phone")
        self.merchant_weights = [1.0 / (i + 1) for i in range(config.merchants)]
        self.open_weights = list(self.merchant_weights)  # merchants not yet joined: 0
        self.vouchers = [m.id for m in self.merchants[: config.voucher_merchants]]
        self.brokers = [self._person("cus") for _ in range(config.brokers)]
        self.by_id = {p.id: p for p in self.customers + self.merchants + self.brokers}
        # Compromised merchants (every payment to them is fraud) and accounts (a third of
        # their payments are a fraudster's, larger): id -> the first day they are clean again.
        self.bad_merchants: dict[str, int] = {}
        self.bad_accounts: dict[str, int] = {}

    def _person(self, prefix: str) -> _Person:
        return _Person(self.ids.new(prefix), self.rng, self.ids)

    def emit(self, event: RiskEvent, label: int = 0, typology: str = "") -> None:
        """Record the event with its label (kept in the order events were made, per time)."""
        self._seq += 1
        self.out.append((event.timestamp_ns, self._seq, LabelledEvent(event, label, typology)))

    def act(
        self,
        p: _Person,
        t_ns: int,
        kind: str,
        amount: int,
        payee: str,
        instrument: str | None = None,
        typology: str = "",
    ) -> None:
        """An event ``p`` made from its own device and IP: fraud (label 1) of ``typology``
        when one is named, legitimate otherwise."""
        label = 1 if typology else 0
        event = RiskEvent(t_ns, kind, amount, ASSET, p.id, payee, p.device, p.ip, instrument)
        self.emit(event, label, typology)

    def at_hour(self, day: int) -> int:
        hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return (
            self.config.start_ns
            + day * NS_PER_DAY
            + hour * 3_600 * NS_PER_S
            + self.rng.randrange(3_600 * NS_PER_S)
        )

    # -- legitimate traffic ---------------------------------------------------------------
    def signup(self, p: _Person, t: int, referrer: str = "") -> None:
        self.act(p, t, "signup", 0, referrer)

    def topup(self, p: _Person, t: int, need: int) -> int:
        rng = self.rng
        if p.carrier and rng.random() < 0.5:
            amount = rng.choice((5, 10, 10, 20)) * MICRO
            kind, instrument = "topup_carrier", p.carrier
        else:
            amount = rng.choice((10, 20, 20, 25, 50, 50, 100)) * MICRO
            kind, instrument = "topup", p.card
        amount = max(amount, (need // (10 * MICRO) + 1) * 10 * MICRO)
        amount = min(amount, 100 * MICRO if need <= 100 * MICRO else 500 * MICRO)
        if rng.random() < 0.02:  # an expired card, a typo: declined, then retried
            self.act(p, t, "topup_declined", amount, p.id, instrument)
            t += rng.randrange(20, 300) * NS_PER_S
        self.act(p, t, kind, amount, p.id, instrument)
        p.balance += amount
        return t

    def customer_day(self, p: _Person, day: int) -> None:
        rng = self.rng
        if rng.random() < 0.004:  # a new phone
            p.device, p.ip = self.ids.new("dev"), self.ids.ip(rng)
        n = min(40, int(rng.expovariate(1.0 / p.rate)))
        for _ in range(n):
            t = self.at_hour(day)
            merchant = rng.choices(self.merchants, weights=self.open_weights)[0]
            if merchant.id in self.vouchers and rng.random() < 0.7:
                merchant = self.merchants[-1]  # legit customers rarely buy vouchers
            amount = _micro(
                rng,
                p.spend,
                1.1 if p.spend < 1 else 0.6,
                1_000,
                20 * MICRO if p.spend < 1 else 400 * MICRO,
            )
            if rng.random() < 0.03:
                amount = rng.choice((1, 5, 10, 20)) * MICRO  # a round purchase
            typology = ""  # fraud when named
            if self.bad_merchants.get(merchant.id, -1) > day:
                typology = "compromised_merchant"
            elif self.bad_accounts.get(p.id, -1) > day and rng.random() < 1 / 3:
                amount = amount * rng.randint(3, 6)
                typology = "compromised_account"
            if p.balance < amount:
                t = self.topup(p, t - rng.randrange(60, 600) * NS_PER_S, amount)
                t += rng.randrange(5, 120) * NS_PER_S
            self.act(p, t, "payment", amount, merchant.id, typology=typology)
            p.balance -= amount
            merchant.balance += amount
        if rng.random() < 0.06 and p.friends:
            t = self.at_hour(day)
            friend = self.by_id[rng.choice(p.friends)]
            amount = (
                rng.choice((5, 10, 15, 20, 25, 30, 40, 50)) * MICRO
                if rng.random() < 0.6
                else _micro(rng, 12.0, 0.8, 100_000, 200 * MICRO)
            )
            if p.balance < amount:
                t = self.topup(p, t - rng.randrange(60, 900) * NS_PER_S, amount)
                t += rng.randrange(5, 300) * NS_PER_S
            self.act(p, t, "transfer", amount, friend.id)
            p.balance -= amount
            friend.balance += amount

    def first_session(
        self, rng: random.Random, p: _Person, t: int, money: int, joined_ns: dict[str, int]
    ) -> None:
        """A newcomer's first minutes after its first top-up (``money``): a few small
        payments, often to a creator who joined in the last three days (the one it came for:
        a new creator's first audience is new people), sometimes a little to a friend.
        Without them a model learns that a fresh payer paying a fresh payee is always a
        scheme. An overlay: the balances (which time later top-ups) are left as they were,
        the session spends only what its top-up brought."""
        if rng.random() >= 0.8:
            return
        shops = [
            m
            for m in self.merchants[self.config.voucher_merchants + 1 :]
            if m.id not in self.bad_merchants and joined_ns[m.id] <= t
        ]
        recent = [m for m in shops if t - joined_ns[m.id] <= 3 * NS_PER_DAY]
        came_for = rng.choice(recent) if recent and rng.random() < 0.6 else None
        for _ in range(rng.randint(1, 6)):
            t += rng.randrange(20, 600) * NS_PER_S
            merchant = came_for or rng.choice(shops)
            amount = min(_micro(rng, 0.5, 1.2, 10_000, 5 * MICRO), money)
            if amount <= 0:
                return
            self.act(p, t, "payment", amount, merchant.id)
            money -= amount
        if p.friends and money > 0 and rng.random() < 0.3:
            amount = min(rng.choice((1, 2, 3, 5)) * MICRO, money)
            t += rng.randrange(30, 900) * NS_PER_S
            self.act(p, t, "transfer", amount, rng.choice(p.friends))

    def merchant_day(self, m: _Person, day: int, weekday: int) -> None:
        rng = self.rng
        if rng.random() < 0.002:
            m.payout = self.ids.new("bank")
            self.act(m, self.at_hour(day), "payout_method_change", 0, m.payout)
        instant = int(m.id[-6:]) % 7 == 0
        due = (instant and m.balance > 50 * MICRO) or (weekday == 0 and m.balance > MICRO)
        if due and m.balance > 0:
            t = (
                self.config.start_ns
                + day * NS_PER_DAY
                + (9 * 3_600 + rng.randrange(3_600)) * NS_PER_S
            )
            kind = "payout_instant" if instant else "payout"
            self.act(m, t, kind, m.balance, m.payout)
            m.balance = 0

    # -- fraud ----------------------------------------------------------------------------
    def ato(self, day: int) -> None:
        rng = self.rng
        victims = [c for c in self.customers if c.balance > 20 * MICRO]
        if not victims:
            return
        victim = rng.choice(victims)
        t = self.at_hour(day)
        device, ip = self.ids.new("dev"), self.ids.ip(rng)
        mule = self._person("cus")
        self.signup(mule, t - rng.randrange(1, 48) * 3_600 * NS_PER_S)
        left = victim.balance
        for _ in range(rng.randint(1, 2)):
            amount = left if rng.random() < 0.5 else left * rng.randint(6, 9) // 10
            if amount <= 0:
                break
            stolen = RiskEvent(t, "transfer", amount, ASSET, victim.id, mule.id, device, ip)
            self.emit(stolen, label=1, typology="ato")
            left -= amount
            t += rng.randrange(30, 600) * NS_PER_S
        victim.balance = left

    def card_testing(self, day: int) -> None:
        rng = self.rng
        fraudster = self._person("cus")
        t = self.at_hour(day)
        self.signup(fraudster, t)
        for _ in range(rng.randint(8, 30)):
            t += rng.randrange(5, 90) * NS_PER_S
            card = self.ids.new("card")
            amount = rng.choice((1, 2, 3, 5)) * MICRO
            declined = rng.random() < 0.8
            kind = "topup_declined" if declined else "topup"
            self.act(fraudster, t, kind, amount, fraudster.id, card, typology="card_testing")

    def mule(self, day: int) -> None:
        rng = self.rng
        mule = self._person("mer")
        t = self.at_hour(day) - 2 * NS_PER_DAY
        self.signup(mule, t)
        t += NS_PER_DAY + rng.randrange(NS_PER_DAY // 2)
        total = 0
        for payer in rng.sample(self.customers, rng.randint(8, 25)):
            t += rng.randrange(60, 1_200) * NS_PER_S
            amount = _micro(rng, 40.0, 0.5, 5 * MICRO, 200 * MICRO)
            if payer.balance < amount:
                self.topup(payer, t - 120 * NS_PER_S, amount)
            self.act(payer, t, "payment", amount, mule.id, typology="mule")
            payer.balance -= amount
            total += amount
        t += rng.randrange(60, 900) * NS_PER_S
        self.act(mule, t, "payout_instant", total, mule.payout, typology="mule")

    def carrier_cashout(self, day: int) -> None:
        rng = self.rng
        person = self._person("cus")
        person.carrier = self.ids.new("phone")
        t = self.at_hour(day) - rng.randrange(0, 10) * NS_PER_DAY
        self.signup(person, t)
        total = 0
        target = rng.randint(85, 100) * MICRO  # up to the phone's monthly limit of 100
        while total < target - 4 * MICRO:
            t += rng.randrange(60, 3_600) * NS_PER_S
            amount = min(target - total, rng.choice((20, 25, 30, 40, 50)) * MICRO)
            self.act(
                person,
                t,
                "topup_carrier",
                amount,
                person.id,
                person.carrier,
                typology="carrier_cashout",
            )
            total += amount
        t += rng.randrange(60, 1_800) * NS_PER_S
        if rng.random() < 0.5:
            self.act(
                person, t, "payment", total, rng.choice(self.vouchers), typology="carrier_cashout"
            )
        else:
            broker = rng.choice(self.brokers)
            self.act(person, t, "transfer", total, broker.id, typology="carrier_cashout")
            broker.balance += total

    def circular(self, day: int) -> None:
        rng = self.rng
        ring = [self._person("cus") for _ in range(rng.randint(3, 5))]
        t = self.at_hour(day)
        for p in ring:
            self.signup(p, t - rng.randrange(1, 5) * NS_PER_DAY)
        head = ring[0]
        seed_amount = rng.randint(100, 200) * MICRO
        self.act(head, t, "topup", seed_amount, head.id, head.card, typology="circular")
        amount = seed_amount
        for _ in range(rng.randint(2, 4)):
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                t += rng.randrange(120, 3_600) * NS_PER_S
                amount -= rng.randrange(0, 50) * CENT
                self.act(a, t, "transfer", amount, b.id, typology="circular")

    def structuring(self, day: int) -> None:
        rng = self.rng
        p = self._person("cus")
        t = self.at_hour(day)
        self.signup(p, t - rng.randrange(1, 20) * NS_PER_DAY)
        payees = [self._person("cus") for _ in range(rng.randint(1, 3))]
        for _ in range(rng.randint(3, 7)):
            t += rng.randrange(300, 4 * 3_600) * NS_PER_S
            amount = rng.randint(8_500, 9_999) * CENT  # just below 100
            self.act(p, t, "topup", amount, p.id, p.card, typology="structuring")
            t += rng.randrange(60, 600) * NS_PER_S
            amount = rng.randint(21_300, 24_999) * CENT  # just below 250
            self.act(
                p,
                t,
                "transfer",
                min(amount, 249 * MICRO),
                rng.choice(payees).id,
                typology="structuring",
            )

    def referral_ring(self, day: int) -> None:
        rng = self.rng
        head = self._person("cus")
        t = self.at_hour(day)
        self.signup(head, t - rng.randrange(1, 30) * NS_PER_DAY)
        devices = [self.ids.new("dev") for _ in range(rng.randint(1, 2))]
        ip = self.ids.ip(rng)
        for _ in range(rng.randint(5, 15)):
            fake = self._person("cus")  # a sock puppet: the ring's devices and IP
            fake.device, fake.ip = rng.choice(devices), ip
            t += rng.randrange(60, 1_800) * NS_PER_S
            self.act(fake, t, "signup", 0, head.id, typology="referral_ring")
            t += rng.randrange(30, 600) * NS_PER_S
            amount = 10 * MICRO
            self.act(fake, t, "topup", amount, fake.id, fake.card, typology="referral_ring")
            t += rng.randrange(30, 600) * NS_PER_S
            self.act(fake, t, "transfer", amount, head.id, typology="referral_ring")

    def compromised_merchant(self, day: int) -> None:
        """A merchant's checkout is compromised: every payment to it for 1-4 weeks is fraud
        (the popular merchants are watched; a smaller one is picked)."""
        rng = self.rng
        merchant = rng.choice(self.merchants[len(self.merchants) // 4 :])
        self.bad_merchants[merchant.id] = day + rng.randint(7, 28)

    def compromised_account(self, day: int) -> None:
        """A customer's credentials are stolen: for two weeks a third of the account's
        payments are the fraudster's, three to six times its usual amount."""
        victim = self.rng.choice(self.customers)
        self.bad_accounts[victim.id] = day + 14

    def merchant_card_testing(self, day: int) -> None:
        """Stolen cards tested against one merchant: fresh accounts each top up a little
        and pay the same merchant a tiny amount, within an hour."""
        rng = self.rng
        merchant = rng.choice(self.merchants)
        t = self.at_hour(day)
        for _ in range(rng.randint(5, 15)):
            tester = self._person("cus")
            t += rng.randrange(10, 180) * NS_PER_S
            self.signup(tester, t)
            card = self.ids.new("card")
            self.act(
                tester,
                t + NS_PER_S,
                "topup",
                5 * MICRO,
                tester.id,
                card,
                typology="merchant_card_testing",
            )
            amount = rng.randrange(10, 200) * CENT // 10
            self.act(
                tester,
                t + 20 * NS_PER_S,
                "payment",
                amount,
                merchant.id,
                typology="merchant_card_testing",
            )

    def run(self) -> None:
        config, rng = self.config, self.rng
        joined: dict[str, int] = {}
        joined_ns: dict[str, int] = {}
        first_topups: list[tuple[_Person, int, int]] = []
        for p in self.customers + self.merchants + self.brokers:
            # Half of the people join during the period: most new accounts are legitimate
            # (a model must not learn that newness is fraud).
            day = 0 if rng.random() < 0.5 else rng.randrange(config.days)
            t = config.start_ns + (day - 1) * NS_PER_DAY + rng.randrange(NS_PER_DAY)
            referrer = ""
            if p.id.startswith("cus") and rng.random() < 0.2:
                referrer = rng.choice(self.customers).id
            self.signup(p, t, "" if referrer == p.id else referrer)
            joined[p.id], joined_ns[p.id] = day, t
            if day > 0 and p.id.startswith("cus") and rng.random() < 0.7:
                # A newcomer tries the product at once: a first top-up minutes after joining.
                before = p.balance
                t = self.topup(p, t + rng.randrange(20, 900) * NS_PER_S, 0)
                first_topups.append((p, t, p.balance - before))
        schemes = {name: getattr(self, name) for name in TYPOLOGIES}
        start_weekday = datetime.fromtimestamp(config.start_ns // NS_PER_S, UTC).weekday()
        for day in range(config.days):
            # New merchants open all the time: their first customers are ordinary people.
            self.open_weights = [
                w if joined[m.id] <= day or i < config.voucher_merchants + 1 else 0.0
                for i, (m, w) in enumerate(zip(self.merchants, self.merchant_weights, strict=True))
            ]
            for c in self.customers:
                if joined[c.id] <= day:
                    self.customer_day(c, day)
            for b in self.brokers:  # a broker spends what was sold to it, at vouchers
                if b.balance > 50 * MICRO:
                    self.act(
                        b,
                        self.at_hour(day),
                        "payment",
                        b.balance,
                        rng.choice(self.vouchers),
                        typology="carrier_cashout",
                    )
                    b.balance = 0
            for m in self.merchants:
                self.merchant_day(m, day, (start_weekday + day) % 7)
            for name, per_k in config.fraud_per_day_per_k.items():
                expected = per_k * config.customers / 1_000
                count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
                for _ in range(count):
                    schemes[name](day)
        # Drawn from their own generator, after everything else: every other event stays
        # exactly as without them.
        sessions = random.Random(config.seed * 1_000_003 + 17)
        for p, t, money in first_topups:
            self.first_session(sessions, p, t, money, joined_ns)


def simulate(config: SimConfig | None = None) -> list[LabelledEvent]:
    """The labelled events of a simulated population, in time order."""
    world = _World(config or SimConfig())
    world.run()
    world.out.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in world.out]


# -- the CSV format (docs/risk.md) -------------------------------------------------------------


def write_csv(events: Iterable[LabelledEvent], path: Path, *, typology: bool = True) -> int:
    """Write ``events`` as CSV (timestamps ISO 8601 UTC with nanoseconds); the row count."""
    columns = [*CSV_COLUMNS, "typology"] if typology else list(CSV_COLUMNS)
    rows = 0
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for e, label, kind in events:
            row = [
                format_timestamp(e.timestamp_ns),
                e.type,
                str(e.amount),
                e.asset,
                e.payer,
                e.payee,
                e.device or "",
                e.ip or "",
                e.instrument or "",
                str(label),
            ]
            if typology:
                row.append(kind)
            writer.writerow(row)
            rows += 1
    return rows


def format_timestamp(ns: int) -> str:
    seconds, frac = divmod(ns, NS_PER_S)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


class CsvError(ValueError):
    """A row of a labelled transaction file that cannot be read; says which line and why."""


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch from an integer (ns) or ISO 8601 (UTC if no offset)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    head, dot, rest = text.partition(".")
    frac_digits = ""
    tail = ""
    if dot:
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac_digits, tail = rest[:i], rest[i:]
    else:
        tail = ""
    when = datetime.fromisoformat((head + tail).replace("Z", "+00:00").replace(" ", "T"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    whole = int(when.timestamp())
    frac_ns = int((frac_digits + "000000000")[:9]) if frac_digits else 0
    return whole * NS_PER_S + frac_ns


def _field(row: dict[str, str | None], name: str, line: int, required: bool) -> str:
    value = (row.get(name) or "").strip()
    if required and not value:
        raise CsvError(f"line {line}: {name} is missing")
    if len(value) > CSV_FIELD_MAX:
        raise CsvError(f"line {line}: {name} is longer than {CSV_FIELD_MAX} characters")
    return value


def read_csv(source: Path | TextIO, *, max_rows: int = CSV_ROWS_MAX) -> Iterator[LabelledEvent]:
    """Read a labelled transaction file: the required columns are timestamp, type, amount,
    asset, payer, payee; device, ip, instrument, label and typology may be missing or empty
    (an empty label counts as 0). Rows come out in file order; an unknown type or a bad value
    raises :class:`CsvError` naming the line."""
    if isinstance(source, Path):
        with source.open(newline="") as f:
            yield from read_csv(f, max_rows=max_rows)
        return
    reader = csv.DictReader(source)
    missing = {"timestamp", "type", "amount", "asset", "payer", "payee"} - set(
        reader.fieldnames or ()
    )
    if missing:
        raise CsvError(f"the header lacks {', '.join(sorted(missing))}")
    for n, row in enumerate(reader):
        line = n + 2
        if n >= max_rows:
            raise CsvError(f"more than {max_rows} rows")
        kind = _field(row, "type", line, True)
        if kind not in EVENT_TYPES:
            raise CsvError(f"line {line}: unknown type {kind!r}")
        try:
            timestamp = parse_timestamp(_field(row, "timestamp", line, True))
            amount_text = _field(row, "amount", line, True)
            if not amount_text.isdigit():
                raise ValueError(f"amount must be a non-negative integer, got {amount_text!r}")
            label_text = _field(row, "label", line, False) or "0"
            if label_text not in ("0", "1"):
                raise ValueError(f"label must be 0 or 1, got {label_text!r}")
        except ValueError as e:
            raise CsvError(f"line {line}: {e}") from None
        event = RiskEvent(
            timestamp,
            kind,
            int(amount_text),
            _field(row, "asset", line, True),
            _field(row, "payer", line, True),
            _field(row, "payee", line, False),
            _field(row, "device", line, False) or None,
            _field(row, "ip", line, False) or None,
            _field(row, "instrument", line, False) or None,
        )
        yield LabelledEvent(event, int(label_text), _field(row, "typology", line, False))
