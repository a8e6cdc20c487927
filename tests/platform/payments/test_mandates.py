"""Mandates: a merchant charges a customer only with its consent, within a daily bound."""

from __future__ import annotations

from typing import Any

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import Status, set_customer
from centime.platform.payments.mandates import (
    Mandate,
    MandateStatus,
    create_mandate,
    get_mandate,
    list_mandates,
    revoke_mandate,
)
from centime.platform.payments.service import (
    Payment,
    PaymentItem,
    PaymentRequest,
    create_payment,
    create_payments_batch,
)

from ..world import customer, fund, merchant, snapshot

DAY_S = 86_400


def mandate(platform: Platform, *args: Any) -> Mandate:
    made = platform.execute(create_mandate(platform, *args))
    assert isinstance(made, Mandate), made
    return made


def charge(platform: Platform, customer_id: int, merchant_id: int, amount: int, **kw: Any) -> Any:
    return platform.execute(
        create_payment(
            platform,
            PaymentRequest(customer_id, merchant_id, "USD", amount, charged_by_merchant=True, **kw),
        )
    )


def refused_charge(platform: Platform, code: Code, *args: Any, **kw: Any) -> None:
    before = snapshot(platform)
    result = charge(platform, *args, **kw)
    assert isinstance(result, Refusal) and result.code is code, result
    assert snapshot(platform) == before


def test_a_merchant_charges_under_a_mandate_up_to_its_daily_amount(
    platform: Platform, clock: FakeClock
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 1_000)
    assert granted.status is MandateStatus.ACTIVE
    assert isinstance(charge(platform, ada.id, shop.id, 600, mandate_id=granted.id), Payment)
    assert isinstance(charge(platform, ada.id, shop.id, 400, mandate_id=granted.id), Payment)
    refused_charge(platform, Code.MANDATE_LIMIT_EXCEEDED, ada.id, shop.id, 1, mandate_id=granted.id)
    stored = get_mandate(platform, granted.id)
    assert stored is not None and stored.spent_today == 1_000
    clock.advance(DAY_S)  # a new UTC day: the bound applies afresh
    assert isinstance(charge(platform, ada.id, shop.id, 1_000, mandate_id=granted.id), Payment)


def test_without_a_matching_active_mandate_a_merchant_cannot_charge(platform: Platform) -> None:
    ada, bob, shop, other = (
        customer(platform),
        customer(platform),
        merchant(platform),
        merchant(platform),
    )
    fund(platform, ada.id, "USD", 10_000)
    fund(platform, ada.id, "EUR", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 1_000)
    refused_charge(platform, Code.MANDATE_NOT_FOUND, ada.id, shop.id, 1)  # none named
    refused_charge(platform, Code.MANDATE_NOT_FOUND, ada.id, shop.id, 1, mandate_id=999)
    refused_charge(platform, Code.MANDATE_NOT_FOUND, ada.id, other.id, 1, mandate_id=granted.id)
    refused_charge(platform, Code.MANDATE_NOT_FOUND, bob.id, shop.id, 1, mandate_id=granted.id)
    before = snapshot(platform)
    in_euros = platform.execute(
        create_payment(
            platform,
            PaymentRequest(
                ada.id, shop.id, "EUR", 1, mandate_id=granted.id, charged_by_merchant=True
            ),
        )
    )
    assert isinstance(in_euros, Refusal) and in_euros.code is Code.MANDATE_NOT_FOUND
    assert snapshot(platform) == before


def test_a_revoked_mandate_allows_nothing_more(platform: Platform) -> None:
    ada, eve, shop = customer(platform), customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 1_000)
    not_hers = platform.execute(revoke_mandate(platform, granted.id, customer_id=eve.id))
    assert isinstance(not_hers, Refusal) and not_hers.code is Code.MANDATE_NOT_FOUND
    revoked = platform.execute(revoke_mandate(platform, granted.id, customer_id=ada.id))
    assert isinstance(revoked, Mandate) and revoked.status is MandateStatus.REVOKED
    assert revoked.revoked_ns is not None
    assert platform.execute(revoke_mandate(platform, granted.id)) == revoked  # idempotent
    assert get_mandate(platform, granted.id) == revoked
    refused_charge(platform, Code.MANDATE_REVOKED, ada.id, shop.id, 1, mandate_id=granted.id)


def test_a_customers_own_payment_needs_no_mandate_but_counts_against_one_it_names(
    platform: Platform,
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 100)
    own = platform.execute(create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", 5_000)))
    assert isinstance(own, Payment) and own.mandate_id is None
    named = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", 100, mandate_id=granted.id))
    )
    assert isinstance(named, Payment) and named.mandate_id == granted.id
    refused_charge(platform, Code.MANDATE_LIMIT_EXCEEDED, ada.id, shop.id, 1, mandate_id=granted.id)


def test_a_batch_counts_its_own_payments_against_the_mandate(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 250)
    items = [PaymentItem(ada.id, "USD", 100, mandate_id=granted.id) for _ in range(3)]
    results = platform.execute(create_payments_batch(platform, shop.id, items))
    assert isinstance(results, list)
    assert [isinstance(r, Payment) for r in results] == [True, True, False]
    assert isinstance(results[2], Refusal) and results[2].code is Code.MANDATE_LIMIT_EXCEEDED
    stored = get_mandate(platform, granted.id)
    assert stored is not None and stored.spent_today == 200


def test_a_mandate_is_refused_for_bad_input_or_parties(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    before = snapshot(platform)
    for args, code in (
        ((ada.id, shop.id, "XXX", 1), Code.UNKNOWN_ASSET),
        ((ada.id, shop.id, "USD", 0), Code.INVALID_AMOUNT),
        ((ada.id, shop.id, "USD", "5"), Code.INVALID_AMOUNT),
        ((ada.id, 999, "USD", 5), Code.MERCHANT_NOT_FOUND),
        ((999, shop.id, "USD", 5), Code.CUSTOMER_NOT_FOUND),
    ):
        result = platform.execute(create_mandate(platform, *args))
        assert isinstance(result, Refusal) and result.code is code
    platform.execute(set_customer(platform, ada.id, Status.FROZEN))
    frozen = platform.execute(create_mandate(platform, ada.id, shop.id, "USD", 5))
    assert isinstance(frozen, Refusal) and frozen.code is Code.CUSTOMER_FROZEN
    after = snapshot(platform)
    assert after[:-2] == before[:-2]  # customers changed (frozen); nothing else


def test_mandates_are_listed_per_customer_and_per_merchant(platform: Platform) -> None:
    ada, bob, shop = customer(platform), customer(platform), merchant(platform)
    made = [mandate(platform, ada.id, shop.id, "USD", 10 + i) for i in range(3)]
    theirs = mandate(platform, bob.id, shop.id, "USD", 5)
    page = list_mandates(platform, customer_id=ada.id, limit=2)
    assert len(page.items) == 2 and page.next_cursor is not None
    rest = list_mandates(platform, customer_id=ada.id, cursor=page.next_cursor, limit=2)
    assert rest.next_cursor is None
    listed = page.items + rest.items
    assert sorted(m.id for m in listed) == sorted(m.id for m in made)
    assert theirs in list_mandates(platform, merchant_id=shop.id).items
    assert get_mandate(platform, theirs.id, customer_id=ada.id) is None
    assert get_mandate(platform, theirs.id, merchant_id=shop.id) == theirs


def test_a_clock_behind_the_mandates_day_counts_its_charge_on_that_day(
    platform: Platform, clock: FakeClock
) -> None:
    """A writer whose clock is behind the one that charged the mandate (another host's)
    finds the mandate on a later day than its own: its charge counts on that later day,
    with what was charged on it, and the mandate's day never goes back (neither day's
    limit is passed, however the clocks disagree)."""
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 1_000)
    clock.advance(DAY_S)
    assert isinstance(charge(platform, ada.id, shop.id, 600, mandate_id=granted.id), Payment)
    later = get_mandate(platform, granted.id)
    assert later is not None
    clock.advance(-DAY_S)  # a writer whose clock is a day behind
    refused_charge(
        platform, Code.MANDATE_LIMIT_EXCEEDED, ada.id, shop.id, 600, mandate_id=granted.id
    )
    assert isinstance(charge(platform, ada.id, shop.id, 400, mandate_id=granted.id), Payment)
    stored = get_mandate(platform, granted.id)
    assert stored is not None and (stored.spent_today, stored.day) == (1_000, later.day)


def test_a_mandate_charge_never_moves_its_day_back(platform: Platform, clock: FakeClock) -> None:
    """save_mandate_charges refuses to write a day earlier than the row's (a lost race):
    the group is not committed and the row keeps its day and total."""
    from centime.ledger.errors import TransientStoreError
    from centime.ledger.units import UnitContext
    from centime.platform.context import Operation
    from centime.platform.payments.mandates import save_mandate_charges

    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000)
    granted = mandate(platform, ada.id, shop.id, "USD", 1_000)
    clock.advance(DAY_S)
    assert isinstance(charge(platform, ada.id, shop.id, 600, mandate_id=granted.id), Payment)
    before = get_mandate(platform, granted.id)
    assert before is not None

    def unit(ctx: UnitContext) -> None:
        save_mandate_charges(ctx, {granted.id: (5, before.day - 1)})

    try:
        platform.execute(Operation(unit, 0))
    except TransientStoreError:
        pass
    else:
        raise AssertionError("a mandate's day went back")
    assert get_mandate(platform, granted.id) == before


def test_one_later_day_among_many_mandates_writes_none_of_them(
    platform: Platform, clock: FakeClock, monkeypatch: Any
) -> None:
    """save_mandate_charges writes many mandates per statement (several statements here, with
    a small MANDATE_ROWS_MAX): all of them when every row's day allows it; none when one
    row's day is later, even after the statements before it wrote theirs (the lost race of
    any row fails the whole group)."""
    from centime.ledger.errors import TransientStoreError
    from centime.ledger.units import UnitContext
    from centime.platform.context import Operation
    from centime.platform.payments import mandates as module

    monkeypatch.setattr(module, "MANDATE_ROWS_MAX", 2)
    shop = merchant(platform)
    granted = [mandate(platform, customer(platform).id, shop.id, "USD", 1_000) for _ in range(5)]
    today = granted[0].day

    def write(charges: dict[int, tuple[int, int]]) -> Operation[None]:
        def unit(ctx: UnitContext) -> None:
            module.save_mandate_charges(ctx, charges)

        return Operation(unit, 0)

    platform.execute(write({m.id: (10 + i, today + i % 2) for i, m in enumerate(granted)}))
    written = [get_mandate(platform, m.id) for m in granted]
    assert [(m.spent_today, m.day) for m in written if m] == [
        (10 + i, today + i % 2) for i in range(5)
    ]
    platform.execute(write({granted[4].id: (7, today + 1)}))  # the last row's day moves on
    written[4] = get_mandate(platform, granted[4].id)
    try:
        platform.execute(write({m.id: (500, today + i % 2) for i, m in enumerate(granted)}))
    except TransientStoreError:
        pass
    else:
        raise AssertionError("a mandate's day went back")
    assert [get_mandate(platform, m.id) for m in granted] == written
