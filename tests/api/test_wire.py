"""Wire money, ids and times: exact both ways, strict on the way in."""

from __future__ import annotations

import datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime import wire
from centime.api.body import decode_strict
from centime.http.problems import ProblemError
from centime.limits import AMOUNT_MAX
from centime.money import ASSETS

from .conftest import Api

assets = st.sampled_from(sorted(ASSETS))
amounts = st.integers(min_value=0, max_value=AMOUNT_MAX)


@given(amounts, assets)
def test_money_round_trips_through_json(amount: int, asset: str) -> None:
    encoded = msgspec.json.encode(wire.money(amount, asset))
    assert encoded == (
        f'{{"value":"{amount}","asset":"{asset}","scale":{ASSETS[asset].scale}}}'.encode()
    )
    decoded = decode_strict(encoded, wire.Money)
    assert wire.parse_money(decoded, "amount") == (asset, amount)


@given(amounts, assets, st.integers(min_value=0, max_value=18))
def test_a_wrong_scale_is_refused(amount: int, asset: str, scale: int) -> None:
    value = wire.Money(str(amount), asset, scale)
    if scale == ASSETS[asset].scale:
        assert wire.parse_money(value, "amount") == (asset, amount)
    else:
        with pytest.raises(wire.WireError) as raised:
            wire.parse_money(value, "amount")
        assert (raised.value.code, raised.value.field) == ("invalid_amount", "amount.scale")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"value": 125, "asset": "USD", "scale": 6}', "value"),  # a JSON number
        (b'{"value": 1.5, "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "-1", "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "0125", "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "1.5", "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "1e3", "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "99999999999999999999", "asset": "USD", "scale": 6}', "value"),
        (b'{"value": "1", "asset": "usd", "scale": 6}', "asset"),
        (b'{"value": "1", "asset": "USD", "scale": "6"}', "scale"),
        (b'{"value": "1", "asset": "USD", "scale": 6, "cents": 1}', "cents"),
        (b'{"value": "1", "asset": "USD"}', "body"),
    ],
)
def test_bad_money_on_the_wire_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(ProblemError) as raised:
        decode_strict(body, wire.Money)
    assert raised.value.status == 400
    assert [e.field for e in raised.value.errors] == [field]


def test_amounts_beyond_the_largest_and_unknown_assets_are_refused() -> None:
    with pytest.raises(wire.WireError) as too_big:
        wire.parse_money(wire.Money(str(AMOUNT_MAX + 1), "USD", 6), "amount")
    assert too_big.value.code == "invalid_amount"
    with pytest.raises(wire.WireError) as unknown:
        wire.parse_money(wire.Money("1", "XAU", 6), "amount")
    assert (unknown.value.code, unknown.value.field) == ("unknown_asset", "amount.asset")
    with pytest.raises(wire.WireError):
        wire.parse_money(wire.Money("0", "USD", 6), "amount", allow_zero=False)


times_ns = st.integers(min_value=0, max_value=2**63 - 1)


@given(times_ns, times_ns)
def test_times_are_exact_and_sort_as_text(first: int, second: int) -> None:
    a, b = wire.rfc3339(first), wire.rfc3339(second)
    assert (a < b) == (first < second)
    whole = datetime.datetime.fromisoformat(a[:19] + "+00:00").timestamp()
    assert a[19] == "." and a[-1] == "Z"
    assert int(whole) * 10**9 + int(a[20:29]) == first


def test_a_wrong_type_anywhere_in_a_body_is_refused_through_the_api(api: Api) -> None:
    headers = api.headers(**{"Content-Type": "application/json"})
    for body, field in [
        (b'{"name": "A", "kyc_tier": "1"}', "kyc_tier"),
        (b'{"name": "A", "kyc_tier": true}', "kyc_tier"),
        (b'{"name": "A", "email": 5}', "email"),
        (
            b'{"name": "A", "fee_fixed": [{"value": 5, "asset": "USD", "scale": 6}]}',
            "fee_fixed[0].value",
        ),
        (
            b'{"name": "A", "fee_fixed": [{"value": "5", "asset": "USD", "scale": 2}]}',
            "fee_fixed[0].scale",
        ),
        (
            b'{"name": "A", "fee_fixed": [{"value": "5", "asset": "XAU", "scale": 6}]}',
            "fee_fixed[0].asset",
        ),
        (b'{"name": "A", "fee_bp": -1}', "fee_bp"),
        (b"[]", "body"),
    ]:
        response = api.http.post("/v1/merchants", headers=headers, content=body)
        assert response.status_code == 400, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], body
    assert api.operator.list_merchants().data == []  # bad input changed nothing
