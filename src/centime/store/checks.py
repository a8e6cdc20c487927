"""``centime ledger check``: every invariant of the ledger, verified over a whole store.

The queries are plain SQL that SQLite and PostgreSQL both run; sums of balances are taken in
Python, whose integers cannot overflow, so a tampered store is reported, not crashed on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from centime.ledger.model import AccountFlags, TransferFlags
from centime.ledger.port import Violation

Fetch = Callable[[str], Iterable[tuple[Any, ...]]]

_PENDING = int(TransferFlags.PENDING)
_VOID = int(TransferFlags.VOID_PENDING)
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY = int(AccountFlags.HISTORY)

# Per account, what its transfers say the four balances must be. Posted: plain transfers and
# posts (a post carries the amount it actually posted; a void carries the pending amount but
# posts nothing). Pending: pending transfers not yet resolved.
_SUMS_BY_ACCOUNT = f"""
SELECT account_id, SUM(dpend), SUM(dpost), SUM(cpend), SUM(cpost) FROM (
  SELECT debit_account_id AS account_id, 0 AS dpend, amount AS dpost, 0 AS cpend, 0 AS cpost
    FROM transfers WHERE (flags & {_PENDING | _VOID}) = 0
  UNION ALL
  SELECT credit_account_id, 0, 0, 0, amount
    FROM transfers WHERE (flags & {_PENDING | _VOID}) = 0
  UNION ALL
  SELECT t.debit_account_id, t.amount, 0, 0, 0
    FROM transfers t JOIN pending_transfers p ON p.transfer_id = t.id
    WHERE p.status = 'pending'
  UNION ALL
  SELECT t.credit_account_id, 0, 0, t.amount, 0
    FROM transfers t JOIN pending_transfers p ON p.transfer_id = t.id
    WHERE p.status = 'pending'
) AS moves GROUP BY account_id
"""

_ACCOUNTS = (
    "SELECT id, asset, flags, debits_pending, debits_posted, credits_pending, credits_posted,"
    " timestamp FROM accounts ORDER BY id"
)

_PENDING_WITHOUT_STATE = f"""
SELECT t.id FROM transfers t LEFT JOIN pending_transfers p ON p.transfer_id = t.id
WHERE (t.flags & {_PENDING}) != 0 AND p.transfer_id IS NULL ORDER BY t.timestamp
"""

_STATE_WITHOUT_PENDING = f"""
SELECT p.transfer_id FROM pending_transfers p LEFT JOIN transfers t ON t.id = p.transfer_id
WHERE t.id IS NULL OR (t.flags & {_PENDING}) = 0 ORDER BY p.transfer_id
"""

_RESOLVED_WITHOUT_RECORD = f"""
SELECT p.transfer_id, p.status FROM pending_transfers p
WHERE p.status IN ('posted', 'voided') AND NOT EXISTS (
  SELECT 1 FROM transfers r WHERE r.pending_id = p.transfer_id AND (r.flags & {_PENDING}) = 0
) ORDER BY p.transfer_id
"""

_TRANSFERS_ACROSS_ASSETS = """
SELECT t.id FROM transfers t
JOIN accounts d ON d.id = t.debit_account_id
JOIN accounts c ON c.id = t.credit_account_id
WHERE d.asset != t.asset OR c.asset != t.asset ORDER BY t.timestamp
"""

_TRANSFERS_WITHOUT_ACCOUNT = """
SELECT t.id FROM transfers t
WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account_id)
   OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account_id)
ORDER BY t.timestamp
"""

_LATEST_HISTORY = """
SELECT b.account_id, b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted
FROM account_balances b JOIN (
  SELECT account_id, MAX(timestamp) AS timestamp FROM account_balances GROUP BY account_id
) latest ON latest.account_id = b.account_id AND latest.timestamp = b.timestamp
"""

_MAX_TIMESTAMPS = """
SELECT (SELECT timestamp FROM ledger_clock WHERE id = 1),
       (SELECT MAX(timestamp) FROM transfers), (SELECT MAX(timestamp) FROM accounts)
"""


def check_ledger(fetch: Fetch) -> Iterator[Violation]:
    """Yield every violated invariant, cheapest and most fundamental first."""
    yield from _check_references(fetch)
    accounts = list(fetch(_ACCOUNTS))
    yield from _check_totals_per_asset(accounts)
    yield from _check_account_limits(accounts)
    yield from _check_balances_against_transfers(fetch, accounts)
    yield from _check_history(fetch, accounts)
    yield from _check_clock(fetch)


def _check_references(fetch: Fetch) -> Iterator[Violation]:
    for (transfer_id,) in fetch(_TRANSFERS_WITHOUT_ACCOUNT):
        yield Violation("transfer_accounts_exist", f"transfer {transfer_id}", "account missing")
    for (transfer_id,) in fetch(_TRANSFERS_ACROSS_ASSETS):
        yield Violation("transfer_asset_matches_accounts", f"transfer {transfer_id}", "mismatch")
    for (transfer_id,) in fetch(_PENDING_WITHOUT_STATE):
        yield Violation("pending_has_state", f"transfer {transfer_id}", "no pending state row")
    for (transfer_id,) in fetch(_STATE_WITHOUT_PENDING):
        yield Violation("state_has_pending", f"transfer {transfer_id}", "not a pending transfer")
    for transfer_id, status in fetch(_RESOLVED_WITHOUT_RECORD):
        yield Violation(
            "resolution_recorded", f"transfer {transfer_id}", f"{status} without a transfer"
        )


def _check_totals_per_asset(accounts: list[tuple[Any, ...]]) -> Iterator[Violation]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for _, asset, _, dpend, dpost, cpend, cpost, _ in accounts:
        sums = totals[asset]
        sums[0] += dpend
        sums[1] += dpost
        sums[2] += cpend
        sums[3] += cpost
    for asset, (dpend, dpost, cpend, cpost) in sorted(totals.items()):
        if dpost != cpost:
            yield Violation("posted_debits_equal_credits", f"asset {asset}", f"{dpost} != {cpost}")
        if dpend != cpend:
            yield Violation("pending_debits_equal_credits", f"asset {asset}", f"{dpend} != {cpend}")


def _check_account_limits(accounts: list[tuple[Any, ...]]) -> Iterator[Violation]:
    for account_id, _, flags, dpend, dpost, cpend, cpost, _ in accounts:
        if flags & _DMNEC and dpend + dpost > cpost:
            yield Violation(
                "debits_must_not_exceed_credits",
                f"account {account_id}",
                f"debits {dpend}+{dpost} > credits {cpost}",
            )
        if flags & _CMNED and cpend + cpost > dpost:
            yield Violation(
                "credits_must_not_exceed_debits",
                f"account {account_id}",
                f"credits {cpend}+{cpost} > debits {dpost}",
            )
        if min(dpend, dpost, cpend, cpost) < 0:
            yield Violation("balances_not_negative", f"account {account_id}", "negative field")


def _check_balances_against_transfers(
    fetch: Fetch, accounts: list[tuple[Any, ...]]
) -> Iterator[Violation]:
    try:
        sums = {row[0]: tuple(int(v or 0) for v in row[1:]) for row in fetch(_SUMS_BY_ACCOUNT)}
    except OverflowError as error:
        yield Violation("balance_equals_transfers", "transfers", f"sums overflow: {error}")
        return
    known = set()
    for account_id, _, _, dpend, dpost, cpend, cpost, _ in accounts:
        known.add(account_id)
        expected = sums.get(account_id, (0, 0, 0, 0))
        if (dpend, dpost, cpend, cpost) != expected:
            yield Violation(
                "balance_equals_transfers",
                f"account {account_id}",
                f"stored {(dpend, dpost, cpend, cpost)} != transfers {expected}",
            )
    for account_id in sorted(set(sums) - known):
        yield Violation("balance_equals_transfers", f"account {account_id}", "no such account")


def _check_history(fetch: Fetch, accounts: list[tuple[Any, ...]]) -> Iterator[Violation]:
    latest = {row[0]: tuple(row[1:]) for row in fetch(_LATEST_HISTORY)}
    for account_id, _, flags, dpend, dpost, cpend, cpost, _ in accounts:
        if not flags & _HISTORY or account_id not in latest:
            continue
        if latest[account_id] != (dpend, dpost, cpend, cpost):
            yield Violation(
                "history_matches_balance",
                f"account {account_id}",
                f"latest history {latest[account_id]} != {(dpend, dpost, cpend, cpost)}",
            )


def _check_clock(fetch: Fetch) -> Iterator[Violation]:
    for clock, transfers_max, accounts_max in fetch(_MAX_TIMESTAMPS):
        newest = max(transfers_max or 0, accounts_max or 0)
        if clock is None or clock < newest:
            yield Violation("clock_ahead_of_records", "ledger_clock", f"{clock} < {newest}")


# SQLite keeps the transfers' per-account entries in tables of their own (migration 0019):
# each must hold exactly the (account, timestamp) of every transfer on its side.
_SIDE_TABLES = (("transfer_debits", "debit_account_id"), ("transfer_credits", "credit_account_id"))


def check_account_tables(fetch: Fetch) -> Iterator[Violation]:
    """SQLite: transfer_debits and transfer_credits agree with the transfers."""
    for table, column in _SIDE_TABLES:
        mine = f"SELECT account_id, timestamp FROM {table}"
        theirs = f"SELECT {column}, timestamp FROM transfers"
        for found, missing, where in ((theirs, mine, table), (mine, theirs, "transfers")):
            for account_id, timestamp in fetch(f"{found} EXCEPT {missing} LIMIT 100"):
                yield Violation(
                    "account_index_complete",
                    f"account {account_id}",
                    f"timestamp {timestamp} is missing from {where}",
                )
