"""Money is conserved across payout lifecycles whatever happens: payments in, scheduled runs,
payouts on request (sometimes while the rail is down or loses its answer), instant quotes
confirmed (sometimes twice), recovery, and the rail's paid / failed / returned events
arriving as time passes; checked after every step (on both stores), in the style of
test_money_conservation.py.

After each step:
- the ledger balances (posted and pending) sum to zero; no wallet or earnings below zero;
- each merchant's earnings are its payments' net less what its payouts took: the amount of
  every payout requested, pending or paid, the fee of every returned one; what payouts
  reserve is exactly the amount of those requested or pending;
- payout clearing holds the net of every paid payout (posted) and of every open one
  (pending); fee revenue holds the payments' fees and the fees of paid and returned payouts;
- each payout's reserve is pending while it is open, posted once paid or returned, voided
  once failed; no payout was reported paid twice.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from centime.clock import FakeClock
from centime.ledger import PendingStatus
from centime.platform.chart import OPERATOR, AccountKind
from centime.platform.context import Platform
from centime.platform.errors import Refusal
from centime.platform.ids import derive_id, new_id
from centime.platform.payments import PaymentRequest, create_payment
from centime.platform.payouts.instant import Quote, quote_instant_payout
from centime.platform.payouts.schedules import (
    Frequency,
    PayoutSchedule,
    run_scheduled_payouts,
    set_schedule,
)
from centime.platform.payouts.service import (
    Payout,
    PayoutAsk,
    PayoutStatus,
    list_payouts,
    process_payout_events,
    recover_payouts,
    request_payout,
)
from centime.providers import Outage
from centime.providers.payout_sandbox import ACCOUNT_FAILS, ACCOUNT_RETURNS, ACCOUNT_SUCCEEDS

from ..payout_world import confirm as pay_quote
from ..payout_world import install_rail, with_method
from ..world import account, balance, customer, fund, merchant

USD = "USD"
NUMBERS = (ACCOUNT_SUCCEEDS, ACCOUNT_FAILS, ACCOUNT_RETURNS)
merchants_ = st.integers(0, len(NUMBERS) - 1)
payments_ = st.integers(1, 5_000_000)
amounts = st.integers(1, 1_000_000)
_OPEN = (PayoutStatus.REQUESTED, PayoutStatus.PENDING)


def _every_payout(platform: Platform) -> list[Payout]:
    found: list[Payout] = []
    cursor = None
    for _ in range(1000):
        page = list_payouts(platform, None, cursor, limit=1000)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found
    raise AssertionError("more payouts than the test makes")


def _outcome(result: object) -> str:
    return result.code.value if isinstance(result, Refusal) else "done"


def test_money_is_conserved_across_payouts(platform: Platform, clock: FakeClock) -> None:
    rail = install_rail(platform, clock)

    class Payouts(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            rail.fail_next(0)  # an outage a previous example left does not carry over
            self.payer = customer(platform, tier=2)
            fund(platform, self.payer.id, USD, 40_000_000)
            self.merchants = [merchant(platform, fee_bp=300) for _ in NUMBERS]
            for shop, number in zip(self.merchants, NUMBERS, strict=True):
                with_method(platform, clock, shop.id, number)
                platform.execute(
                    set_schedule(
                        platform,
                        PayoutSchedule(
                            shop.id, USD, Frequency.DAILY, reserve_bp=2_000, reserve_days=1
                        ),
                    )
                )
            self.quotes: list[tuple[int, int]] = []  # (merchant id, quote id)

        @rule(to=merchants_, amount=payments_)
        def pay(self, to: int, amount: int) -> None:
            result = platform.execute(
                create_payment(
                    platform, PaymentRequest(self.payer.id, self.merchants[to].id, USD, amount)
                )
            )
            event(f"payment: {_outcome(result)}")

        @rule(to=merchants_, amount=amounts, outage=st.sampled_from([None, *Outage]))
        def payout_now(self, to: int, amount: int, outage: Outage | None) -> None:
            # The rail down, or its answer lost, while this payout is sent (sometimes).
            rail.fail_next(0 if outage is None else 1, outage or Outage.DOWN)
            made = request_payout(platform, self.merchants[to].id, USD, amount, payout_id=new_id())
            rail.fail_next(0)
            event(f"payout: {_outcome(made)}")
            if isinstance(made, Payout):
                event(f"payout left {made.status.value}")

        @rule(to=merchants_, amount=amounts, confirm_now=st.booleans())
        def quote(self, to: int, amount: int, confirm_now: bool) -> None:
            shop = self.merchants[to].id
            made = platform.execute(quote_instant_payout(platform, PayoutAsk(shop, USD, amount)))
            event(f"quote: {_outcome(made)}")
            if isinstance(made, Quote):
                self.quotes.append((shop, made.id))
                if confirm_now:
                    confirmed = pay_quote(platform, shop, made.id)
                    event(f"confirm: {_outcome(confirmed)}")

        @rule(data=st.data())
        def confirm(self, data: st.DataObject) -> None:
            if self.quotes:
                shop, quote_id = data.draw(st.sampled_from(self.quotes))
                event(f"confirm: {_outcome(pay_quote(platform, shop, quote_id))}")

        @rule()
        def scheduled_run(self) -> None:
            report = run_scheduled_payouts(platform)
            event(f"run: {len(report.created)} created, {report.existing} existing")

        @rule()
        def recover(self) -> None:
            event(f"recovered: {min(len(recover_payouts(platform)), 2)}")

        @rule(seconds=st.sampled_from([1, 30, 3_600, 86_400, 3 * 86_400]))
        def time_passes(self, seconds: int) -> None:
            clock.advance(seconds)
            process_payout_events(platform)

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
            # The store carries on across examples: the operator's accounts hold every
            # payout's money, this example's merchants only theirs.
            every = _every_payout(platform)
            for shop in self.merchants:
                mine = [p for p in every if p.merchant_id == shop.id]
                with platform.read() as fetch:
                    rows = fetch(
                        "SELECT COALESCE(SUM(amount - fee), 0) FROM payments WHERE merchant_id = ?",
                        (shop.id,),
                    )
                earned = int(rows[0][0])
                taken = sum(
                    p.amount for p in mine if p.status in (*_OPEN, PayoutStatus.PAID)
                ) + sum(p.fee for p in mine if p.status is PayoutStatus.RETURNED)
                found = account(platform, AccountKind.MERCHANT_AVAILABLE, shop.id, USD)
                assert (found.available if found else 0) == earned - taken
                reserved = found.debits_pending if found else 0
                assert reserved == sum(p.amount for p in mine if p.status in _OPEN)
            clearing = account(platform, AccountKind.PAYOUT_CLEARING, OPERATOR, USD)
            paid_net = sum(p.net for p in every if p.status is PayoutStatus.PAID)
            open_net = sum(p.net for p in every if p.status in _OPEN)
            assert (clearing.balance if clearing else 0) == paid_net
            assert (clearing.credits_pending if clearing else 0) == open_net
            with platform.read() as fetch:
                fees = int(fetch("SELECT COALESCE(SUM(fee), 0) FROM payments", ())[0][0])
            kept = (PayoutStatus.PAID, PayoutStatus.RETURNED)
            assert balance(platform, AccountKind.FEE_REVENUE, OPERATOR, USD) == fees + sum(
                p.fee for p in every if p.status in kept
            )
            self._reserves_agree(every)

        def _reserves_agree(self, every: list[Payout]) -> None:
            ids = [derive_id("payout", p.id, "reserve") for p in every]
            states = {s.transfer_id: s.status for s in platform.ledger.pending_states(ids)}
            expected = {
                PayoutStatus.REQUESTED: PendingStatus.PENDING,
                PayoutStatus.PENDING: PendingStatus.PENDING,
                PayoutStatus.PAID: PendingStatus.POSTED,
                PayoutStatus.RETURNED: PendingStatus.POSTED,
                PayoutStatus.FAILED: PendingStatus.VOIDED,
            }
            for p, reserve in zip(every, ids, strict=True):
                assert states[reserve] is expected[p.status], p
            with platform.read() as fetch:
                rows = fetch("SELECT data FROM outbox_events WHERE type = 'payout.paid'", ())
            paid = [json.loads(data)["payout_id"] for (data,) in rows]
            assert len(paid) == len(set(paid))

    run_state_machine_as_test(
        Payouts,
        settings=settings(
            max_examples=5,
            stateful_step_count=30,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
