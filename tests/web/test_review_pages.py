"""The console's review queue in process: a payment made on the pay button's page and held
by the risk screen, listed with its reason, approved by an analyst (the payment is then
made); CSRF and who may open the queue."""

from __future__ import annotations

import json
import re

from litestar import Litestar
from litestar.testing import TestClient

from centime.auth import passkeys as pk
from centime.platform.context import Platform
from centime.platform.ids import format_id, parse_id
from centime.platform.payments import list_payments
from centime.risk.types import Action, Decision, RiskEvent
from tests.auth.test_passkeys import SoftAuthenticator
from tests.platform.world import fund, merchant
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_pages import _csrf, _sign_up, client

__all__ = ["client"]


def _review_payments(event: RiskEvent) -> Decision:
    if event.type == "payment" and event.amount >= 5_000_000:
        return decision(Action.REVIEW, "large_first_payment", score=60)
    return decision(Action.ALLOW)


def _operator(http: TestClient[Litestar], platform: Platform, role: pk.Role) -> None:
    token = platform.execute(pk.create_enrollment(platform, pk.UserKind.OPERATOR, 0, "Ari", role))
    assert isinstance(token, str)
    headers = {"X-CSRF-Token": _csrf(http)}
    options = http.post("/web/enroll/options", json={"token": token}, headers=headers)
    assert options.status_code == 200, options.text
    finished = http.post(
        "/web/enroll/finish",
        headers=headers,
        json={"credential": json.loads(SoftAuthenticator().create(options.text))},
    )
    assert finished.status_code == 200, finished.text


def test_an_analyst_approves_a_held_payment(
    client: TestClient[Litestar], platform: Platform
) -> None:
    platform.screen = ScriptedScreen(_review_payments)
    shop = merchant(platform)
    _sign_up(client, "customer")
    found = re.search(r"(cus_\w+)", client.get("/wallet").text)
    assert found
    customer_id = parse_id("cus", found.group(1))
    assert customer_id is not None
    fund(platform, customer_id, "USD", 20_000_000)
    token = _csrf(client, "/wallet")
    form = {
        "merchant": format_id("mer", shop.id),
        "asset": "USD",
        "amount": "8",
        "mode": "once",
        "attempt": "7001",
        "csrf": token,
    }
    held = client.post("/pay/button", data=form, follow_redirects=False)
    assert held.status_code == 303 and "ok=in_review" in held.headers["location"]
    assert "held for a quick review" in client.get(held.headers["location"]).text
    assert list_payments(platform, None, customer_id, None, 10).items == []
    assert client.get("/console", follow_redirects=False).status_code == 303  # a customer

    client.cookies.clear()
    _operator(client, platform, pk.Role.ANALYST)
    console = client.get("/console").text
    case = re.search(r'data-testid="case-link">(case_\w+)<', console)
    assert case and "8.00 USD" in console
    evidence = client.get(f"/console/cases/{case.group(1)}")
    assert evidence.status_code == 200 and "large_first_payment" in evidence.text
    # People by name: the payer and the merchant, not only their ids.
    payer = re.search(r'data-testid="case-payer">(.*?)</td>', evidence.text, re.S)
    payee = re.search(r'data-testid="case-payee">(.*?)</td>', evidence.text, re.S)
    assert payer and payer.group(1).startswith("Ada ") and found.group(1) in payer.group(1)
    assert payee and payee.group(1).startswith(f"{shop.name} ")
    assert "Freeze Ada" in evidence.text and "Ada" in console
    # What the case holds is named in the reader's language, never as the internal kind.
    assert "Payment " in evidence.text
    korean = client.get(f"/console/cases/{case.group(1)}", headers={"Accept-Language": "ko"})
    assert "의 결제 " in korean.text and "의 payment" not in korean.text
    token = _csrf(client, "/console")
    forged = client.post(f"/console/cases/{case.group(1)}/approve", data={"csrf": "1" * 64})
    assert forged.status_code == 403
    assert list_payments(platform, None, customer_id, None, 10).items == []
    approved = client.post(
        f"/console/cases/{case.group(1)}/approve", data={"csrf": token}, follow_redirects=False
    )
    assert approved.status_code == 303 and "ok=case_approve" in approved.headers["location"]
    [payment] = list_payments(platform, None, customer_id, None, 10).items
    assert (payment.id, payment.amount, payment.merchant_id) == (7001, 8_000_000, shop.id)
    again = client.post(f"/console/cases/{case.group(1)}/decline", data={"csrf": token})
    assert again.status_code == 409  # decided already
    labelled = client.post(
        f"/console/cases/{case.group(1)}/label", data={"csrf": token, "label": "not_fraud"}
    )
    assert labelled.status_code == 200 and "Label: <b>not fraud</b>" in labelled.text
    assert "No open cases." in client.get("/console").text
    assert client.get("/console/cases/case_0000000000001").status_code == 404
    client.cookies.clear()
    _sign_up(client, "merchant")  # not an operator: to the sign-in page, nothing decided
    token = _csrf(client, "/dashboard")
    away = client.post(
        f"/console/cases/{case.group(1)}/label",
        data={"csrf": token, "label": "fraud"},
        follow_redirects=False,
    )
    assert away.status_code == 303 and away.headers["location"] == "/app?signin=1"
    assert client.get(f"/console/cases/{case.group(1)}", follow_redirects=False).status_code == 303
