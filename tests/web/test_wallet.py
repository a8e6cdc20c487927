"""The pay button's one-time payment goes through the risk screen: its step-up answer sends
the customer to confirm with a passkey and back to the pay page; then it pays, once."""

from __future__ import annotations

import re
from urllib.parse import unquote

from litestar import Litestar
from litestar.testing import TestClient

from centime.platform.context import Platform
from centime.platform.ids import format_id, parse_id
from centime.platform.payments import list_payments
from centime.risk.types import Action, Decision, RiskEvent
from tests.platform.world import fund, merchant
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_pages import _csrf, _sign_up, client
from tests.web.test_payout_pages import _step_up

__all__ = ["client"]


def _step_up_payments(event: RiskEvent) -> Decision:
    if event.type == "payment":
        return decision(Action.STEP_UP, "new_payee", score=75)
    return decision(Action.ALLOW)


def test_the_pay_button_asks_for_a_passkey_when_the_risk_engine_does(
    client: TestClient[Litestar], platform: Platform
) -> None:
    platform.screen = ScriptedScreen(_step_up_payments)
    shop = merchant(platform)
    device = _sign_up(client, "customer")
    found = re.search(r"(cus_\w+)", client.get("/wallet").text)
    customer_id = parse_id("cus", found.group(1)) if found else None
    assert customer_id is not None
    fund(platform, customer_id, "USD", 5_000_000)
    token = _csrf(client, "/wallet")
    form = {
        "merchant": format_id("mer", shop.id),
        "asset": "USD",
        "amount": "0.5",
        "description": "An article",
        "mode": "once",
        "attempt": "9001",
        "csrf": token,
    }
    asked = client.post("/pay/button", data=form, follow_redirects=False)
    location = asked.headers["location"]
    assert asked.status_code == 303 and location.startswith("/stepup?next=")
    back = unquote(location.removeprefix("/stepup?next="))
    assert back.startswith("/pay/button?merchant=mer_") and "amount=0.5" in back
    assert client.get(back).status_code == 200
    assert list_payments(platform, None, customer_id, None, 10).items == []
    _step_up(client, device, token)
    paid = client.post("/pay/button", data=form, follow_redirects=False)
    assert paid.status_code == 303 and "ok=paid" in paid.headers["location"]
    again = client.post("/pay/button", data=form, follow_redirects=False)  # a double submit
    assert again.status_code == 303
    [payment] = list_payments(platform, None, customer_id, None, 10).items
    assert (payment.id, payment.amount) == (9001, 500_000)
