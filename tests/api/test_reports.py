"""Reports over HTTP: the operator's reconciliation (the sandbox's statement lives in the
server's process), a merchant's CSV export, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from centime import wire
from centime.app import install_funding_providers
from centime.auth import Scope
from centime.client import ProblemError
from centime.clock import FakeClock
from centime.platform.ids import parse_id
from centime.providers.sandbox import CARD_SUCCEEDS
from centime.worker import Worker

from ..platform.world import fund
from .conftest import Api

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_the_operator_reconciles_a_day_and_a_merchant_exports_its_operations(
    api: Api, clock: FakeClock
) -> None:
    jobs = install_funding_providers(api.platform)
    ops = api.operator
    ada = ops.create_customer("Ada", kyc_tier=2)
    shop = api.merchant()
    ops.create_topup(ada.id, wire.money(5_000_000, "USD"), "card", CARD_SUCCEEDS)
    day = dt.datetime.fromtimestamp(clock.now_ns() // 10**9, tz=dt.UTC).date().isoformat()
    clock.advance(60)
    pending = ops.reconciliation(day)  # the provider collected; the event is not handled
    assert pending.differences == 1
    assert pending.providers[0].differences[0].kind == "status_differs"
    Worker(api.platform, jobs).tick()
    assert ops.reconciliation(day).differences == 0
    ada_id = parse_id("cus", ada.id)
    assert ada_id is not None
    fund(api.platform, ada_id, "USD", 10_000_000)
    paid = ops.create_payment(ada.id, wire.money(1_500_000, "USD"), merchant_id=shop.id)
    merchant = api.client(api.merchant_key(shop, Scope.READ))
    until = (dt.date.fromisoformat(day) + dt.timedelta(days=2)).isoformat()
    text = merchant.export_csv(day, until).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["id"], row["amount"], row["amount_decimal"]) == (paid.id, "1500000", "1.500000")
    with pytest.raises(ProblemError) as too_long:
        merchant.export_csv("2020-01-01", "2099-01-01")
    assert (too_long.value.status, too_long.value.code) == (400, "invalid_period")
    with pytest.raises(ProblemError) as bad:
        merchant.export_csv("yesterday", until)
    assert bad.value.status == 400
    with pytest.raises(ProblemError) as operator_has_none:
        ops.export_csv(day, until)
    assert operator_has_none.value.status == 403
    with pytest.raises(ProblemError) as far:
        ops.reconciliation("9999-01-01")
    assert (far.value.status, far.value.code) == (400, "invalid_period")
    with pytest.raises(ProblemError) as not_operator:
        merchant.reconciliation(day)
    assert not_operator.value.status == 403
