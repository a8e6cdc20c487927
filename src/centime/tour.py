"""``centime tour``: a short, readable tour of the ledger on a SQLite file.

A wallet is topped up, pays a creator per article and per API call with the platform fee
split off in the same linked chain, authorizes a metered hold that is partly captured, and a
wallet without funds is refused. Every amount is an integer of micro-dollars on the way in and
is only formatted on the way out.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from centime.audit import AuditLog, verify_log
from centime.audit.service import check_proof, export_document, inclusion_document, keyring_of
from centime.audit.sth import generate_key_file
from centime.ledger.engine import Ledger
from centime.ledger.model import (
    AMOUNT_POST_FULL,
    Account,
    AccountFlags,
    CreateTransferStatus,
    Transfer,
    TransferFlags,
)
from centime.money import asset_by_code
from centime.store import LedgerStore
from centime.store.sqlite import SqliteStore

USD = asset_by_code("USD")
WALLET = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY

# Account ids and names of the demo's small chart of accounts.
FUNDING, ALICE, BOB, CREATOR, FEES = 1, 2, 3, 4, 5
NAMES = {
    FUNDING: "funding clearing (card network)",
    ALICE: "Alice's wallet",
    BOB: "Bob's wallet",
    CREATOR: "The Daily Byte (creator earnings)",
    FEES: "platform fee revenue",
}
CODE_TOPUP, CODE_PAYMENT, CODE_FEE, CODE_HOLD = 1, 2, 3, 4
FEE_BP = 200  # 2% platform fee, in basis points


def _fee(amount: int) -> int:
    """2% of ``amount``, rounded down: the remainder of the division stays with the creator."""
    return amount * FEE_BP // 10_000


class _Ids:
    """Transfer ids for the demo, one after another."""

    def __init__(self) -> None:
        self._next: Iterator[int] = itertools.count(1)

    def __call__(self) -> int:
        return next(self._next)


def _payment(ids: _Ids, payer: int, amount: int) -> list[Transfer]:
    """A payment to the creator with the fee split off: one linked chain of two transfers."""
    return [
        Transfer(ids(), payer, CREATOR, amount, "USD", CODE_PAYMENT, flags=TransferFlags.LINKED),
        Transfer(ids(), CREATOR, FEES, _fee(amount), "USD", CODE_FEE),
    ]


def run_demo(path: Path, console: Console | None = None) -> bool:
    """Run the tour on a fresh SQLite file at ``path``; True when the ledger checks clean
    and the audit log verifies."""
    console = console or Console(soft_wrap=True)
    key_file = Path(f"{path}.audit-key.pem")
    for old in (Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")):
        old.unlink(missing_ok=True)
    key_file.unlink(missing_ok=True)
    # The demo operator's signing key, created for this run (mode 0600, never printed); a
    # head is signed after every group so that the tour's last transfer is covered.
    signer = generate_key_file(key_file, time.time_ns())
    audit = AuditLog(signer, head_interval_s=0)
    ids = _Ids()
    with Ledger(SqliteStore.open(path), audit=audit) as ledger:
        say = console.print
        say(f"[bold]centime ledger demo[/] on {path} (USD at scale {USD.scale}: micro-dollars)\n")
        ledger.create_accounts(
            [
                Account(FUNDING, "USD", code=10),
                Account(ALICE, "USD", code=20, flags=WALLET),
                Account(BOB, "USD", code=20, flags=WALLET),
                Account(CREATOR, "USD", code=30, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
                Account(FEES, "USD", code=40),
            ]
        )

        topup = Transfer(ids(), FUNDING, ALICE, USD.parse("5.00"), "USD", CODE_TOPUP)
        _show(say, "Alice tops up 5.00 by card", ledger.create_transfers([topup]))

        article = _payment(ids, ALICE, USD.parse("0.05"))
        _show(
            say,
            "Alice pays 0.05 for an article (payment + 2% fee, one linked chain)",
            ledger.create_transfers(article),
        )

        call = USD.parse("0.000125")
        calls = [event for _ in range(1000) for event in _payment(ids, ALICE, call)]
        results = ledger.create_transfers(calls)
        say(
            f"Alice makes 1,000 API calls at {USD.format(call)} each (2,000 transfers, one batch): "
            f"{results.count(CreateTransferStatus.CREATED)} created"
        )

        _hold_and_capture(say, ledger, ids)
        _show(
            say,
            "Bob (empty wallet) tries to pay 0.10: refused, and the chain leaves no trace",
            ledger.create_transfers(_payment(ids, BOB, USD.parse("0.10"))),
        )

        _balances(console, ledger)
        ledger.expire_due()  # one more group: the writer signs the head of the final tree
        violations = list(ledger.store.check())
        audited = _show_audit(console, ledger.store, article_payment_id=article[0].id)
    if violations:
        console.print(f"[red]ledger check failed: {violations[0]}[/]")
        return False
    console.print(
        "\n[green]ledger check: debits equal credits, every balance equals its "
        "transfers, no wallet below zero[/]"
    )
    return audited


def _hold_and_capture(say: object, ledger: Ledger, ids: _Ids) -> None:
    """A metered hold captured in part, then a second capture of it refused."""
    hold_id = ids()
    hold = Transfer(
        hold_id,
        ALICE,
        CREATOR,
        USD.parse("1.00"),
        "USD",
        CODE_HOLD,
        flags=TransferFlags.PENDING,
        timeout_s=600,
    )
    _show(
        say,
        "Alice authorizes a metered hold of 1.00 for a video stream (10 min)",
        ledger.create_transfers([hold]),
    )
    _show(
        say,
        "The stream ends: capture 0.37, the other 0.63 goes back to Alice",
        ledger.create_transfers([_capture(ids(), hold_id, USD.parse("0.37"))]),
    )
    _show(
        say,
        "Capturing the same hold again is refused",
        ledger.create_transfers([_capture(ids(), hold_id, AMOUNT_POST_FULL)]),
    )


def _capture(transfer_id: int, hold_id: int, amount: int) -> Transfer:
    return Transfer(
        transfer_id, 0, 0, amount, "", 0, flags=TransferFlags.POST_PENDING, pending_id=hold_id
    )


def _show_audit(console: Console, store: LedgerStore, article_payment_id: int) -> bool:
    """Verify the whole audit log, then check one payment's inclusion proof offline, from the
    signed tree head and the published public key alone, as a customer would."""
    with store.audit_reader() as fetch:
        report = verify_log(fetch)
    if not report.ok:
        console.print(f"[red]audit verify failed: {report.problems[0]}[/]")
        return False
    console.print(
        f"\n[bold]Audit log[/]: {report.transfers} transfers in {report.batches} hash-chained "
        f"batches, Merkle root {report.root_hash.hex()[:16]}..., {report.heads} signed tree "
        "heads, all verified"
    )
    document = inclusion_document(store, article_payment_id, None)
    result = check_proof(document, keyring_of([export_document(store)]))
    console.print(f"Inclusion proof of Alice's article payment, checked offline: {result.message}")
    return result.ok


def _show(say: object, what: str, statuses: Sequence[CreateTransferStatus]) -> None:
    words = ", ".join(status.value for status in statuses)
    print_ = say if callable(say) else print
    print_(f"{what}: [bold]{words}[/]")


def _balances(console: Console, ledger: Ledger) -> None:
    table = Table(title="\nBalances (credits - debits, posted; pending shown apart)")
    table.add_column("account")
    table.add_column("balance", justify="right")
    table.add_column("pending in", justify="right")
    table.add_column("pending out", justify="right")
    for account in ledger.lookup_accounts(list(NAMES)):
        table.add_row(
            NAMES[account.id],
            USD.format(account.credits_posted - account.debits_posted),
            USD.format(account.credits_pending),
            USD.format(account.debits_pending),
        )
    console.print(table)
