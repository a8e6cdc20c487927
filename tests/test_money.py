"""Assets and exact amounts: parsing and formatting are exact inverses, and anything that is not
a plain decimal within range is refused with ``AmountError`` (never another exception, never a
rounded value). ``decimal.Decimal`` is the oracle for what a text means."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX, AMOUNT_TEXT_MAX, ASSET_SCALE_MAX
from centime.money import ASSETS, AmountError, Asset, asset_by_code, format_amount, parse_amount

scales = st.integers(0, ASSET_SCALE_MAX)
amounts = st.integers(0, AMOUNT_MAX)


def _meaning(text: str, scale: int) -> int:
    """What a plain decimal text means at ``scale``, computed by ``decimal`` exactly."""
    value = Decimal(text).scaleb(scale)
    assert value == value.to_integral_value()
    return int(value)


# ----------------------------------------------------------------------------- round trips


@given(amounts, scales)
@example(AMOUNT_MAX, ASSET_SCALE_MAX)
@example(AMOUNT_MAX, 0)
@example(0, 0)
@example(1, ASSET_SCALE_MAX)
@example(10**ASSET_SCALE_MAX, ASSET_SCALE_MAX)
def test_format_then_parse_is_the_identity(amount: int, scale: int) -> None:
    text = format_amount(amount, scale)
    decimals = rf"\.[0-9]{{{scale}}}" if scale else ""
    assert re.fullmatch(rf"(0|[1-9][0-9]*){decimals}", text), text
    assert parse_amount(text, scale) == amount
    assert _meaning(text, scale) == amount


@given(st.integers(1, AMOUNT_MAX), scales)
def test_negative_amounts_round_trip_where_allowed(amount: int, scale: int) -> None:
    text = format_amount(-amount, scale)
    assert text.startswith("-")
    assert parse_amount(text, scale, allow_negative=True) == -amount
    with pytest.raises(AmountError):
        parse_amount(text, scale)


@given(st.from_regex(r"[0-9]{1,22}(\.[0-9]{1,20})?", fullmatch=True), scales)
@example("0.000125", 6)
@example("9223372036854775807", 0)
@example("9.223372036854775807", 18)
@example("9.223372036854775808", 18)
@example("007.50", 2)
def test_parse_means_what_decimal_means(text: str, scale: int) -> None:
    """Every plain decimal text is either its exact value or refused, never rounded."""
    fraction = text.partition(".")[2]
    if len(fraction) > scale:
        with pytest.raises(AmountError, match="decimals"):
            parse_amount(text, scale)
        return
    value = _meaning(text, scale)
    if value > AMOUNT_MAX:
        with pytest.raises(AmountError, match="largest"):
            parse_amount(text, scale)
        return
    assert parse_amount(text, scale) == value
    # Formatting gives the canonical text of the same value.
    assert parse_amount(format_amount(value, scale), scale) == value


@given(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789.-+eE _,", max_size=30)))
def test_any_text_is_an_amount_or_an_amount_error(text: str) -> None:
    try:
        value = parse_amount(text, 6, allow_negative=True)
    except AmountError:
        return
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]{1,6})?", text), text
    assert value == _meaning(text, 6)


# ----------------------------------------------------------------------------- refusals


@given(st.floats(allow_nan=True, allow_infinity=True), scales)
def test_floats_are_refused(value: float, scale: int) -> None:
    with pytest.raises(AmountError, match="float"):
        parse_amount(value, scale)  # type: ignore[arg-type]
    with pytest.raises(AmountError, match="float"):
        format_amount(value, scale)  # type: ignore[arg-type]


@given(
    st.one_of(
        st.integers(),
        st.none(),
        st.booleans(),
        st.binary(),
        st.builds(Decimal, st.integers()),
        st.lists(st.text(max_size=2), max_size=2),
    )
)
def test_what_is_not_text_is_refused(value: Any) -> None:
    with pytest.raises(AmountError, match="decimal string"):
        parse_amount(value, 6)


@pytest.mark.parametrize("value", [True, False, 1.0, Decimal(1), "1", None])
def test_format_takes_only_ints(value: Any) -> None:
    with pytest.raises(AmountError, match="int"):
        format_amount(value, 6)


@pytest.mark.parametrize(
    "text",
    [
        "1e5",
        "1E5",
        "1.5e-3",
        "1e+2",
        "0x10",
        "0b1",
        "0o7",
        "inf",
        "Infinity",
        "NaN",
        "nan",
        "",
        " ",
        "-",
        ".",
        ".5",
        "5.",
        "1.2.3",
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "1,000",
        "1_000",
        "1'000",
        "+1",
        "--1",
        "-+1",
        "1-",
        "١٢",
        "\uff11\uff12",
        "1.\u0665",
        "½",
        "1/2",
        "²",
    ],
)
def test_only_plain_decimals_are_amounts(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, 6, allow_negative=True)


@given(scales.filter(lambda s: s < ASSET_SCALE_MAX), st.integers(0, 10**6))
def test_more_decimals_than_the_scale_are_refused_not_rounded(scale: int, units: int) -> None:
    exact = format_amount(units, scale)
    with_zero = f"{exact}0" if scale else f"{exact}.0"
    assert Decimal(with_zero) == Decimal(exact)  # the same value, but one decimal too many
    with pytest.raises(AmountError, match="decimals"):
        parse_amount(with_zero, scale)
    with pytest.raises(AmountError, match="decimals"):
        parse_amount(format_amount(units * 10 + 1, scale + 1), scale)


@given(st.integers(AMOUNT_MAX + 1, 10**40), scales)
@example(AMOUNT_MAX + 1, 0)
@example(AMOUNT_MAX + 1, ASSET_SCALE_MAX)
def test_amounts_above_the_maximum_are_refused(amount: int, scale: int) -> None:
    text = format_amount(amount, scale)
    with pytest.raises(AmountError, match="largest"):
        parse_amount(text, scale)
    with pytest.raises(AmountError, match="largest"):
        parse_amount(f"-{text}", scale, allow_negative=True)


def test_signs() -> None:
    assert parse_amount("-1.5", 1, allow_negative=True) == -15
    assert parse_amount("-0", 6) == 0  # zero has no sign to refuse
    for text in ("-1", "-0.000001", f"-{AMOUNT_MAX}"):
        with pytest.raises(AmountError, match="negative"):
            parse_amount(text, 6 if "." in text else 0)
    with pytest.raises(AmountError):
        parse_amount("+1", 0, allow_negative=True)


def test_zero_is_refused_where_it_must_not_be() -> None:
    for text in ("0", "0.000000", "000", "-0"):
        assert parse_amount(text, 6, allow_negative=True) == 0
        with pytest.raises(AmountError, match="zero"):
            parse_amount(text, 6, allow_zero=False, allow_negative=True)
    assert parse_amount("0.000001", 6, allow_zero=False) == 1


@given(scales, st.integers(0, 9))
def test_overlong_text_is_refused_even_when_its_value_is_fine(scale: int, value: int) -> None:
    digits = str(value)
    longest = digits.rjust(AMOUNT_TEXT_MAX, "0")
    assert parse_amount(longest, scale) == value * 10**scale
    with pytest.raises(AmountError, match="characters"):
        parse_amount("0" + longest, scale)
    with pytest.raises(AmountError, match="characters"):
        parse_amount("1" * 10_000, scale)


# ----------------------------------------------------------------------------- assets

asset_codes = st.from_regex(r"[A-Z][A-Z0-9]{1,11}", fullmatch=True)


@given(asset_codes, scales, amounts)
def test_valid_assets(code: str, scale: int, amount: int) -> None:
    asset = Asset(code, scale)
    assert asset.units_per_whole == 10**scale
    assert type(asset.units_per_whole) is int
    assert asset.parse(asset.format(amount)) == amount
    assert asset.format(amount) == format_amount(amount, scale)
    with pytest.raises(FrozenInstanceError):
        asset.scale = 2  # type: ignore[misc]


@given(
    st.one_of(
        st.text(max_size=20).filter(lambda c: not re.fullmatch(r"[A-Z][A-Z0-9]{1,11}", c)),
        st.from_regex(r"[A-Z][A-Z0-9]{12,20}", fullmatch=True),
        st.from_regex(r"[0-9][A-Z0-9]{1,11}", fullmatch=True),
        st.sampled_from(["usd", "U", "USD\n", " USD", "US D", "ÄBC", "\uff35\uff33\uff24", ""]),
    ),
    scales,
)
def test_invalid_asset_codes_are_refused(code: str, scale: int) -> None:
    with pytest.raises(ValueError, match="asset code"):
        Asset(code, scale)


@pytest.mark.parametrize("code", [None, 123, b"USD", ["USD"]])
def test_asset_codes_must_be_text(code: Any) -> None:
    # The code is matched by a regular expression, which refuses non-text with TypeError.
    with pytest.raises((ValueError, TypeError)):
        Asset(code, 6)


@pytest.mark.parametrize("scale", [-1, ASSET_SCALE_MAX + 1, 100, True, False, 6.0, "6", None])
def test_invalid_scales_are_refused(scale: Any) -> None:
    with pytest.raises(ValueError, match="scale"):
        Asset("USD", scale)


def test_allow_zero_passes_through_the_asset() -> None:
    usd = asset_by_code("USD")
    assert usd.parse("0.000125") == 125
    assert usd.parse("0") == 0
    with pytest.raises(AmountError):
        usd.parse("0", allow_zero=False)
    with pytest.raises(AmountError, match="decimals"):
        usd.parse("0.0000001")


def test_known_assets() -> None:
    assert set(ASSETS) >= {"USD", "EUR", "GBP", "JPY"}
    for code, asset in ASSETS.items():
        assert asset.code == code
        assert asset_by_code(code) is asset
        assert 0 <= asset.scale <= ASSET_SCALE_MAX
    assert ASSETS["USD"].format(125) == "0.000125"
    assert ASSETS["JPY"].format(10_000) == "1.0000"
    with pytest.raises(KeyError, match="XXX"):
        asset_by_code("XXX")


def test_bad_scales_and_codes_are_value_errors() -> None:
    for scale in (-1, 19, 1.5, None, True):
        with pytest.raises(ValueError):
            format_amount(5, scale)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            parse_amount("5", scale)  # type: ignore[arg-type]
    for code in (None, 5, b"USD"):
        with pytest.raises(ValueError):
            Asset(code, 2)  # type: ignore[arg-type]


def test_limits_are_written_once_for_every_asset_in_limit_units() -> None:
    from centime.money import ASSETS

    assert ASSETS["USD"].limit("1000") == 1000 * 10**6
    assert ASSETS["KRW"].limit("1000") == 1_000_000 * 10**4  # a limit unit is 1,000 won
    assert ASSETS["KRW"].limit("0.5") == 500 * 10**4
    assert ASSETS["JPY"].limit("1000") == 100_000 * 10**4  # a limit unit is a hundred yen


def test_the_short_text_of_an_amount_drops_only_zeros_beyond_the_minor_digits() -> None:
    assert ASSETS["USD"].short(19_436_500) == "19.4365"
    assert ASSETS["USD"].short(3_000_000) == "3.00"
    assert ASSETS["USD"].short(125) == "0.000125"
    assert ASSETS["JPY"].short(1000_0000) == "1000"
    assert ASSETS["KRW"].short(-5) == "-0.0005"
    for asset in ASSETS.values():
        for amount in (0, 1, 10**7 + 30, AMOUNT_MAX):
            assert asset.parse(asset.short(amount)) == amount


def test_a_limit_is_a_whole_number_of_the_currencys_minor_units() -> None:
    """Whole yen and whole won (neither has a minor unit), whole cents: rounded down, since
    a limit is a most."""
    from centime.money import ASSETS

    assert ASSETS["JPY"].limit("2.5") == 250 * 10**4
    assert ASSETS["JPY"].limit("0.0099") == 0  # 0.99 yen: a limit is whole yen
    assert ASSETS["JPY"].limit("0.9999") == 99 * 10**4  # 99.99 yen
    assert ASSETS["KRW"].limit("0.0015") == 1 * 10**4  # 1.5 won
    assert ASSETS["USD"].limit("100.005") == 100 * 10**6
    assert ASSETS["USD"].limit("0.25") == 250_000
    for asset in ASSETS.values():
        assert asset.limit("1") % asset.minor_unit == 0
        assert asset.limit(str(AMOUNT_MAX // asset.units_per_whole)) <= AMOUNT_MAX
    assert (ASSETS["JPY"].minor_digits, ASSETS["KRW"].minor_digits) == (0, 0)
    assert ASSETS["JPY"].minor_unit == ASSETS["KRW"].minor_unit == 10**4
