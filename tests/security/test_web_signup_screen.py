"""Web sign-ups are screened as the API's are: the risk screen is asked about every
sign-up through the passkey pages (with the request's address), a BLOCK refuses it with
nothing created but the decision, a REVIEW creates the party frozen with a case open, and
the real risk engine blocks a burst of web sign-ups from one address as it does the API's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from centime.auth.passkeys import RelyingParty
from centime.auth.sessions import LoginThrottle
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.risk.engine import build_engine
from centime.risk.types import Action
from centime.server import create_app
from centime.web import WebState
from tests.auth.test_passkeys import ORIGIN, SoftAuthenticator
from tests.risk.screens import ScriptedScreen, decision

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

BASE = "https://testserver.local"


@pytest.fixture
def http(platform: Platform, clock: FakeClock) -> Iterator[TestClient[Litestar]]:
    web = WebState(
        platform, RelyingParty.for_origin(ORIGIN), LoginThrottle(lambda: clock.now_ns() / 1e9)
    )
    with TestClient(create_app(platform, web=web), base_url=BASE) as client:
        yield client


def _sign_up(http: TestClient[Litestar], kind: str = "customer") -> tuple[int, dict[str, object]]:
    page = http.get("/app")
    token = re.search(r'name="csrf" content="([0-9a-f]+)"', page.text)
    assert token, page.text[:300]
    headers = {"X-CSRF-Token": token.group(1)}
    options = http.post(
        "/web/signup/options", json={"name": "Mallory", "kind": kind}, headers=headers
    )
    assert options.status_code == 200, options.text
    done = http.post(
        "/web/signup/finish",
        headers=headers,
        json={"credential": json.loads(SoftAuthenticator().create(options.text))},
    )
    answer: dict[str, object] = done.json()
    return done.status_code, answer


def _count(platform: Platform, sql: str) -> int:
    with platform.read() as fetch:
        return int(fetch(sql, ())[0][0])


@pytest.mark.parametrize("kind", ["customer", "merchant"])
def test_a_blocked_web_sign_up_creates_nothing_but_its_decision(
    platform: Platform, http: TestClient[Litestar], kind: str
) -> None:
    screen = ScriptedScreen(lambda e: decision(Action.BLOCK, "signup_velocity_ip", score=95))
    platform.screen = screen
    status, answer = _sign_up(http, kind)
    assert (status, answer["code"]) == (422, "risk_blocked"), answer
    [asked] = screen.asked
    assert asked.type == "signup" and asked.ip == "testclient"
    assert asked.payer.startswith("cus_" if kind == "customer" else "mer_")
    table = "customers" if kind == "customer" else "merchants"
    assert _count(platform, f"SELECT COUNT(*) FROM {table}") == 0
    assert _count(platform, "SELECT COUNT(*) FROM web_users") == 0
    assert _count(platform, "SELECT COUNT(*) FROM passkeys") == 0
    assert (
        _count(
            platform,
            "SELECT COUNT(*) FROM risk_decisions WHERE event_type = 'signup' AND action = 'block'",
        )
        == 1
    )


def test_a_web_sign_up_in_review_is_created_frozen_with_a_case(
    platform: Platform, http: TestClient[Litestar]
) -> None:
    platform.screen = ScriptedScreen(lambda e: decision(Action.REVIEW, "new_device", score=70))
    status, answer = _sign_up(http)
    assert status == 200, answer
    with platform.read() as fetch:
        [(status_text,)] = fetch("SELECT status FROM customers", ())
        [(subject, party)] = fetch("SELECT subject_kind, party_id FROM risk_cases", ())
        [(user_party,)] = fetch("SELECT party_id FROM web_users", ())
    assert (status_text, subject) == ("frozen", "customer") and party == user_party


# An operator's rule on top of the shipped ones: sign-ups from one address within the hour.
SIGNUP_BURST_RULE = """
[[rule]]
code = "signup_burst_ip"
action = "block"
types = ["signup"]
when = [["ip_n_1h", ">=", 3]]
"""


def test_the_risk_engine_blocks_a_burst_of_web_sign_ups(
    platform: Platform, http: TestClient[Litestar], clock: FakeClock, tmp_path: Path
) -> None:
    """The real engine (shipped model, shipped rules plus an operator's velocity rule)
    decides web sign-ups: the burst's later sign-ups are refused by the rule."""
    from importlib.resources import files

    rules = tmp_path / "rules.toml"
    shipped = files("centime.risk").joinpath("data/rules.toml").read_text()
    rules.write_text(shipped + SIGNUP_BURST_RULE)
    platform.screen = build_engine(rules, None, clock=clock)
    outcomes = []
    for _ in range(6):
        status, answer = _sign_up(http)
        outcomes.append(answer.get("code") if status != 200 else "ok")
    assert outcomes[0] == "ok" and "risk_blocked" in outcomes, outcomes
