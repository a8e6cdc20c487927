"""Korean and English: every message of the pages and web code has a Korean translation
with the same placeholders; the locale comes from the switch or Accept-Language; amounts,
times and durations are formatted per locale, exactly."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX
from centime.money import ASSETS, parse_amount
from centime.web.i18n import LOCALE_DIR, Formats, choose_locale, choose_zone, translations

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _extracted() -> set[str]:
    """Every message the sources mark, read with the project's own babel.cfg mapping."""
    method_map = [
        ("src/centime/web/**.py", "python"),
        ("src/centime/web/templates/**.html", "jinja2"),
    ]
    options = {"src/centime/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options, keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_korean_translation_with_its_placeholders() -> None:
    with (LOCALE_DIR / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ko")
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"no Korean for {key!r}"
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(key)), key
        translated[key] = strings[0]
    missing = sorted(_extracted() - set(translated))
    assert missing == [], f"run pybabel extract/update (docs/web.md): {missing[:5]}"
    assert translations("ko").gettext("Sign in") == "로그인"
    assert translations("en").gettext("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("cookie", "header", "locale"),
    [
        (None, "ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        (None, "en-US,en;q=0.9,ko;q=0.8", "en"),
        (None, "fr-FR,ko;q=0.5", "ko"),
        (None, "fr-FR", "en"),
        (None, None, "en"),
        ("en", "ko", "en"),
        ("ko", "en", "ko"),
        ("xx", "ko", "ko"),
        (None, "en;q=0.2,ko;q=0.7", "ko"),
        (None, "ko;q=0,en", "en"),
        (None, "ko;q=abc", "en"),
    ],
)
def test_the_locale_is_the_switch_then_the_browser_then_english(
    cookie: str | None, header: str | None, locale: str
) -> None:
    assert choose_locale(cookie, header) == locale


def test_amounts_are_exact_and_grouped_per_locale() -> None:
    for locale in ("en", "ko"):
        formats = Formats(locale)
        assert formats.money(1_234_500_000, "USD") == "1,234.50 USD"
        assert formats.money(125, "USD") == "0.000125 USD"  # a micro-amount, every digit
        assert formats.money(1_0000_0000, "JPY") == "10,000 JPY"  # no minor unit shown
        assert formats.money(1_0000_0125, "JPY") == "10,000.0125 JPY"  # but never rounded
        assert formats.money(10**15 + 1, "USD") == "1,000,000,000.000001 USD"


def test_each_assets_minor_digits_are_the_currencys() -> None:
    """Screens show at least the currency's minor digits (ISO 4217, as Babel knows them):
    cents, and none for yen and won."""
    from babel.numbers import get_currency_precision

    for code, asset in ASSETS.items():
        assert asset.minor_digits == get_currency_precision(code), code
    assert Formats("ko").money(2_5000, "JPY") == "2.5 JPY"  # a limit is whole yen; an amount
    assert Formats("en").money(2_0000, "JPY") == "2 JPY"  # keeps every digit it has


def test_won_is_written_as_people_write_it_per_locale() -> None:
    assert Formats("en").money(1_234_0000, "KRW") == "₩1,234"
    assert Formats("ko").money(1_234_0000, "KRW") == "1,234원"
    assert Formats("ko").money(5, "KRW") == "0.0005원"  # a micro-amount keeps every digit
    assert Formats("en").money(-1_000_0000, "KRW") == "-₩1,000"


def _integer_back(text: str, asset: str) -> int:
    """The integer a formatted amount reads as: its symbols and grouping removed."""
    plain = text.removesuffix(f" {asset}").replace("₩", "").replace("원", "").replace(",", "")
    return parse_amount(plain, ASSETS[asset].scale, allow_negative=True)


@given(
    amount=st.integers(min_value=-AMOUNT_MAX, max_value=AMOUNT_MAX),
    asset=st.sampled_from(sorted(ASSETS)),
    locale=st.sampled_from(["en", "ko"]),
)
def test_formatting_never_changes_the_integer_amount(amount: int, asset: str, locale: str) -> None:
    assert _integer_back(Formats(locale).money(amount, asset), asset) == amount


def test_times_are_in_the_viewers_zone_and_durations_in_words() -> None:
    ns = int(dt.datetime(2027, 1, 15, 23, 30, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    seoul = Formats("ko", choose_zone("Asia/Seoul"))
    assert "2027" in seoul.when(ns) and "1" in seoul.when(ns) and "16" in seoul.when(ns)
    assert "(KST)" in seoul.when(ns)
    assert "(UTC)" in Formats("en", choose_zone("Not/AZone")).when(ns)
    assert choose_zone("../../etc/passwd") == dt.UTC and choose_zone(None) == dt.UTC
    assert Formats("ko").duration(86_398) == "23 시간 59 분"
    assert Formats("en").duration(86_398) == "23 h 59 min"


def test_a_form_fields_amount_is_plain_and_parses_back() -> None:
    """What a form field holds (the schedule's minimum, the payout's default) is sent back:
    no grouping, a point, exact."""
    from centime.web.i18n import plain_amount

    assert plain_amount(1_000_000_000, "USD") == "1000.00"
    assert plain_amount(67_763, "USD") == "0.067763"
    assert plain_amount(0, "USD") == "0.00"
    assert plain_amount(1_000_0000, "JPY") == "1000"
    assert plain_amount(5, "KRW") == "0.0005"
    for asset in ASSETS:
        for amount in (0, 1, 10**7 + 3, AMOUNT_MAX):
            assert parse_amount(plain_amount(amount, asset), ASSETS[asset].scale) == amount
