#!/usr/bin/env python3
"""Ledger writer processes on one PostgreSQL database: transfers/s with 1, 2, ... processes.

`centime bench ledger`'s workload (--accounts funded wallets, 10,000 by default, random
transfers between them, batches of --batch-size) split between N processes, each a `Ledger`
on its own store with --clients threads submitting its share, all started together; the
rate is every transfer over the time from the start to the last acknowledgement. With
--partitioned each process moves money among wallets of its own. The counts alternate run
by run (1, 2, 1, 2, ...: both see the same machine); the figures are medians. After each
run the database must hold every transfer, all `created`, and its ledger check must pass.

    .venv/bin/python scripts/bench_writers.py --processes 1,2 --runs 3

It imports centime from the interpreter that runs it: run it with another checkout's
`.venv/bin/python` to measure that checkout (before/after).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from typing import Any

from centime.bench.databases import DEFAULT_POSTGRES_URL, fresh_database
from centime.bench.ledger import set_up_wallets
from centime.bench.workload import Workload
from centime.ledger import CreateTransferStatus, Ledger, Transfer
from centime.store import open_store

SEED = 7
ACCOUNTS_LIMIT = [0]  # the workload's wallets (set in each writer process)
WAIT_MAX_S = 600.0
_CONTEXT = multiprocessing.get_context("spawn")


def _in_partition(batch: list[Transfer], index: int, count: int) -> list[Transfer]:
    """The batch moved to the wallets of partition ``index`` (ids ``index + 1`` modulo
    ``count``): each wallet to the one of its partition just below or at it (the wallets
    are funded alike, so none runs dry)."""

    def wallet(account: int) -> int:
        return account - (account - 1) % count + index

    moved = []
    for t in batch:
        debit, credit = wallet(t.debit_account_id), wallet(t.credit_account_id)
        if credit == debit:
            credit = debit + count if debit + count <= ACCOUNTS_LIMIT[0] else debit - count
        moved.append(t._replace(debit_account_id=debit, credit_account_id=credit))
    return moved


def _writer(
    url: str,
    workload: Workload,
    index: int,
    count: int,
    clients: int,
    partitioned: bool,
    start: Any,
    results: Any,
) -> None:
    """One process: its share of the batches (every count-th), from ``clients`` threads;
    ``partitioned``: moved to wallets of its own."""
    ACCOUNTS_LIMIT[0] = workload.accounts
    ledger = Ledger(open_store(url))
    try:
        mine = (
            _in_partition(b, index, count) if partitioned else b
            for n, b in enumerate(workload.batches())
            if n % count == index
        )
        lock = threading.Lock()
        statuses: Counter[str] = Counter()

        def client() -> None:
            while True:
                with lock:
                    batch = next(mine, None)
                if batch is None:
                    return
                result = ledger.create_transfers(batch)
                with lock:
                    statuses.update(s.value for s in result)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        start.wait()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put((index, dict(statuses), time.time()))
    finally:
        ledger.close()


def one_run(
    postgres_url: str, workload: Workload, count: int, clients: int, partitioned: bool
) -> float:
    """Transfers/s of ``count`` writer processes over a fresh database (checked after)."""
    with fresh_database("postgres", postgres_url) as url:
        with Ledger(open_store(url)) as ledger:
            set_up_wallets(ledger, workload)
            funded = ledger.store.totals().transfers
        start = _CONTEXT.Barrier(count + 1, timeout=WAIT_MAX_S)
        results = _CONTEXT.Queue()
        processes = [
            _CONTEXT.Process(
                target=_writer,
                args=(url, workload, i, count, clients, partitioned, start, results),
            )
            for i in range(count)
        ]
        for process in processes:
            process.start()
        start.wait()
        began = time.time()
        reports = [results.get(timeout=WAIT_MAX_S) for _ in processes]
        for process in processes:
            process.join(WAIT_MAX_S)
        elapsed_s: float = max(done for _, _, done in reports) - began
        statuses = sum((Counter(s) for _, s, _ in reports), Counter())
        created = statuses[CreateTransferStatus.CREATED.value]
        if created != workload.transfers:
            sys.exit(f"{count} writers: {created} of {workload.transfers} created: {statuses}")
        store = open_store(url)
        try:
            violations = list(store.check())
            stored = store.totals().transfers - funded
        finally:
            store.close()
        if violations or stored != workload.transfers:
            sys.exit(f"{count} writers: {stored} stored, check: {violations[:3]}")
        return workload.transfers / elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--accounts", type=int, default=10_000, help="funded wallets")
    parser.add_argument("--transfers", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=8189)
    parser.add_argument("--clients", type=int, default=2, help="threads per process")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--partitioned",
        action="store_true",
        help="each process moves money among wallets of its own (every N-th), as behind a"
        " proxy that sends each customer to one process",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    workload = Workload(args.accounts, args.transfers, args.batch_size, SEED)
    rates: dict[int, list[float]] = {n: [] for n in counts}
    for number in range(1, args.runs + 1):
        for count in counts:
            rate = one_run(args.postgres_url, workload, count, args.clients, args.partitioned)
            rates[count].append(rate)
            print(f"run {number}/{args.runs}: {count} writers: {rate:,.0f} transfers/s", flush=True)
    first = statistics.median(rates[counts[0]])
    for count in counts:
        median = statistics.median(rates[count])
        print(
            f"{count} writers: {median:,.0f} transfers/s (median of {args.runs}),"
            f" {median / first:.2f}x of {counts[0]}"
        )


if __name__ == "__main__":
    main()
