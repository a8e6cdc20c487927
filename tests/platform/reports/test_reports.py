"""Reports: the reconciliation of the sandbox's statement with the books (none when they
agree; every kind of difference when they do not), and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import TopUp, create_topup, process_provider_events
from centime.platform.ids import format_id
from centime.platform.payments import (
    Payment,
    PaymentRequest,
    Refund,
    RefundRequest,
    create_payment,
    refund_payment,
)
from centime.platform.reports.service import day_bounds, export_operations, reconcile
from centime.providers import SandboxConfig, SandboxProvider
from centime.providers.funding import StatementLine
from centime.providers.sandbox import CARD_CHARGED_BACK, CARD_SUCCEEDS

from ..world import customer, fund, merchant

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
USD = 1_000_000
NS = 1_000_000_000


def _today(clock: FakeClock) -> dt.date:
    return dt.datetime.fromtimestamp(clock.now_ns() // NS, tz=dt.UTC).date()


def _top(platform: Platform, sandbox: SandboxProvider, customer_id: int, card: str) -> TopUp:
    made = create_topup(platform, sandbox, customer_id, "USD", 5 * USD, "card", card)
    assert isinstance(made, TopUp), made
    return made


class Tampered:
    """A provider's statement, as a test double of the port, that differs from the books."""

    def __init__(self, lines: list[StatementLine]) -> None:
        self.lines = lines

    @property
    def name(self) -> str:
        return "sandbox"

    def statement(self, start_ns: int, end_ns: int) -> list[StatementLine]:
        return [line for line in self.lines if start_ns <= line.at_ns < end_ns]


def test_the_books_agree_with_the_sandbox_then_every_difference_is_listed(
    platform: Platform, clock: FakeClock
) -> None:
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=5, chargeback_after_s=60))
    ada = customer(platform, tier=2)
    kept = _top(platform, sandbox, ada.id, CARD_SUCCEEDS)
    back = _top(platform, sandbox, ada.id, CARD_CHARGED_BACK)
    clock.advance(61 + 5)
    while process_provider_events(platform, sandbox):
        pass
    day = _today(clock)
    report = reconcile(platform, sandbox, day)
    assert (report.provider_lines, report.platform_lines) == (3, 3)
    assert report.differences == []
    # Another day is empty on both sides.
    assert reconcile(platform, sandbox, day - dt.timedelta(days=1)).differences == []
    # A charge the provider made but the platform has not booked (its event not handled).
    late = _top(platform, sandbox, ada.id, CARD_SUCCEEDS)
    clock.advance(5)
    [missing] = reconcile(platform, sandbox, day).differences
    assert (missing.kind, missing.movement, missing.topup_id) == (
        "status_differs",
        "succeeded",
        late.id,
    )
    assert missing.provider_amount == 5 * USD and missing.platform_amount is None
    # A statement that reports another amount, and lacks a movement the books have.
    lines = sandbox.statement(*day_bounds(day))
    changed = [
        line
        if line.topup_id != kept.id
        else StatementLine(
            line.provider, line.kind, line.topup_id, line.provider_ref, 4 * USD, "USD", line.at_ns
        )
        for line in lines
        if not (line.topup_id == back.id and line.kind == "charged_back")
    ]
    found = {
        (d.kind, d.movement, d.topup_id)
        for d in reconcile(platform, Tampered(changed), day).differences
    }
    assert found == {
        ("amount_differs", "succeeded", kept.id),
        ("missing_at_provider", "charged_back", back.id),
        ("status_differs", "succeeded", late.id),
    }


def _pay(
    platform: Platform,
    customer_id: int,
    merchant_id: int,
    amount: int,
    description: str | None = None,
) -> Payment:
    made = platform.execute(
        create_payment(
            platform,
            PaymentRequest(
                customer_id, merchant_id, "USD", amount, description=description, reference="ord-1"
            ),
        )
    )
    assert isinstance(made, Payment), made
    return made


@SQLITE_ONLY
def test_the_export_lists_payments_and_refunds_of_the_period_in_order(
    platform: Platform, clock: FakeClock
) -> None:
    ada, shop, other = customer(platform), merchant(platform), merchant(platform)
    fund(platform, ada.id, "USD", 100 * USD)
    start = clock.now_ns()
    first = _pay(platform, ada.id, shop.id, 1_234_567, "=cmd|' /C calc'!A0")
    _pay(platform, ada.id, other.id, USD)  # another merchant's: not exported
    clock.advance(10)
    refund = platform.execute(
        refund_payment(platform, RefundRequest(first.id, 234_567, merchant_id=shop.id))
    )
    assert isinstance(refund, Refund), refund
    clock.advance(10)
    end = clock.now_ns()
    _pay(platform, ada.id, shop.id, USD)  # at the period's end: excluded
    made = export_operations(platform, shop.id, start, end)
    assert not isinstance(made, Refusal)
    rows = list(csv.DictReader(io.StringIO("".join(made))))
    assert [r["type"] for r in rows] == ["payment", "refund"]
    paid, back = rows
    assert paid["id"] == format_id("pay", first.id) and back["payment_id"] == paid["id"]
    assert (paid["amount"], paid["amount_decimal"], paid["scale"]) == ("1234567", "1.234567", "6")
    assert (back["amount"], back["amount_decimal"]) == ("234567", "0.234567")
    assert paid["description"].startswith("'=")  # never run as a formula
    assert paid["created_at"] < back["created_at"]


@SQLITE_ONLY
def test_a_bad_or_too_long_period_is_refused(platform: Platform) -> None:
    shop = merchant(platform)
    far = 2**63 - 1 - 86_400 * NS  # past what a BIGINT holds, by the end
    for start, end in ((10, 10), (20, 10), (0, 367 * 86_400 * NS), (far, far + 86_400 * NS + 1)):
        refused = export_operations(platform, shop.id, start, end)
        assert isinstance(refused, Refusal) and refused.code is Code.INVALID_PERIOD
