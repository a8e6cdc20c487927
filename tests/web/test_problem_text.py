"""Problem documents a person reads in Korean: ``title``, ``detail`` and each field's
``errors[].detail`` follow Accept-Language (English by default) through the web's catalogue;
``type``, ``code``, ``status`` and each error's ``field`` never change."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.auth import Scope
from centime.http.problems import ApiCode, problem_body
from centime.platform.context import Platform
from centime.platform.errors import Code
from centime.platform.ids import PREFIXES
from centime.web.detail_templates import DETAIL_TEMPLATES, STATUS_WORDS
from centime.web.field_text import FIELD_DETAILS, FIELD_TEMPLATES, ID_KINDS, TYPE_WORDS
from centime.web.i18n import translations
from centime.web.problem_text import TITLES, localize_problem
from centime.wire import FieldError
from tests.api.conftest import Api, make_api

KO = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}
CODES = sorted({c.value for c in Code} | {c.value for c in ApiCode})


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform)


def test_every_code_has_its_english_title_and_a_korean_one() -> None:
    korean = translations("ko").gettext
    for code in CODES:
        english = msgspec.json.decode(problem_body(code, "why"))["title"]
        assert TITLES.get(code) == english, code
        assert korean(english) != english, f"no Korean title for {code}"


@given(
    code=st.sampled_from(CODES),
    detail=st.text(max_size=80),
    field=st.text(max_size=20),
)
def test_only_title_and_details_change(code: str, detail: str, field: str) -> None:
    body = problem_body(code, detail, [FieldError(field=field, detail="must not be zero")])
    english = msgspec.json.decode(body)
    assert localize_problem(body, "en") == body
    korean = msgspec.json.decode(localize_problem(body, "ko"))
    for key in ("type", "code", "status"):
        assert korean[key] == english[key]
    assert korean["title"] == translations("ko").gettext(english["title"])
    assert korean["errors"] == [{"field": field, "detail": "0이 아니어야 합니다"}]


def test_a_refused_request_reads_in_the_language_asked(api: Api) -> None:
    headers = api.headers()
    missing = "/v1/customers/cus_0000000000000001"
    english = api.http.get(missing, headers=headers)
    korean = api.http.get(missing, headers={**headers, **KO})
    assert english.status_code == korean.status_code == 404
    en, ko = english.json(), korean.json()
    assert (ko["type"], ko["code"], ko["status"]) == (en["type"], en["code"], en["status"])
    assert en["title"] == "Customer not found" and ko["title"] == "고객 없음"
    assert ko["detail"] != en["detail"] and not ko["detail"].isascii()
    assert korean.headers["content-language"] == "ko"
    assert english.headers["content-language"] == "en"
    assert "accept-language" in korean.headers["vary"].lower()


def test_errors_before_any_handler_are_translated_too(api: Api) -> None:
    nowhere = api.http.get("/v1/nowhere", headers={**api.headers(), **KO})
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"
    assert nowhere.json()["title"] == "찾을 수 없음"
    unsigned = api.http.get("/v1/customers", headers=KO)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "unauthorized"
    assert unsigned.json()["detail"] == "로그인하거나 올바른 API 키를 보내세요."


def test_an_internal_error_keeps_its_request_id_in_korean() -> None:
    body = problem_body("internal_error", "an internal error occurred; request id abc-123")
    assert "abc-123" in msgspec.json.decode(localize_problem(body, "ko"))["detail"]


# -- details built from values (centime.web.detail_templates) -------------------------------
SRC = Path(__file__).resolve().parents[2] / "src" / "centime"
# f-string details whose values are free text from elsewhere (a library's or a validator's
# message): the code's sentence stands for them in Korean.
FREE_TEXT = {
    "label {}: {}",
    "url: {}",
    "{}: {}",
    "the passkey was refused: {}",
    "refused by the risk screen: {}",  # the risk reasons in words: centime.web.messages
    "no such {}",
    "line {}: {}",
    "confirm with a passkey, then ask again within {} s ({})",  # risk codes: never shown
    "Confirm with your passkey to {}.",  # a page's own sentence, translated where it is built
}


def _shape(text: str) -> str:
    return re.sub(r"%\(\w+\)s", "{}", text)


def _fstring_details() -> set[str]:
    """The shapes of every f-string detail a Refusal is built with, in the source."""
    shapes = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Refusal"):
                continue
            for arg in node.args[1:2]:
                if isinstance(arg, ast.JoinedStr):
                    shapes.add(
                        "".join(
                            str(v.value) if isinstance(v, ast.Constant) else "{}"
                            for v in arg.values
                        )
                    )
    return shapes


def test_every_detail_built_from_values_has_a_template() -> None:
    templates = {_shape(t) for t in DETAIL_TEMPLATES}
    missing = _fstring_details() - templates - FREE_TEXT
    assert not missing, f"add these shapes to DETAIL_TEMPLATES: {sorted(missing)}"


def test_every_template_has_korean() -> None:
    korean = translations("ko").gettext
    for template in DETAIL_TEMPLATES:
        translated = korean(template)
        assert translated != template and not translated.isascii(), template
        assert set(re.findall(r"%\(\w+\)s", translated)) == set(
            re.findall(r"%\(\w+\)s", template)
        ), template


# A value in a detail (an id, a word, a decimal amount) neither starts nor ends with a dot
# and holds no "..": one that did would be ambiguous beside a range's ".." ("0...0": low
# "0." or high ".0"?).
VALUES = st.from_regex(r"[A-Za-z0-9_']([A-Za-z0-9_'.]{0,10}[A-Za-z0-9_'])?", fullmatch=True).filter(
    lambda v: ".." not in v and v not in STATUS_WORDS  # a status is said in words (below)
)


@given(template=st.sampled_from(DETAIL_TEMPLATES), data=st.data())
def test_a_built_detail_keeps_its_values_in_korean(template: str, data: st.DataObject) -> None:
    names = re.findall(r"%\((\w+)\)s", template)
    values = {name: data.draw(VALUES, label=name) for name in names}
    english = template % values
    body = problem_body("invalid_request", english)
    korean = msgspec.json.decode(localize_problem(body, "ko"))["detail"]
    assert not korean.isascii(), (english, korean)
    for value in values.values():
        assert value in korean, (english, korean)


def test_an_amount_in_a_detail_is_written_as_the_locale_writes_it() -> None:
    body = problem_body("refund_exceeds_payment", "1234.500000 USD of the payment is refundable")
    korean = msgspec.json.decode(localize_problem(body, "ko"))["detail"]
    assert korean == "이 결제에서 환불할 수 있는 금액은 1,234.50 USD입니다"
    won = problem_body("refund_exceeds_payment", "15000.0000 KRW of the payment is refundable")
    assert "15,000원" in msgspec.json.decode(localize_problem(won, "ko"))["detail"]


def test_limits_and_durations_in_a_detail_are_written_the_korean_way() -> None:
    def korean(code: str, detail: str) -> str:
        found: str = msgspec.json.decode(localize_problem(problem_body(code, detail), "ko"))[
            "detail"
        ]
        return found

    daily = korean(
        "tier_limit_exceeded",
        "the daily top-up limit is 1000.000000 USD; 250.500000 USD left today",
    )
    assert "1,000.00 USD" in daily and "250.50 USD" in daily and "하루" in daily, daily
    yen = korean(
        "tier_limit_exceeded", "the daily top-up limit is 100.0000 JPY; 40.0000 JPY left today"
    )
    assert "100 JPY" in yen and "40 JPY" in yen and ".0000" not in yen, yen
    won = korean("tier_limit_exceeded", "the balance may not exceed 1000000.0000 KRW")
    assert "1,000,000원" in won and "KRW" not in won, won
    locked = korean("payouts_locked", "a payout-method change locks payouts for 23 h 59 min more")
    assert "23 시간 59 분" in locked, locked


def test_a_refusal_built_from_values_reads_in_korean_over_the_api(api: Api) -> None:
    """A value-built detail over the API: its values stay in the Korean sentence."""
    body = {"name": "Newcomer", "kyc_tier": 7}
    english = api.http.post("/v1/customers", headers=api.headers(), json=body)
    korean = api.http.post("/v1/customers", headers={**api.headers(), **KO}, json=body)
    assert english.status_code == korean.status_code == 400, english.text
    en, ko = english.json()["detail"], korean.json()["detail"]
    assert en.startswith("kyc_tier must be one of"), en
    assert ko.startswith("kyc_tier는 다음 중 하나여야 합니다:"), ko
    assert en.rpartition(" of ")[2] in ko  # the tiers themselves


def test_a_status_in_a_detail_is_said_in_the_readers_words() -> None:
    def korean(code: str, detail: str) -> str:
        found: str = msgspec.json.decode(localize_problem(problem_body(code, detail), "ko"))[
            "detail"
        ]
        return found

    assert korean("hold_not_authorized", "the hold is released") == "이 보류는 해제됨 상태입니다"
    assert (
        korean("topup_not_pending", "the top-up is pending") == "이 충전은 이미 대기 중 상태입니다"
    )
    assert "거절됨" in korean("case_not_open", "the case is declined")
    assert "사용됨" in korean("link_inactive", "this payment link is used")
    gettext = translations("ko").gettext
    for word in STATUS_WORDS.values():
        assert not gettext(word).isascii(), word


# -- field details (centime.web.field_text) --------------------------------------------------


def _field_details() -> set[str]:
    """The shapes of every detail a FieldError or WireError is built with in the source
    (literals and f-strings; a name is a value passed through: msgspec's, checked below)."""
    shapes = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "FieldError":
                found = [k.value for k in node.keywords if k.arg == "detail"]
            elif name == "WireError":
                found = node.args[2:3]
            else:
                continue
            for arg in found:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    shapes.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    shapes.add(
                        "".join(
                            str(v.value) if isinstance(v, ast.Constant) else "{}"
                            for v in arg.values
                        )
                    )
    return shapes


def test_every_field_detail_of_the_sources_has_korean() -> None:
    known = set(FIELD_DETAILS) | {_shape(t) for t in FIELD_TEMPLATES}
    missing = _field_details() - known
    assert not missing, f"add these to centime.web.field_text: {sorted(missing)}"
    korean = translations("ko").gettext
    for message in (*FIELD_DETAILS, *FIELD_TEMPLATES, *TYPE_WORDS.values(), *ID_KINDS.values()):
        translated = korean(message)
        assert translated != message or message == "null", message
        assert set(re.findall(r"%\(\w+\)s", translated)) == set(
            re.findall(r"%\(\w+\)s", message)
        ), message
    assert set(ID_KINDS) == set(PREFIXES.values())


def _bad(api: Api, path: str, body: object, **headers: str) -> tuple[Any, Any]:
    english = api.http.post(path, headers=api.headers(**headers), json=body)
    korean = api.http.post(path, headers={**api.headers(**headers), **KO}, json=body)
    assert english.status_code == korean.status_code == 400, english.text
    return english.json(), korean.json()


def test_field_details_read_in_korean_over_the_api(api: Api) -> None:
    """What a person reads of a refused form: each field's detail in Korean, the field's
    name kept, and the problem's detail made of them."""
    en, ko = _bad(api, "/v1/customers", {"name": 5})
    assert en["errors"] == [{"field": "name", "detail": "Expected `str`, got `int`"}]
    assert ko["errors"] == [{"field": "name", "detail": "필요한 값: 문자열, 받은 값: 정수"}]
    assert ko["detail"] == "name: 필요한 값: 문자열, 받은 값: 정수"
    en, ko = _bad(api, "/v1/customers", {"name": "Newcomer", "nickname": "x"})
    assert ko["errors"] == [{"field": "nickname", "detail": "알 수 없는 필드입니다: `nickname`"}]
    en, ko = _bad(api, "/v1/customers", {})
    assert ko["errors"][0]["detail"] == "필수 필드가 없습니다: `name`"
    en, ko = _bad(api, "/v1/customers", {"name": "x" * 500})
    assert ko["errors"][0]["detail"].startswith("길이가 200 이하여야 합니다"), ko
    pay = {
        "customer_id": "cus_x",
        "merchant_id": "mer_0000000000001",
        "amount": {"value": "1", "asset": "USD", "scale": 6},
    }
    en, ko = _bad(api, "/v1/payments", pay, **{"Idempotency-Key": "k-1"})
    assert ko["errors"] == [
        {"field": "customer_id", "detail": "고객 id가 아닙니다 (cus_ 뒤에 13자)"}
    ], ko
    for detail in (e["detail"] for doc in (ko,) for e in doc["errors"]):
        assert "Expected" not in detail and "regex" not in detail


def test_an_amounts_field_detail_reads_in_korean(api: Api) -> None:
    customer = api.operator.create_customer("Ada")
    merchant = api.merchant()
    pay = {
        "customer_id": customer.id,
        "merchant_id": merchant.id,
        "amount": {"value": "0", "asset": "USD", "scale": 6},
    }
    en, ko = _bad(api, "/v1/payments", pay, **{"Idempotency-Key": "k-2"})
    assert en["errors"] == [{"field": "amount.value", "detail": "must not be zero"}], en
    assert ko["errors"] == [{"field": "amount.value", "detail": "0이 아니어야 합니다"}]
    pay["amount"] = {"value": "1", "asset": "USD", "scale": 2}
    en, ko = _bad(api, "/v1/payments", pay, **{"Idempotency-Key": "k-3"})
    assert ko["errors"][0]["field"] == "amount.scale"
    assert ko["errors"][0]["detail"].startswith("USD의 scale은 2이(가) 아니라 6입니다"), ko
    english_words = re.compile(r"[A-Za-z]{4,}")  # USD, scale, value stay; sentences do not
    assert not english_words.findall(
        ko["errors"][0]["detail"].replace("scale", "").replace("value", "")
    )


@pytest.mark.parametrize("code", CODES)
def test_every_code_reads_in_korean_whatever_its_developer_detail(code: str) -> None:
    """A detail the catalogue does not hold (a literal of a service, a library's text)
    becomes the code's sentence for people: never English for a Korean reader."""
    body = problem_body(code, "the frobnicator is in a state we did not expect")
    korean = msgspec.json.decode(localize_problem(body, "ko"))["detail"]
    assert not korean.isascii() and "frobnicator" not in korean, (code, korean)


def test_which_key_may_do_what_reads_in_korean(api: Api) -> None:
    from centime.web.problem_text import EXACT_DETAILS

    sources = "".join(p.read_text(encoding="utf-8") for p in (SRC / "api").rglob("*.py"))
    for detail in EXACT_DETAILS:  # still what the API says
        assert f'"{detail}"' in sources, detail
    merchant = api.merchant()
    reader = api.merchant_key(merchant, Scope.READ)
    body = {"customer_id": "cus_0000000000001", "amount": "1"}
    refused = api.http.post(
        "/v1/payments",
        headers={**api.headers(reader, **{"Idempotency-Key": "k-9"}), **KO},
        json=body,
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "이 키에는 'payments' 권한 범위가 없습니다"
