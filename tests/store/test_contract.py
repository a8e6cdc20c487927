"""The store contract, against both stores: queries, history, totals, and ``check()``
catching a database edited behind the ledger's back (plus ``centime ledger check``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from centime.cli import app
from centime.clock import FakeClock
from centime.ledger.engine import Ledger
from centime.ledger.model import (
    Account,
    AccountBalance,
    AccountFilter,
    PendingStatus,
    Transfer,
)
from centime.limits import QUERY_LIMIT_MAX
from centime.store import LedgerStore, StoreTotals

from ..flags import DMNEC, HISTORY, LINKED, PENDING, POST, START_NS, VOID, A, S

SOURCE = 1  # funds everything, no limits, no history
WALLET = 2  # DMNEC | HISTORY: the account the queries look at
MERCHANT = 3  # no history
FEE = 4  # HISTORY
OTHER = 5  # never touched by WALLET's transfers

StoreFactory = Callable[[], LedgerStore]


def acct(account_id: int, flags: int = 0) -> Account:
    return Account(id=account_id, asset="USD", code=1, flags=flags)


def tr(transfer_id: int, dr: int, cr: int, amount: int, **fields: Any) -> Transfer:
    base: dict[str, Any] = {"asset": "USD", "code": 1}
    base.update(fields)
    return Transfer(
        id=transfer_id, debit_account_id=dr, credit_account_id=cr, amount=amount, **base
    )


@dataclass
class Populated:
    """A ledger with a known history, closed; its store reopened for queries."""

    store: LedgerStore
    url: str
    transfers: list[Transfer]  # every stored transfer, in timestamp order
    expiry_timestamp: int  # when pending 41 expired
    still_pending: int  # a pending transfer left pending
    posted_pending: int  # a pending transfer that was posted (by 31)
    plain: int  # a plain WALLET -> MERCHANT transfer


def _populate(ledger: Ledger, clock: FakeClock) -> tuple[int, int]:
    accounts = [
        acct(SOURCE),
        acct(WALLET, DMNEC | HISTORY),
        acct(MERCHANT),
        acct(FEE, HISTORY),
        acct(OTHER),
    ]
    assert ledger.create_accounts(accounts) == [A.CREATED] * 5
    expected: list[list[S]] = []
    answers: list[list[S]] = []

    def send(batch: list[Transfer], statuses: list[S]) -> None:
        answers.append(ledger.create_transfers(batch))
        expected.append(statuses)

    send([tr(1, SOURCE, WALLET, 10_000)], [S.CREATED])
    # Debits and credits of WALLET interleaved, in several batches; OTHER moves alongside.
    for k in range(6):
        batch = [
            tr(10 + 3 * k, WALLET, MERCHANT, 100 + k),
            tr(11 + 3 * k, SOURCE, OTHER, 1 + k),
            tr(12 + 3 * k, MERCHANT, WALLET, 10 + k),
        ]
        send(batch, [S.CREATED] * 3)
    # A linked chain: payment and fee.
    send(
        [tr(28, WALLET, MERCHANT, 500, flags=LINKED), tr(29, WALLET, FEE, 5)],
        [S.CREATED, S.CREATED],
    )
    # Refused (exceeds credits): no transfer, no history row.
    send([tr(99, WALLET, MERCHANT, 10**9)], [S.EXCEEDS_CREDITS])
    # Two-phase: reserve and post part, reserve and void, reserve left, reserve that expires.
    send(
        [
            tr(30, WALLET, MERCHANT, 300, flags=PENDING),
            tr(31, 0, 0, 120, pending_id=30, flags=POST),
            tr(32, WALLET, FEE, 40, flags=PENDING),
        ],
        [S.CREATED] * 3,
    )
    send([tr(33, 0, 0, 0, pending_id=32, flags=VOID)], [S.CREATED])
    send([tr(40, WALLET, MERCHANT, 70, flags=PENDING)], [S.CREATED])
    send([tr(41, WALLET, FEE, 60, flags=PENDING, timeout_s=5)], [S.CREATED])
    clock.advance(6)
    ledger.expire_due()
    send([tr(50, MERCHANT, WALLET, 1), tr(51, SOURCE, MERCHANT, 2)], [S.CREATED] * 2)
    assert answers == expected
    return 41, 40


@pytest.fixture
def populated(store_factory: StoreFactory, store_url: str) -> Iterator[Populated]:
    clock = FakeClock(START_NS)
    with Ledger(store_factory(), clock, expiry_interval_s=3600) as ledger:
        expiring, still_pending = _populate(ledger, clock)
        (state,) = ledger.pending_states([expiring])
        assert state.status is PendingStatus.EXPIRED
    store = store_factory()
    ids = [1, *range(10, 30), 30, 31, 32, 33, 40, 41, 50, 51]
    transfers = sorted(store.lookup_transfers(ids), key=lambda t: t.timestamp)
    assert len(transfers) == len(ids)
    yield Populated(store, store_url, transfers, state.timestamp, still_pending, 30, 10)


# --------------------------------------------------------------------- lookups


def test_lookups_keep_the_requested_order_and_omit_missing(populated: Populated) -> None:
    store = populated.store
    found = store.lookup_accounts([MERCHANT, 777, SOURCE, FEE, 2**62])
    assert [a.id for a in found] == [MERCHANT, SOURCE, FEE]
    assert found[0] == Account(
        id=MERCHANT,
        asset="USD",
        code=1,
        flags=0,
        user_data=0,
        debits_pending=0,
        debits_posted=sum(10 + k for k in range(6)) + 1,
        credits_pending=70,
        credits_posted=sum(100 + k for k in range(6)) + 500 + 120 + 2,
        timestamp=found[0].timestamp,
    )
    assert store.lookup_accounts([]) == []
    assert store.lookup_accounts([777]) == []

    got = store.lookup_transfers([31, 99, 10, 12345, 1])
    assert [t.id for t in got] == [31, 10, 1]
    post = got[0]
    # A post is stored with the values resolved from its pending transfer.
    assert (post.debit_account_id, post.credit_account_id, post.amount, post.pending_id) == (
        WALLET,
        MERCHANT,
        120,
        30,
    )
    assert (post.asset, post.code, post.flags) == ("USD", 1, POST)
    assert store.lookup_transfers([99]) == []  # failed: never stored

    states = store.pending_states([41, 999, 30, 32, 40])
    assert [(s.transfer_id, s.status) for s in states] == [
        (41, PendingStatus.EXPIRED),
        (30, PendingStatus.POSTED),
        (32, PendingStatus.VOIDED),
        (40, PendingStatus.PENDING),
    ]
    assert states[3].timestamp == 0


# --------------------------------------------------------------------- account transfers


def _touching(populated: Populated, account_id: int, *, debits: bool, credits: bool) -> list[int]:
    return [
        t.timestamp
        for t in populated.transfers
        if (debits and t.debit_account_id == account_id)
        or (credits and t.credit_account_id == account_id)
    ]


def _query(store: LedgerStore, **fields: Any) -> list[int]:
    fields.setdefault("account_id", WALLET)
    fields.setdefault("limit", 1_000)
    return [t.timestamp for t in store.get_account_transfers(AccountFilter(**fields))]


def test_account_transfers_by_side(populated: Populated) -> None:
    store = populated.store
    both = _touching(populated, WALLET, debits=True, credits=True)
    debits = _touching(populated, WALLET, debits=True, credits=False)
    credits = _touching(populated, WALLET, debits=False, credits=True)
    assert len(debits) > 5
    assert len(credits) > 5
    assert _query(store) == both
    assert _query(store, credits=False) == debits
    assert _query(store, debits=False) == credits
    assert _query(store, debits=False, credits=False) == []
    assert _query(store, reversed=True) == both[::-1]
    assert _query(store, debits=False, reversed=True) == credits[::-1]
    assert _query(store, account_id=777) == []
    transfers = store.get_account_transfers(AccountFilter(account_id=OTHER, limit=100))
    assert [t.id for t in transfers] == [11 + 3 * k for k in range(6)]


def test_account_transfers_bounds_are_inclusive_and_limit_applies(populated: Populated) -> None:
    store = populated.store
    both = _touching(populated, WALLET, debits=True, credits=True)
    low, high = both[2], both[7]
    assert _query(store, timestamp_min=low, timestamp_max=high) == both[2:8]
    assert _query(store, timestamp_min=low + 1, timestamp_max=high - 1) == both[3:7]
    assert _query(store, timestamp_min=low) == both[2:]
    assert _query(store, timestamp_max=high) == both[:8]
    assert _query(store, timestamp_min=low, timestamp_max=low) == [low]
    assert _query(store, timestamp_min=high, timestamp_max=low) == []
    assert _query(store, timestamp_min=both[-1] + 1) == []
    assert _query(store, limit=5) == both[:5]
    assert _query(store, limit=5, reversed=True) == both[::-1][:5]
    assert _query(store, timestamp_max=high, limit=3, reversed=True) == [both[7], both[6], both[5]]
    assert (
        _query(store, timestamp_min=low, limit=2, credits=False)
        == [ts for ts in _touching(populated, WALLET, debits=True, credits=False) if ts >= low][:2]
    )


def test_account_transfers_limit_is_capped(store_factory: StoreFactory) -> None:
    with Ledger(store_factory(), FakeClock(START_NS), expiry_interval_s=3600) as ledger:
        assert ledger.create_accounts([acct(SOURCE), acct(MERCHANT)]) == [A.CREATED] * 2
        for first in (1, 1 + QUERY_LIMIT_MAX):
            batch = [tr(first + k, SOURCE, MERCHANT, 1) for k in range(QUERY_LIMIT_MAX)]
            assert ledger.create_transfers(batch) == [S.CREATED] * QUERY_LIMIT_MAX
    store = store_factory()
    for reverse in (False, True):
        query = AccountFilter(account_id=SOURCE, limit=10 * QUERY_LIMIT_MAX, reversed=reverse)
        page = store.get_account_transfers(query)
        assert len(page) == QUERY_LIMIT_MAX
        assert page[0].id == (2 * QUERY_LIMIT_MAX if reverse else 1)


def _page(
    fetch: Callable[[AccountFilter], list[Any]], account_id: int, limit: int, reverse: bool
) -> list[int]:
    """Page through with the documented cursor: last timestamp + 1 (- 1 when reversed)."""
    seen: list[int] = []
    low = high = 0
    for _ in range(10_000):
        page = fetch(
            AccountFilter(
                account_id=account_id,
                limit=limit,
                timestamp_min=low,
                timestamp_max=high,
                reversed=reverse,
            )
        )
        assert len(page) <= limit
        seen += [row.timestamp for row in page]
        if len(page) < limit:
            return seen
        if reverse:
            high = page[-1].timestamp - 1
        else:
            low = page[-1].timestamp + 1
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 19, 1_000])
def test_paging_account_transfers_returns_each_once_in_order(
    populated: Populated, limit: int
) -> None:
    for account_id in (WALLET, MERCHANT, FEE):
        both = _touching(populated, account_id, debits=True, credits=True)
        assert _page(populated.store.get_account_transfers, account_id, limit, False) == both
        assert _page(populated.store.get_account_transfers, account_id, limit, True) == both[::-1]


# --------------------------------------------------------------------- history


def _expected_history(populated: Populated, account_id: int) -> list[AccountBalance]:
    """Replay the account's transfers (and the expiry) in an independent model."""
    by_id = {t.id: t for t in populated.transfers}
    events: list[tuple[int, str, Transfer]] = [(t.timestamp, "transfer", t) for t in by_id.values()]
    events.append((populated.expiry_timestamp, "expire", by_id[41]))
    dp = dpo = cp = cpo = 0
    rows = []
    for timestamp, kind, t in sorted(events, key=lambda e: e[0]):
        if account_id not in (t.debit_account_id, t.credit_account_id):
            continue
        debit = t.debit_account_id == account_id
        if kind == "expire" or t.flags & VOID:
            reserve = by_id[t.pending_id].amount if t.flags & VOID else t.amount
            dp, cp = (dp - reserve, cp) if debit else (dp, cp - reserve)
        elif t.flags & PENDING:
            dp, cp = (dp + t.amount, cp) if debit else (dp, cp + t.amount)
        elif t.flags & POST:
            reserve = by_id[t.pending_id].amount
            if debit:
                dp, dpo = dp - reserve, dpo + t.amount
            else:
                cp, cpo = cp - reserve, cpo + t.amount
        elif debit:
            dpo += t.amount
        else:
            cpo += t.amount
        rows.append(AccountBalance(account_id, timestamp, dp, dpo, cp, cpo))
    return rows


def test_balance_history_has_one_row_per_change(populated: Populated) -> None:
    store = populated.store
    for account_id in (WALLET, FEE):
        expected = _expected_history(populated, account_id)
        assert len(expected) > 4
        got = store.get_account_balances(AccountFilter(account_id=account_id, limit=1_000))
        assert got == expected
        (account,) = store.lookup_accounts([account_id])
        last = got[-1]
        assert (last.debits_pending, last.debits_posted, last.credits_pending) == (
            account.debits_pending,
            account.debits_posted,
            account.credits_pending,
        )
        assert last.credits_posted == account.credits_posted
        assert (
            store.get_account_balances(
                AccountFilter(account_id=account_id, limit=1_000, reversed=True)
            )
            == expected[::-1]
        )
        stamps = [row.timestamp for row in expected]
        assert [
            row.timestamp
            for row in store.get_account_balances(
                AccountFilter(account_id=account_id, limit=3, timestamp_min=stamps[1])
            )
        ] == stamps[1:4]
        for limit in (1, 2, 5, 1_000):
            assert _page(store.get_account_balances, account_id, limit, False) == stamps
            assert _page(store.get_account_balances, account_id, limit, True) == stamps[::-1]
    # The expiry released the FEE reserve at its own timestamp.
    fee_rows = store.get_account_balances(AccountFilter(account_id=FEE, limit=1_000))
    assert populated.expiry_timestamp in [row.timestamp for row in fee_rows]


def test_no_history_for_an_account_without_the_flag(populated: Populated) -> None:
    store = populated.store
    for account_id in (MERCHANT, SOURCE, OTHER, 777):
        assert store.get_account_balances(AccountFilter(account_id=account_id, limit=100)) == []
        assert store.balance_at(account_id, populated.transfers[-1].timestamp) is None


def test_balance_at_stands_between_events(populated: Populated) -> None:
    store = populated.store
    for account_id in (WALLET, FEE):
        rows = _expected_history(populated, account_id)
        assert store.balance_at(account_id, rows[0].timestamp - 1) is None
        for row, following in zip(rows, [*rows[1:], None], strict=True):
            assert store.balance_at(account_id, row.timestamp) == row
            if following is not None:
                assert store.balance_at(account_id, following.timestamp - 1) == row
            else:
                assert store.balance_at(account_id, row.timestamp + 10**12) == row


# --------------------------------------------------------------------- totals


def test_totals(populated: Populated) -> None:
    assert populated.store.totals() == StoreTotals(
        accounts=5,
        transfers=len(populated.transfers),
        last_timestamp=populated.transfers[-1].timestamp,
    )


def test_totals_of_an_empty_store(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.totals() == StoreTotals(accounts=0, transfers=0, last_timestamp=0)
    assert list(store.check()) == []


# --------------------------------------------------------------------- check() and tampering


def _tamper(url: str, *statements: str) -> None:
    """Edit the database behind the ledger's back (plain SQL both databases accept)."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for sql in statements:
                connection.execute(sql)
            connection.commit()
        finally:
            connection.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:
        for sql in statements:
            pg.execute(sql)  # type: ignore[arg-type]


_INSERT = (
    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, asset, code,"
    " flags, pending_id, timeout_s, user_data, timestamp) VALUES "
)

# name -> (statements given the Populated ledger, invariant expected, id named in its subject)
Tampering = Callable[[Populated], tuple[list[str], str, int]]

_TAMPERINGS: dict[str, Tampering] = {
    "change_amount": lambda p: (
        [f"UPDATE transfers SET amount = amount + 1 WHERE id = {p.plain}"],
        "balance_equals_transfers",
        MERCHANT,
    ),
    "change_balance": lambda p: (
        [f"UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = {MERCHANT}"],
        "posted_debits_equal_credits",
        0,
    ),
    "change_balance_per_account": lambda p: (
        [f"UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = {MERCHANT}"],
        "balance_equals_transfers",
        MERCHANT,
    ),
    "move_balance_between_accounts": lambda p: (
        [
            f"UPDATE accounts SET credits_posted = credits_posted + 3 WHERE id = {OTHER}",
            f"UPDATE accounts SET credits_posted = credits_posted - 3 WHERE id = {MERCHANT}",
        ],
        "balance_equals_transfers",
        OTHER,
    ),
    "delete_transfer": lambda p: (
        [f"DELETE FROM transfers WHERE id = {p.plain}"],
        "balance_equals_transfers",
        WALLET,
    ),
    "insert_transfer": lambda p: (
        [
            _INSERT + f"(9001, {SOURCE}, {OTHER}, 5, 'USD', 1, 0, 0, 0, 0,"
            f" {p.transfers[0].timestamp - 1})"
        ],
        "balance_equals_transfers",
        OTHER,
    ),
    "delete_pending_state": lambda p: (
        [f"DELETE FROM pending_transfers WHERE transfer_id = {p.still_pending}"],
        "pending_has_state",
        p.still_pending,
    ),
    "delete_resolved_pending_state": lambda p: (
        [f"DELETE FROM pending_transfers WHERE transfer_id = {p.posted_pending}"],
        "pending_has_state",
        p.posted_pending,
    ),
    "delete_post_of_a_pending": lambda p: (
        [f"DELETE FROM transfers WHERE pending_id = {p.posted_pending}"],
        "resolution_recorded",
        p.posted_pending,
    ),
    "change_history_row": lambda p: (
        [
            "UPDATE account_balances SET debits_posted = debits_posted + 1"
            f" WHERE account_id = {WALLET} AND timestamp = (SELECT MAX(timestamp)"
            f" FROM account_balances WHERE account_id = {WALLET})"
        ],
        "history_matches_balance",
        WALLET,
    ),
    "overdraw_wallet": lambda p: (
        [
            f"UPDATE accounts SET debits_posted = credits_posted + 1 WHERE id = {WALLET}",
        ],
        "debits_must_not_exceed_credits",
        WALLET,
    ),
    "change_asset": lambda p: (
        [f"UPDATE transfers SET asset = 'EUR' WHERE id = {p.plain}"],
        "transfer_asset_matches_accounts",
        p.plain,
    ),
    "delete_account": lambda p: (
        [f"DELETE FROM accounts WHERE id = {OTHER}"],
        "transfer_accounts_exist",
        11,
    ),
    "transfer_from_the_future": lambda p: (
        [_INSERT + f"(9002, {SOURCE}, {OTHER}, 5, 'USD', 1, 0, 0, 0, 0, {2**62})"],
        "clock_ahead_of_records",
        0,
    ),
    "mark_pending_as_posted": lambda p: (
        [f"UPDATE pending_transfers SET status = 'posted' WHERE transfer_id = {p.still_pending}"],
        "resolution_recorded",
        p.still_pending,
    ),
    "turn_plain_into_pending": lambda p: (
        [f"UPDATE transfers SET flags = {PENDING} WHERE id = {p.plain}"],
        "pending_has_state",
        p.plain,
    ),
    "turn_clock_back": lambda p: (
        [f"UPDATE ledger_clock SET timestamp = {p.transfers[-1].timestamp - 1} WHERE id = 1"],
        "clock_ahead_of_records",
        0,
    ),
    "change_account_asset": lambda p: (
        [f"UPDATE accounts SET asset = 'EUR' WHERE id = {OTHER}"],
        "transfer_asset_matches_accounts",
        11,
    ),
    "amounts_that_overflow_a_sum": lambda p: (
        [
            _INSERT + f"(9003, {SOURCE}, {OTHER}, {2**63 - 1}, 'USD', 1, 0, 0, 0, 0, 1)",
            _INSERT + f"(9004, {SOURCE}, {OTHER}, {2**63 - 1}, 'USD', 1, 0, 0, 0, 0, 2)",
        ],
        "balance_equals_transfers",
        0,
    ),
}


def test_check_finds_nothing_on_a_good_store(populated: Populated) -> None:
    assert list(populated.store.check()) == []


@pytest.mark.parametrize("name", sorted(_TAMPERINGS))
def test_check_reports_tampering(
    populated: Populated, store_factory: StoreFactory, name: str
) -> None:
    assert list(populated.store.check()) == []
    statements, invariant, subject_id = _TAMPERINGS[name](populated)
    _tamper(populated.url, *statements)
    violations = list(store_factory().check())
    assert violations, f"{name}: no violation reported"
    named = [v for v in violations if v.invariant == invariant]
    assert named, f"{name}: expected {invariant}, got {[str(v) for v in violations]}"
    if subject_id:
        assert any(str(subject_id) in v.subject.split() for v in named), [str(v) for v in named]


def test_ledger_check_command(populated: Populated) -> None:
    runner = CliRunner()
    args = ["ledger", "check", "--database-url", populated.url]
    good = runner.invoke(app, args)
    assert good.exit_code == 0, good.output
    assert "ledger ok" in good.output
    assert "VIOLATION" not in good.output

    _tamper(populated.url, f"UPDATE transfers SET amount = amount + 7 WHERE id = {populated.plain}")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1, bad.output
    assert "VIOLATION balance_equals_transfers" in bad.output
    assert "ledger ok" not in bad.output
    assert bad.output.count("VIOLATION") == 1  # the first only, without --all
    every = runner.invoke(app, [*args, "--all"])
    assert every.exit_code == 1
    assert every.output.count("VIOLATION") >= 2  # the debit and the credit account
