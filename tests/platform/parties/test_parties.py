"""Customers and merchants: creation, validation, status changes, fees."""

from __future__ import annotations

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.funding import create_topup
from centime.platform.parties.service import (
    Customer,
    Merchant,
    Status,
    create_customer,
    create_merchant,
    get_customer,
    get_merchant,
    list_customers,
    list_merchants,
    set_customer,
    set_merchant,
)
from centime.providers import Method, SandboxProvider


def test_a_customer_is_created_active_and_read_back(platform: Platform) -> None:
    customer = platform.execute(create_customer(platform, " Ada ", "ada@example.com", 1))
    assert isinstance(customer, Customer)
    assert customer.name == "Ada" and customer.status is Status.ACTIVE
    assert get_customer(platform, customer.id) == customer


def test_bad_fields_are_refused_and_nothing_is_written(platform: Platform) -> None:
    bad = (("", None, 1), ("A", "no-at", 1), ("A", None, 9), ("x" * 201, None, 1))
    for name, email, tier in bad:
        result = platform.execute(create_customer(platform, name, email, tier))
        assert isinstance(result, Refusal) and result.code is Code.INVALID_REQUEST
    with platform.read() as fetch:
        assert fetch("SELECT count(*) FROM customers", ()) == [(0,)]


def test_an_email_names_one_customer(platform: Platform) -> None:
    platform.execute(create_customer(platform, "Ada", "ada@example.com"))
    again = platform.execute(create_customer(platform, "Eve", "ada@example.com"))
    assert again == Refusal(Code.EMAIL_TAKEN, "a customer with this email exists")


def test_status_changes_and_closed_is_final(platform: Platform) -> None:
    customer = platform.execute(create_customer(platform, "Ada"))
    assert isinstance(customer, Customer)
    frozen = platform.execute(set_customer(platform, customer.id, Status.FROZEN))
    assert isinstance(frozen, Customer) and frozen.status is Status.FROZEN
    closed = platform.execute(set_customer(platform, customer.id, Status.CLOSED))
    assert isinstance(closed, Customer) and closed.status is Status.CLOSED
    reopened = platform.execute(set_customer(platform, customer.id, Status.ACTIVE))
    assert isinstance(reopened, Refusal) and reopened.code is Code.INVALID_STATUS_CHANGE


def test_merchant_fees_default_and_per_asset_fixed_part(platform: Platform) -> None:
    merchant = platform.execute(create_merchant(platform, "Shop", fee_fixed={"USD": 100}))
    assert isinstance(merchant, Merchant)
    assert merchant.fee_bp == platform.config.fee_bp_default
    changed = platform.execute(
        set_merchant(platform, merchant.id, fee_bp=120, fee_fixed={"USD": 50, "EUR": 7})
    )
    assert isinstance(changed, Merchant)
    assert changed.fee_bp == 120 and changed.fee_fixed == {"USD": 50, "EUR": 7}
    assert get_merchant(platform, merchant.id) == changed
    bad = platform.execute(set_merchant(platform, merchant.id, fee_bp=10_001))
    assert isinstance(bad, Refusal) and bad.code is Code.INVALID_REQUEST


def test_listings_page_newest_first_without_gaps(platform: Platform, clock: FakeClock) -> None:
    made = []
    for index in range(7):
        customer = platform.execute(create_customer(platform, f"C{index}"))
        assert isinstance(customer, Customer)
        made.append(customer.id)
        clock.advance(ns=1)
    seen: list[int] = []
    cursor = None
    while True:
        page = list_customers(platform, cursor, limit=3)
        seen.extend(c.id for c in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(made))
    merchant = platform.execute(create_merchant(platform, "Shop", fee_fixed={"EUR": 3}))
    assert list_merchants(platform).items == [merchant]


def test_a_customer_with_a_pending_top_up_cannot_be_closed(platform: Platform) -> None:
    customer = platform.execute(create_customer(platform, "Ada"))
    assert isinstance(customer, Customer)
    sandbox = SandboxProvider(platform.clock)
    topup = create_topup(
        platform, sandbox, customer.id, "USD", 5_000_000, Method.CARD, "4242424242424242"
    )
    assert not isinstance(topup, Refusal) and topup.status.value == "pending"
    refused = platform.execute(set_customer(platform, customer.id, Status.CLOSED))
    assert isinstance(refused, Refusal) and refused.code is Code.BALANCE_NOT_ZERO
    assert get_customer(platform, customer.id) == customer
