"""The step-up bypass of issue 12, replayed in process on both stores: a stolen session
cookie (no fresh passkey confirmation) tries to add its own passkey, step up with it,
replace the owner's recovery codes, remove the owner's passkeys and change the bank
account. Each step is refused now; the owner's recovery ends the thief's session; every
credential change tells the owner. (test_live.py replays the same path against
``centime serve``.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from centime.auth import passkeys as pk
from centime.auth.sessions import LoginThrottle, load_session, session_hash
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.ids import new_id
from centime.platform.parties import create_customer
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS
from centime.server import create_app
from centime.web import WebState
from tests.auth.test_passkeys import ORIGIN, RP, SoftAuthenticator, step_up
from tests.platform.payout_world import install_rail

from .auth_helpers import enrolled

BASE = "https://testserver.local"


@pytest.fixture
def app(platform: Platform, clock: FakeClock) -> Litestar:
    web = WebState(
        platform, pk.RelyingParty.for_origin(ORIGIN), LoginThrottle(lambda: clock.now_ns() / 1e9)
    )
    return create_app(platform, web=web)


@pytest.fixture
def owner(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=BASE) as http:
        yield http


@pytest.fixture
def thief(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=BASE) as http:
        yield http


def csrf(http: TestClient[Litestar], path: str = "/app") -> str:
    found = re.search(r'name="csrf" content="([0-9a-f]+)"', http.get(path).text)
    assert found
    return found.group(1)


def sign_up(
    http: TestClient[Litestar], kind: str = "merchant"
) -> tuple[SoftAuthenticator, list[str]]:
    device = SoftAuthenticator()
    headers = {"X-CSRF-Token": csrf(http)}
    options = http.post("/web/signup/options", json={"name": "Ada", "kind": kind}, headers=headers)
    done = http.post(
        "/web/signup/finish",
        headers=headers,
        json={"credential": json.loads(device.create(options.text))},
    )
    assert done.status_code == 200, done.text
    return device, done.json()["recovery_codes"]


def web_step_up(http: TestClient[Litestar], device: SoftAuthenticator) -> int:
    headers = {"X-CSRF-Token": csrf(http, "/account")}
    options = http.post("/web/stepup/options", headers=headers, json={})
    answer = json.loads(device.get(options.text))
    return http.post("/web/stepup/finish", headers=headers, json={"credential": answer}).status_code


def add_passkey(http: TestClient[Litestar], device: SoftAuthenticator) -> tuple[int, int]:
    """(status of the options, status of the finish) of adding ``device``."""
    headers = {"X-CSRF-Token": csrf(http, "/account")}
    options = http.post("/web/passkeys/options", headers=headers, json={})
    if options.status_code != 200:
        return options.status_code, 0
    done = http.post(
        "/web/passkeys/finish",
        headers=headers,
        json={"credential": json.loads(device.create(options.text)), "name": "attacker"},
    )
    return 200, done.status_code


def steal(owner: TestClient[Litestar], thief: TestClient[Litestar]) -> None:
    """The thief's browser gets the owner's session cookie (and nothing else)."""
    thief.cookies.set("centime_session", owner.cookies["centime_session"])


def outbox(platform: Platform, event_type: str) -> list[dict[str, object]]:
    with platform.read() as fetch:
        rows = fetch(
            "SELECT data FROM outbox_events WHERE type = ? ORDER BY created_ns, id", (event_type,)
        )
    return [json.loads(row[0]) for row in rows]


def test_a_stolen_session_cannot_take_the_account_over(
    owner: TestClient[Litestar],
    thief: TestClient[Litestar],
    platform: Platform,
    clock: FakeClock,
) -> None:
    install_rail(platform, clock)
    device, codes = sign_up(owner)
    owner_key = pk.b64url(device.credential_id)
    steal(owner, thief)
    assert thief.get("/account").status_code == 200  # the cookie works: signed in
    mine = SoftAuthenticator()
    # 1. Register the thief's own passkey: refused before any challenge is handed out.
    assert add_passkey(thief, mine) == (403, 0)
    # 2. Step up with it: it is no passkey of this person.
    assert web_step_up(thief, mine) == 401
    # 3. Replace the owner's recovery codes: a fresh confirmation is needed.
    token = csrf(thief, "/account")
    replaced = thief.post("/account/recovery-codes", data={"csrf": token})
    assert replaced.status_code == 401 and "confirm" in replaced.text.lower()
    # 4. Remove the owner's passkey; 5. point the payouts elsewhere; 6. an API confirmation.
    removed = thief.post(f"/account/passkeys/{owner_key}/remove", data={"csrf": token})
    assert removed.status_code == 401
    assert [p.credential_id for p in pk.list_passkeys(platform, _user_id(platform))] == [owner_key]
    bank = thief.post(
        "/dashboard/payout-methods",
        data={"holder_name": "Thief", "account_number": ACCOUNT_SUCCEEDS, "csrf": token},
    )
    assert bank.status_code == 401
    assert thief.post("/account/api-confirmation", data={"csrf": token}).status_code == 401
    assert outbox(platform, "account.credential_changed") == []
    # The owner's codes still work, and recovering ends the thief's session.
    recovered = owner.post(
        "/recover", data={"code": codes[0], "csrf": csrf(owner)}, follow_redirects=False
    )
    assert recovered.status_code == 303
    assert thief.get("/account", follow_redirects=False).headers["location"] == "/app?signin=1"
    notices = outbox(platform, "account.notice")
    assert [n["subject"] for n in notices] == ["A recovery code was used to sign in"]
    assert set(notices[0]) == {"to", "subject", "body", "language"}


def _user_id(platform: Platform) -> int:
    with platform.read() as fetch:
        return int(fetch("SELECT id FROM web_users ORDER BY created_ns DESC LIMIT 1", ())[0][0])


def test_a_passkey_added_in_this_session_does_not_confirm_credential_changes(
    owner: TestClient[Litestar], platform: Platform
) -> None:
    device, _ = sign_up(owner)
    assert web_step_up(owner, device) == 200
    second = SoftAuthenticator()
    assert add_passkey(owner, second) == (200, 200)  # a confirmed owner adds a passkey
    second.user_handle = device.user_handle
    # Confirmed with the passkey this very session added: no credential change.
    assert web_step_up(owner, second) == 200
    token = csrf(owner, "/account")
    assert owner.post("/account/recovery-codes", data={"csrf": token}).status_code == 401
    assert add_passkey(owner, SoftAuthenticator()) == (403, 0)
    key = pk.b64url(device.credential_id)
    assert owner.post(f"/account/passkeys/{key}/remove", data={"csrf": token}).status_code == 401
    # Confirmed again with the passkey it had before: the change goes through.
    assert web_step_up(owner, device) == 200
    made = owner.post("/account/recovery-codes", data={"csrf": csrf(owner, "/account")})
    assert made.status_code == 200 and made.text.count("<li>") >= pk.RECOVERY_CODES
    changes = [e["change"] for e in outbox(platform, "account.credential_changed")]
    assert changes == ["passkey_added", "recovery_codes_replaced"]


def test_confirmation_lapses_and_is_checked_in_the_unit(
    platform: Platform, clock: FakeClock
) -> None:
    person = enrolled(platform, pk.UserKind.CUSTOMER, _customer(platform))
    here = step_up(platform, person.device, person.user.id, person.token)
    clock.advance(5 * 60 + 1)  # STEP_UP_FRESH_S: stale now
    stale = platform.execute(pk.new_recovery_codes(platform, person.user.id, here))
    assert isinstance(stale, pk.Refusal) and stale.code.value == "step_up_required"
    key = pk.b64url(person.device.credential_id)
    gone = platform.execute(pk.remove_passkey(platform, person.user.id, here, key))
    assert isinstance(gone, pk.Refusal)
    # Another person's fresh session confirms nothing for this one.
    other = enrolled(platform, pk.UserKind.CUSTOMER, _customer(platform))
    theirs = step_up(platform, other.device, other.user.id, other.token)
    foreign = platform.execute(pk.new_recovery_codes(platform, person.user.id, theirs))
    assert isinstance(foreign, pk.Refusal)
    session = load_session(platform, person.token)
    assert session is not None and session.confirmed_by == key and session.strong


def _customer(platform: Platform) -> int:
    made = platform.execute(create_customer(platform, "Cy", f"cy{new_id()}@example.com"))
    assert not isinstance(made, pk.Refusal)
    return int(made.id)


def test_challenges_of_an_unconfirmed_session_cannot_register_a_passkey(
    platform: Platform,
) -> None:
    person = enrolled(platform, pk.UserKind.CUSTOMER, _customer(platform))
    here = step_up(platform, person.device, person.user.id, person.token)
    options = platform.execute(pk.add_passkey_options(RP, platform, person.user, here))
    assert isinstance(options, str)
    # The options were asked by a confirmed session; another (unconfirmed) session of the
    # same person cannot finish with them.
    signed = platform.execute(pk.signin_options(RP, platform))
    assert isinstance(signed, str)
    other = platform.execute(pk.signin_finish(RP, platform, person.device.get(signed)))
    assert isinstance(other, pk.SignedIn)
    late = platform.execute(
        pk.add_passkey_finish(
            RP,
            platform,
            person.user.id,
            session_hash(other.session.token),
            SoftAuthenticator().create(options),
            "mine",
        )
    )
    assert isinstance(late, pk.Refusal)
    assert len(pk.list_passkeys(platform, person.user.id)) == 1
