"""Re-implementation of the Fraud Detection Handbook's transaction data simulator.

Le Borgne et al., "Reproducible Machine Learning for Credit Card Fraud Detection - Practical
Handbook", chapter 3.2 "Transaction data simulator". Same algorithm and the same seeds as the
handbook's pandas code, written with numpy and the standard library only (no pandas here):

- customers: np.random.seed(0); per customer uniform x, y on [0, 100], mean amount
  uniform(5, 100), std = mean / 2, mean transactions a day uniform(0, 4);
- terminals: np.random.seed(1); per terminal uniform x, y on [0, 100];
- a customer uses the terminals strictly within radius r = 5 of it;
- transactions: per customer, random.seed(id) and np.random.seed(id); per day a
  poisson(mean_nb_tx_per_day) count; per transaction a time int(normal(43200, 20000)) kept only
  strictly inside the day, an amount normal(mean, std) (negative: uniform(0, 2 * mean)) rounded
  to cents, a terminal random.choice(available);
- all sorted by time (quicksort, as pandas' sort_values), the position is the transaction id;
- frauds: scenario 1 amount > 220; scenario 2 for day in range(max day): 2 terminals drawn
  with RandomState(day) (pandas' Series.sample(n=2, random_state=day)), every transaction on
  them in [day, day + 28) is fraud; scenario 3 for day in range(max day): 3 customers drawn
  with RandomState(day), random.seed(day), random.sample of a third of their transactions in
  [day, day + 14): amount x5 and fraud. The scenario kept is the last applied (as the
  handbook's TX_FRAUD_SCENARIO).

The handbook's figures for 5,000 customers, 10,000 terminals, 183 days from 2018-04-01:
1,754,155 transactions, 14,681 fraud (0.008369271814634397); the first one at
2018-04-01 00:00:31 by customer 596 at terminal 3156 for 57.16. The script prints its own.

Written in centime's labelled-CSV format (docs/risk.md "The labelled transaction file"):
timestamp (ISO 8601 UTC), type payment, amount in micro-dollars (USD, scale 6; --cents: in
cents under the asset USDC, which the platform does not know, so read at scale 0), asset,
payer cust<id>, payee term<id>, empty device/ip/instrument, label, typology
(large_amount, compromised_terminal, compromised_customer; empty when legitimate).

Amounts are integer cents from the moment they are drawn (the handbook rounds them to
cents), so no float reaches the file.

Usage: python handbook_gen.py OUT.csv [--cents] [--customers 5000] [--terminals 10000]
       [--days 183] [--radius 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from centime.risk.simulate import CSV_COLUMNS

START = datetime(2018, 4, 1, tzinfo=UTC)
SECONDS_PER_DAY = 86_400
LARGE_AMOUNT_CENTS = 22_000  # scenario 1: amount > 220
TERMINAL_DAYS = 28
CUSTOMER_DAYS = 14
# --seed N adds N * this to every seed (profiles, customers, days): another population drawn
# the same way; 0 is the handbook's.
SEED_STRIDE = 1_000_003
TYPOLOGY = {0: "", 1: "large_amount", 2: "compromised_terminal", 3: "compromised_customer"}


@dataclass(frozen=True, slots=True)
class Customer:
    cid: int
    x: float
    y: float
    mean_amount: float
    std_amount: float
    mean_tx_per_day: float


@dataclass(slots=True)
class Transactions:
    seconds: npt.NDArray[np.int64]
    days: npt.NDArray[np.int64]
    customers: npt.NDArray[np.int64]
    terminals: npt.NDArray[np.int64]
    cents: npt.NDArray[np.int64]
    label: npt.NDArray[np.int8]
    scenario: npt.NDArray[np.int8]


def customer_profiles(n: int, seed: int = 0) -> list[Customer]:
    rs = np.random.RandomState(seed)  # the stream of np.random.seed(seed)
    out = []
    for cid in range(n):
        x = rs.uniform(0, 100)
        y = rs.uniform(0, 100)
        mean_amount = rs.uniform(5, 100)
        mean_tx = rs.uniform(0, 4)
        out.append(Customer(cid, x, y, mean_amount, mean_amount / 2, mean_tx))
    return out


def terminal_locations(n: int, seed: int = 1) -> npt.NDArray[np.float64]:
    rs = np.random.RandomState(seed)
    xy = np.empty((n, 2))
    for tid in range(n):
        xy[tid, 0] = rs.uniform(0, 100)
        xy[tid, 1] = rs.uniform(0, 100)
    return xy


def terminals_within(c: Customer, xy: npt.NDArray[np.float64], radius: float) -> list[int]:
    dist = np.sqrt(np.sum(np.square(np.array([c.x, c.y]) - xy), axis=1))
    return [int(t) for t in np.where(dist < radius)[0]]


def customer_transactions(
    c: Customer, terminals: list[int], days: int, offset: int = 0
) -> list[tuple[int, int, int, int]]:
    """(seconds since start, day, terminal, cents) in the handbook's draw order."""
    py = random.Random(c.cid + offset)  # random.seed(customer id)
    rs = np.random.RandomState(c.cid + offset)  # np.random.seed(customer id)
    out = []
    for day in range(days):
        for _ in range(rs.poisson(c.mean_tx_per_day)):
            time_s = int(rs.normal(SECONDS_PER_DAY / 2, 20_000))
            if not 0 < time_s < SECONDS_PER_DAY:
                continue
            amount = rs.normal(c.mean_amount, c.std_amount)
            if amount < 0:
                amount = rs.uniform(0, c.mean_amount * 2)
            cents = round(float(np.round(amount, decimals=2)) * 100)
            if terminals:
                out.append((time_s + day * SECONDS_PER_DAY, day, py.choice(terminals), cents))
    return out


def generate(
    n_customers: int, n_terminals: int, days: int, radius: float, offset: int = 0
) -> tuple[int, Transactions]:
    profiles = customer_profiles(n_customers, seed=offset)
    xy = terminal_locations(n_terminals, seed=1 + offset)
    rows: list[tuple[int, int, int, int, int]] = []
    for c in profiles:
        available = terminals_within(c, xy, radius)
        rows.extend(
            (s, d, c.cid, t, a) for s, d, t, a in customer_transactions(c, available, days, offset)
        )
    table = np.array(rows, dtype=np.int64).reshape(-1, 5)
    order = np.argsort(table[:, 0], kind="quicksort")  # pandas sort_values' default
    table = table[order]
    n = len(table)
    tx = Transactions(
        table[:, 0].copy(),
        table[:, 1].copy(),
        table[:, 2].copy(),
        table[:, 3].copy(),
        table[:, 4].copy(),
        np.zeros(n, np.int8),
        np.zeros(n, np.int8),
    )
    return n_terminals, tx


def add_frauds(tx: Transactions, n_customers: int, n_terminals: int, offset: int = 0) -> list[int]:
    """The three scenarios in the handbook's order; the count each added."""
    large = tx.cents > LARGE_AMOUNT_CENTS
    tx.label[large] = 1
    tx.scenario[large] = 1
    counts = [int(tx.label.sum())]
    last_day = int(tx.days.max())
    for day in range(last_day):
        compromised = np.random.RandomState(day + offset).choice(n_terminals, size=2, replace=False)
        hit = (
            (tx.days >= day) & (tx.days < day + TERMINAL_DAYS) & np.isin(tx.terminals, compromised)
        )
        tx.label[hit] = 1
        tx.scenario[hit] = 2
    counts.append(int(tx.label.sum()) - sum(counts))
    for day in range(last_day):
        compromised = np.random.RandomState(day + offset).choice(n_customers, size=3, replace=False)
        window = (
            (tx.days >= day) & (tx.days < day + CUSTOMER_DAYS) & np.isin(tx.customers, compromised)
        )
        candidates = [int(i) for i in np.flatnonzero(window)]
        picked = random.Random(day + offset).sample(candidates, k=int(len(candidates) / 3))
        tx.cents[picked] *= 5
        tx.label[picked] = 1
        tx.scenario[picked] = 3
    counts.append(int(tx.label.sum()) - sum(counts))
    return counts


def write(tx: Transactions, path: Path, *, cents: bool) -> None:
    asset, scale = ("USDC", 1) if cents else ("USD", 10_000)  # cents -> micro-dollars: x 10^4
    start_s = int(START.timestamp())
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*CSV_COLUMNS, "typology"])  # the labelled-CSV format, and the scheme
        for s, cust, term, amount, label, scen in zip(
            tx.seconds.tolist(),
            tx.customers.tolist(),
            tx.terminals.tolist(),
            tx.cents.tolist(),
            tx.label.tolist(),
            tx.scenario.tolist(),
            strict=True,
        ):
            when = datetime.fromtimestamp(start_s + s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow(
                [
                    when,
                    "payment",
                    amount * scale,
                    asset,
                    f"cust{cust}",
                    f"term{term}",
                    "",
                    "",
                    "",
                    label,
                    TYPOLOGY[scen],
                ]
            )


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--cents", action="store_true")
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--terminals", type=int, default=10_000)
    p.add_argument("--days", type=int, default=183)
    p.add_argument("--radius", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0, help="0: the handbook's seeds exactly")
    a = p.parse_args(argv)
    offset = a.seed * SEED_STRIDE
    n_terminals, tx = generate(a.customers, a.terminals, a.days, a.radius, offset)
    first = START + timedelta(seconds=int(tx.seconds[0]))
    print(
        f"first: {first:%Y-%m-%d %H:%M:%S} customer {tx.customers[0]} terminal"
        f" {tx.terminals[0]} {tx.cents[0] / 100:.2f}"
    )
    counts = add_frauds(tx, a.customers, n_terminals, offset)
    print(f"frauds added by scenario 1, 2, 3: {counts[0]:,}, {counts[1]:,}, {counts[2]:,}")
    for code, name in TYPOLOGY.items():
        if code:
            print(f"  {name}: {int((tx.scenario == code).sum()):,} rows")
    write(tx, a.out, cents=a.cents)
    n, fraud = len(tx.label), int(tx.label.sum())
    print(f"{n:,} rows, {fraud:,} fraud ({fraud / n:.4%}; {fraud / n!r}) to {a.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
