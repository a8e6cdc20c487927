"""Money is conserved whatever happens: a random sequence of top-ups, payments, batches,
holds, captures, releases, expiries, refunds and transfers between customers, with the
ledger and the rows checked against each other after every step (on both stores).

After each step:
- per asset, the balances of all accounts sum to zero, posted and pending (double entry);
- no customer or merchant account is below zero;
- each payment: refunded <= amount, fee_refunded <= fee, fee <= amount,
  restricted_refunded <= restricted_amount;
- the rows agree with the ledger: each merchant's earnings are its payments less their
  fees less refunds plus returned fees, and what authorized holds reserve is pending; each
  customer's restricted balance and wallet are its top-ups less what it paid plus what came
  back, plus what it received less what it sent; the fee revenue is every fee less what was
  returned;
- each mandate's day total is the day's payments under it, never above its bound.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from centime.clock import FakeClock
from centime.ledger import PendingStatus
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.ids import derive_id
from centime.platform.payments import (
    Capture,
    CaptureRequest,
    Hold,
    HoldRequest,
    HoldStatus,
    Mandate,
    P2PTransfer,
    Payment,
    PaymentItem,
    PaymentRequest,
    Refund,
    RefundRequest,
    TransferRequest,
    authorize_hold,
    capture_hold,
    create_mandate,
    create_payment,
    create_payments_batch,
    expire_holds,
    get_mandate,
    list_holds,
    list_payments,
    refund_payment,
    release_hold,
    revoke_mandate,
    send,
    utc_day,
)

from .world import account, balance, customer, fund, merchant

ASSETS = ("USD", "EUR")
CUSTOMERS = 3
MERCHANTS = 2

customers_ = st.integers(0, CUSTOMERS - 1)
merchants_ = st.integers(0, MERCHANTS - 1)
assets_ = st.sampled_from(ASSETS)
amounts = st.integers(1, 1_500)


def _outcome(result: object) -> str:
    """What an operation did, for the statistics (--hypothesis-show-statistics)."""
    return result.code.value if isinstance(result, Refusal) else "done"


def _reserves(platform: Platform, holds: list[Hold]) -> list[tuple[Hold, str, int]]:
    """(hold, leg, amount) of every hold reserve the ledger still holds: all of an authorized
    hold's; of a hold seen expired (its first reserve lapsed), a second reserve made one
    event later may lapse up to a nanosecond later, and is checked to."""
    names = [(h, name, part) for h in holds for name, part in h.legs()]
    states = {
        s.transfer_id: s
        for s in platform.ledger.pending_states(
            [derive_id("hold", h.id, name) for h, name, _ in names]
        )
    }
    held = []
    for hold, name, part in names:
        state = states[derive_id("hold", hold.id, name)]
        if hold.status is HoldStatus.AUTHORIZED:
            assert state.status is PendingStatus.PENDING
            held.append((hold, name, part))
        elif hold.status is HoldStatus.EXPIRED and state.status is PendingStatus.PENDING:
            assert state.expires_at <= hold.expires_at_ns + 1
            held.append((hold, name, part))
    return held


def _all(page_fn: Any, **kw: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = page_fn(cursor=cursor, **kw)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_money_is_conserved_whatever_happens(platform: Platform, clock: FakeClock) -> None:
    class Money(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # Fresh parties per example; the store (and the operator's accounts) carry on.
            self.customers = [customer(platform, tier=2) for _ in range(CUSTOMERS)]
            self.merchants = [
                merchant(platform, fee_bp=250 * i + 100, fee_fixed={"USD": i})
                for i in range(MERCHANTS)
            ]
            # What the test put in (top-ups are the funding helper's): (customer, asset).
            self.topped: dict[tuple[int, str, bool], int] = defaultdict(int)
            self.payments: list[int] = []
            self.holds: list[int] = []
            self.mandates: list[int] = []
            # Money to start with, so that most steps move some (and some still run short).
            for c in self.customers:
                for asset in ASSETS:
                    self.top_up_(c.id, asset, 4_000, carrier=False)
                    self.top_up_(c.id, asset, 1_000, carrier=True)

        def top_up_(self, customer_id: int, asset: str, amount: int, carrier: bool) -> None:
            fund(platform, customer_id, asset, amount, restricted=carrier)
            self.topped[customer_id, asset, carrier] += amount

        # ------------------------------------------------------------ steps

        @rule(who=customers_, asset=assets_, amount=st.integers(1, 5_000), carrier=st.booleans())
        def top_up(self, who: int, asset: str, amount: int, carrier: bool) -> None:
            self.top_up_(self.customers[who].id, asset, amount, carrier)

        @rule(who=customers_, to=merchants_, asset=assets_, amount=amounts)
        def pay(self, who: int, to: int, asset: str, amount: int) -> None:
            result = platform.execute(
                create_payment(
                    platform,
                    PaymentRequest(self.customers[who].id, self.merchants[to].id, asset, amount),
                )
            )
            event(f"payment: {_outcome(result)}")
            if isinstance(result, Payment):
                self.payments.append(result.id)

        @rule(
            to=merchants_,
            items=st.lists(st.tuples(customers_, assets_, amounts), min_size=1, max_size=6),
        )
        def pay_batch(self, to: int, items: list[tuple[int, str, int]]) -> None:
            batch = [PaymentItem(self.customers[c].id, a, n) for c, a, n in items]
            results = platform.execute(
                create_payments_batch(
                    platform, self.merchants[to].id, batch, charged_by_merchant=False
                )
            )
            assert isinstance(results, list)
            for one in results:
                event(f"batch payment: {_outcome(one)}")
            self.payments.extend(r.id for r in results if isinstance(r, Payment))

        @rule(
            who=customers_,
            to=merchants_,
            asset=assets_,
            amount=amounts,
            timeout_s=st.integers(1, 120),
        )
        def authorize(self, who: int, to: int, asset: str, amount: int, timeout_s: int) -> None:
            result = platform.execute(
                authorize_hold(
                    platform,
                    HoldRequest(
                        self.customers[who].id,
                        self.merchants[to].id,
                        asset,
                        amount,
                        timeout_s=timeout_s,
                    ),
                )
            )
            event(f"authorize: {_outcome(result)}")
            if isinstance(result, Hold):
                self.holds.append(result.id)

        @rule(data=st.data(), amount=amounts)
        def capture(self, data: st.DataObject, amount: int) -> None:
            if not self.holds:
                return
            hold_id = data.draw(st.sampled_from(self.holds))
            result = platform.execute(capture_hold(platform, CaptureRequest(hold_id, amount)))
            event(f"capture: {_outcome(result)}")
            if isinstance(result, Capture):
                self.payments.append(result.payment.id)
                assert result.payment.amount == amount

        @rule(data=st.data())
        def release(self, data: st.DataObject) -> None:
            if self.holds:
                hold_id = data.draw(st.sampled_from(self.holds))
                event(f"release: {_outcome(platform.execute(release_hold(platform, hold_id)))}")

        @rule(data=st.data(), amount=st.none() | amounts)
        def refund(self, data: st.DataObject, amount: int | None) -> None:
            if self.payments:
                payment_id = data.draw(st.sampled_from(self.payments))
                result = platform.execute(
                    refund_payment(platform, RefundRequest(payment_id, amount))
                )
                assert isinstance(result, Refund | Refusal)
                event(f"refund: {_outcome(result)}")

        @rule(who=customers_, to=merchants_, asset=assets_, daily=st.integers(1, 3_000))
        def grant(self, who: int, to: int, asset: str, daily: int) -> None:
            made = platform.execute(
                create_mandate(
                    platform, self.customers[who].id, self.merchants[to].id, asset, daily
                )
            )
            assert isinstance(made, Mandate)
            self.mandates.append(made.id)

        @rule(data=st.data(), amount=amounts)
        def charge_under_mandate(self, data: st.DataObject, amount: int) -> None:
            if not self.mandates:
                return
            granted = get_mandate(platform, data.draw(st.sampled_from(self.mandates)))
            assert granted is not None
            result = platform.execute(
                create_payment(
                    platform,
                    PaymentRequest(
                        granted.customer_id,
                        granted.merchant_id,
                        granted.asset,
                        amount,
                        mandate_id=granted.id,
                        charged_by_merchant=True,
                    ),
                )
            )
            event(f"charge under a mandate: {_outcome(result)}")
            if isinstance(result, Payment):
                self.payments.append(result.id)

        @rule(data=st.data())
        def revoke(self, data: st.DataObject) -> None:
            if self.mandates:
                mandate_id = data.draw(st.sampled_from(self.mandates))
                assert isinstance(platform.execute(revoke_mandate(platform, mandate_id)), Mandate)

        @rule(who=customers_, to=customers_, asset=assets_, amount=amounts)
        def send_money(self, who: int, to: int, asset: str, amount: int) -> None:
            result = platform.execute(
                send(
                    platform,
                    TransferRequest(self.customers[who].id, self.customers[to].id, asset, amount),
                )
            )
            assert isinstance(result, P2PTransfer | Refusal)
            event(f"send: {_outcome(result)}")

        @rule(seconds=st.integers(1, 90), sweep=st.booleans())
        def time_passes(self, seconds: int, sweep: bool) -> None:
            clock.advance(seconds)
            platform.ledger.expire_due()
            if sweep:
                event(f"holds expired by a call: {min(expire_holds(platform), 2)}")

        # ------------------------------------------------------------ checks

        @invariant()
        def double_entry(self) -> None:
            with platform.read() as fetch:
                sums = fetch(
                    "SELECT asset, SUM(credits_posted) - SUM(debits_posted),"
                    " SUM(credits_pending) - SUM(debits_pending) FROM accounts GROUP BY asset",
                    (),
                )
                negative = fetch(
                    "SELECT id FROM accounts WHERE code >= 10"
                    " AND credits_posted - debits_posted - debits_pending < 0",
                    (),
                )
            assert all(posted == 0 and pending == 0 for _, posted, pending in sums), sums
            assert negative == []

        @invariant()
        def rows_agree_with_the_ledger(self) -> None:
            payments: list[Payment] = []
            for m in self.merchants:
                payments += _all(lambda **kw: list_payments(platform, **kw), merchant_id=m.id)
            for p in payments:
                assert 0 <= p.fee <= p.amount
                assert 0 <= p.refunded <= p.amount and 0 <= p.fee_refunded <= p.fee
                assert 0 <= p.restricted_refunded <= p.restricted_amount <= p.amount
            holds: list[Hold] = []
            for m in self.merchants:
                holds += _all(lambda **kw: list_holds(platform, **kw), merchant_id=m.id)
            reserves = _reserves(platform, holds)
            for asset in ASSETS:
                mine = [p for p in payments if p.asset == asset]
                held = [r for r in reserves if r[0].asset == asset]
                for m in self.merchants:
                    earned = sum(
                        p.amount - p.fee - p.refunded + p.fee_refunded
                        for p in mine
                        if p.merchant_id == m.id
                    )
                    assert balance(platform, AccountKind.MERCHANT_AVAILABLE, m.id, asset) == earned
                    shop = account(platform, AccountKind.MERCHANT_AVAILABLE, m.id, asset)
                    pending = shop.credits_pending if shop else 0
                    assert pending == sum(part for h, _, part in held if h.merchant_id == m.id)
                for c in self.customers:
                    self._customer_agrees(c.id, asset, mine, held)

        def _customer_agrees(
            self,
            customer_id: int,
            asset: str,
            payments: list[Payment],
            held: list[tuple[Hold, str, int]],
        ) -> None:
            own = [p for p in payments if p.customer_id == customer_id]
            restricted_out = sum(p.restricted_amount - p.restricted_refunded for p in own)
            wallet_out = sum(
                p.amount - p.restricted_amount - (p.refunded - p.restricted_refunded) for p in own
            )
            with platform.read() as fetch:
                rows = fetch(
                    "SELECT sender_id, recipient_id, amount FROM p2p_transfers"
                    " WHERE asset = ? AND (sender_id = ? OR recipient_id = ?)",
                    (asset, customer_id, customer_id),
                )
            received = sum(int(a) for s, r, a in rows if r == customer_id)
            sent = sum(int(a) for s, r, a in rows if s == customer_id)
            restricted = AccountKind.CUSTOMER_RESTRICTED
            wallet = AccountKind.CUSTOMER_WALLET
            assert balance(platform, restricted, customer_id, asset) == (
                self.topped[customer_id, asset, True] - restricted_out
            )
            assert balance(platform, wallet, customer_id, asset) == (
                self.topped[customer_id, asset, False] - wallet_out + received - sent
            )
            mine = [(name, part) for h, name, part in held if h.customer_id == customer_id]
            for kind, reserved in (
                (restricted, sum(part for name, part in mine if name == "restricted")),
                (wallet, sum(part for name, part in mine if name == "wallet")),
            ):
                found = account(platform, kind, customer_id, asset)
                assert (found.debits_pending if found else 0) == reserved

        @invariant()
        def mandates_count_todays_payments(self) -> None:
            today = utc_day(clock.now_ns())
            for mandate_id in self.mandates:
                granted = get_mandate(platform, mandate_id)
                assert granted is not None
                with platform.read() as fetch:
                    rows = fetch(
                        "SELECT amount, created_ns FROM payments WHERE mandate_id = ?",
                        (mandate_id,),
                    )
                charged = sum(int(a) for a, created_ns in rows if utc_day(created_ns) == today)
                assert granted.spent_on(today) == charged <= granted.amount_max_daily

        @invariant()
        def fee_revenue_is_every_fee_not_returned(self) -> None:
            with platform.read() as fetch:
                rows = fetch(
                    "SELECT asset, SUM(fee) - SUM(fee_refunded) FROM payments GROUP BY asset", ()
                )
            kept = {asset: int(total) for asset, total in rows}
            for asset in ASSETS:
                revenue = balance(platform, AccountKind.FEE_REVENUE, OPERATOR, asset)
                assert revenue == kept.get(asset, 0)
            # Each transfer carried exactly the parts of the payments that name it.
            for column, part in (
                ("fee_transfer_id", "fee"),
                ("restricted_transfer_id", "restricted_amount"),
                ("wallet_transfer_id", "amount - restricted_amount"),
            ):
                with platform.read() as fetch:
                    carried = fetch(
                        f"SELECT {column}, SUM({part}) FROM payments"
                        f" WHERE {column} IS NOT NULL GROUP BY {column}",
                        (),
                    )
                sums = {int(t): int(total) for t, total in carried}
                transfers = platform.ledger.lookup_transfers(list(sums))
                assert {t.id: t.amount for t in transfers} == sums, column

    run_state_machine_as_test(
        Money,
        settings=settings(
            max_examples=20,
            stateful_step_count=40,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
