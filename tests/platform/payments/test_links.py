"""Payment links (single and multi use, one unit with the payment) and spending budgets
(a metered hold: one-click spends within it, captured when settled)."""

from __future__ import annotations

from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.parties import customer_balances, merchant_balances
from centime.platform.payments import links
from tests.platform.world import customer, fund, merchant

USD = ASSETS["USD"]


def test_links_and_budgets(platform: Platform) -> None:
    ada = customer(platform)
    fund(platform, ada.id, "USD", USD.parse("10"))
    shop = merchant(platform)
    single = platform.execute(
        links.create_link(platform, shop.id, "USD", USD.parse("1"), "invoice 1", single_use=True)
    )
    assert isinstance(single, links.Link)
    paid = platform.execute(links.pay_link(platform, single.id, ada.id))
    assert not isinstance(paid, Refusal) and paid.amount == USD.parse("1")
    again = platform.execute(links.pay_link(platform, single.id, ada.id))
    assert isinstance(again, Refusal) and again.code is Code.LINK_INACTIVE
    retry = platform.execute(links.pay_link(platform, single.id, ada.id, paid.id))
    assert not isinstance(retry, Refusal) and retry.id == paid.id  # a retry pays once
    assert customer_balances(platform, ada.id)[0].available == USD.parse("9")
    bad = platform.execute(links.create_link(platform, shop.id, "USD", 0, "free"))
    assert isinstance(bad, Refusal)

    budget = platform.execute(
        links.approve_budget(platform, ada.id, shop.id, "USD", USD.parse("0.1"), 3600)
    )
    assert isinstance(budget, links.Budget)
    for _ in range(2):
        spent = platform.execute(
            links.spend_budget(platform, ada.id, shop.id, "USD", USD.parse("0.05"))
        )
        assert isinstance(spent, links.Budget)
    over = platform.execute(links.spend_budget(platform, ada.id, shop.id, "USD", 1))
    assert isinstance(over, Refusal) and over.code is Code.BUDGET_EXCEEDED
    before = merchant_balances(platform, shop.id)[0].available
    settled = platform.execute(links.settle_budget(platform, budget.id, ada.id))
    assert isinstance(settled, links.Budget) and settled.status == "settled"
    assert merchant_balances(platform, shop.id)[0].available > before
    assert customer_balances(platform, ada.id)[0].available == USD.parse("8.9")
