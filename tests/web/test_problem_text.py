"""Problem documents a person reads in Korean: ``title`` and ``detail`` follow
Accept-Language (English by default) through the web's catalogue; ``type``, ``code``,
``status`` and ``errors`` never change."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.http.problems import ApiCode, problem_body
from centime.platform.context import Platform
from centime.platform.errors import Code
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
def test_only_title_and_detail_change(code: str, detail: str, field: str) -> None:
    body = problem_body(code, detail, [FieldError(field=field, detail="bad")])
    english = msgspec.json.decode(body)
    assert localize_problem(body, "en") == body
    korean = msgspec.json.decode(localize_problem(body, "ko"))
    for key in ("type", "code", "status", "errors"):
        assert korean[key] == english[key]
    assert korean["title"] == translations("ko").gettext(english["title"])


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
