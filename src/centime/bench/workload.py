"""The benchmark's workload: funded wallets and a lazy stream of random transfers between them.

Every wallet has ``debits_must_not_exceed_credits`` (the limit is checked on every transfer)
and is funded with ``WALLET_FUNDING`` from one clearing account. A transfer moves at most
``TRANSFER_AMOUNT_MAX``; with ``TRANSFERS_MAX`` transfers no wallet can ever run dry, so every
transfer must be ``created`` whatever the seed, and anything else is a bug worth reporting.

Transfers are generated batch by batch from a seeded RNG: a run of 10 million transfers never
holds more than one batch per client in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy

from centime.ledger import Account, AccountFlags, Transfer
from centime.limits import BATCH_EVENTS_MAX

__all__ = [
    "ASSET",
    "TRANSFERS_MAX",
    "Workload",
    "funding_accounts",
    "funding_transfers",
]

ASSET: Final = "USD"
CODE: Final = 1
ACCOUNTS_MAX: Final = 1_000_000
TRANSFERS_MAX: Final = 100_000_000
TRANSFER_AMOUNT_MAX: Final = 1_000
# Enough that TRANSFERS_MAX debits of TRANSFER_AMOUNT_MAX cannot exhaust any wallet, small
# enough that ACCOUNTS_MAX top-ups cannot overflow the clearing account (1e11 * 1e6 < 2**63).
WALLET_FUNDING: Final = TRANSFERS_MAX * TRANSFER_AMOUNT_MAX
# Funding transfers take ids 1..accounts; workload transfers start above every funding id.
TRANSFER_ID_BASE: Final = 1 << 40
# Random numbers are drawn this many transfers at a time, whatever the batch size.
DRAW_CHUNK: Final = BATCH_EVENTS_MAX


@dataclass(frozen=True, slots=True)
class Workload:
    """``accounts`` wallets (ids 1..accounts) and ``transfers`` random transfers between them,
    cut into batches of ``batch_size``; the same seed gives the same transfers."""

    accounts: int
    transfers: int
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        if not 2 <= self.accounts <= ACCOUNTS_MAX:
            raise ValueError(f"accounts must be in 2..{ACCOUNTS_MAX}")
        if not 0 <= self.transfers <= TRANSFERS_MAX:
            raise ValueError(f"transfers must be in 0..{TRANSFERS_MAX}")
        if not 1 <= self.batch_size <= BATCH_EVENTS_MAX:
            raise ValueError(f"batch size must be in 1..{BATCH_EVENTS_MAX}")

    @property
    def clearing_account_id(self) -> int:
        return self.accounts + 1

    def batches(self) -> Iterator[list[Transfer]]:
        """The transfers, lazily, ``batch_size`` at a time (the last batch may be short)."""
        size = self.batch_size
        pending: list[Transfer] = []
        for chunk in self._chunks():
            pending += chunk
            full = len(pending) - len(pending) % size
            for start in range(0, full, size):
                yield pending[start : start + size]
            pending = pending[full:]
        if pending:
            yield pending

    def _chunks(self) -> Iterator[list[Transfer]]:
        """The transfers in chunks of DRAW_CHUNK, whatever the batch size, so that the same
        seed gives the same transfers at every batch size (the naive run's are the first of
        the engine's)."""
        # The client runs in the engine's process and shares its interpreter lock, so it must
        # be cheap: numpy draws a chunk's accounts and amounts at once, and the records are
        # built with tuple.__new__ (3.3 ms a batch of 8189 against 6.4 ms drawing each number
        # with random.random(), which itself was 19.6 ms with randrange()).
        rng = numpy.random.default_rng(self.seed)
        accounts = self.accounts
        next_id = TRANSFER_ID_BASE
        left = self.transfers
        new, zeros = tuple.__new__, itertools.repeat(0)
        while left > 0:
            size = min(DRAW_CHUNK, left)
            debit = rng.integers(0, accounts, DRAW_CHUNK)[:size]  # indexes, not amounts
            # Any other wallet, uniformly: an offset of 1..accounts-1 from the debit one.
            offset = rng.integers(1, accounts, DRAW_CHUNK)[:size]
            credit = (debit + offset) % accounts
            amount = rng.integers(1, TRANSFER_AMOUNT_MAX + 1, DRAW_CHUNK)[:size]  # unbiased
            rows = zip(
                range(next_id, next_id + size),
                (debit + 1).tolist(),
                (credit + 1).tolist(),
                amount.tolist(),
                itertools.repeat(ASSET),
                itertools.repeat(CODE),
                zeros,
                zeros,
                zeros,
                zeros,
                zeros,
            )
            yield [new(Transfer, row) for row in rows]
            next_id += size
            left -= size


def funding_accounts(workload: Workload) -> Iterator[list[Account]]:
    """The wallets and the clearing account that funds them, in batches the engine accepts."""
    wallet = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    batch: list[Account] = []
    for account_id in range(1, workload.accounts + 1):
        batch.append(Account(account_id, ASSET, CODE, flags=wallet))
        if len(batch) == BATCH_EVENTS_MAX:
            yield batch
            batch = []
    batch.append(Account(workload.clearing_account_id, ASSET, CODE))
    yield batch


def funding_transfers(workload: Workload) -> Iterator[list[Transfer]]:
    """One top-up of ``WALLET_FUNDING`` per wallet from the clearing account."""
    clearing = workload.clearing_account_id
    batch: list[Transfer] = []
    for account_id in range(1, workload.accounts + 1):
        batch.append(Transfer(account_id, clearing, account_id, WALLET_FUNDING, ASSET, CODE))
        if len(batch) == BATCH_EVENTS_MAX:
            yield batch
            batch = []
    if batch:
        yield batch
