"""The attacks of issue 12 part B against the real server: ``centime serve`` in a
subprocess on a free loopback port over a new SQLite file, driven over HTTP as an attacker
would (the passkey ceremonies by the software authenticator of tests/auth).

- A stolen session cookie: add a passkey, step up with it, replace the recovery codes,
  remove the owner's passkey, change the bank account; a stolen API key: change the bank
  account. Each refused; the owner's recovery ends the thief's session; notices written.
- ``/stepup?next=`` sends nowhere but this site.
- ``X-Forwarded-For`` does not reset the per-address sign-in limit (no proxy configured),
  and is believed from a configured proxy only.
- 3,000 bad API keys from one address: a few 401s, then 429 with Retry-After.
- CSRF tokens need the server's secret (the cookie alone forges none).
- Failed sign-ins with someone's passkey lock the attempt's source, not the owner.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from centime.auth import passkeys as pk
from centime.limits import AUTH_FAILURES_BURST, AUTH_FAILURES_PER_S
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS
from tests.auth.test_passkeys import SoftAuthenticator

from .auth_helpers import Browser, Server, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Every browser a person of its own address, behind a proxy on loopback (web sign-ups
    are screened: a burst of them from one address is blocked)."""
    with serve(
        tmp_path_factory.mktemp("live"), distinct_clients=True, CENTIME_PAYOUT_METHOD_LOCK_S="0"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def customer(server: Server) -> Iterator[Browser]:
    """One signed-in customer (the risk screen holds many sign-ups from one address)."""
    person = Browser(server)
    person.sign_up("customer", name="Cyd")
    yield person
    person.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    """A server of its own, for a test that exhausts a per-address limit of loopback."""
    with serve(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Behind a reverse proxy on loopback: X-Forwarded-For names the client."""
    with serve(
        tmp_path_factory.mktemp("proxied"), CENTIME_TRUSTED_PROXIES="127.0.0.1/32"
    ) as running:
        yield running


def outbox(database: Path, event_type: str) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT data FROM outbox_events WHERE type = ? ORDER BY created_ns", (event_type,)
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def api_key(owner: Browser) -> str:
    """A payouts key the owner makes on its dashboard (after a fresh confirmation)."""
    assert owner.step_up().status_code == 200
    owner.refresh_csrf("/dashboard")
    made = owner.form("/dashboard/keys", name="server", scope="payouts")
    found = re.search(r"ck_key_\w{13}_[\w-]{43}", made.text)
    assert made.status_code == 200 and found, made.text[:500]
    return found.group(0)


def sign_in(server: Server, device: SoftAuthenticator, **headers: str) -> Browser:
    """Another browser of the person who holds ``device``, signed in with it."""
    browser = Browser(server, device)
    browser.refresh_csrf()
    options = browser.post_json("/web/signin/options", {}, **headers)
    answer = json.loads(device.get(options.text))
    signed = browser.post_json("/web/signin/finish", {"credential": answer}, **headers)
    assert signed.status_code == 200, signed.text
    browser.refresh_csrf("/account")  # the token follows the new session's cookie
    return browser


def test_a_stolen_session_or_api_key_cannot_take_the_account_over(server: Server) -> None:
    owner = Browser(server)
    codes = owner.sign_up("merchant")
    key = api_key(sign_in(server, owner.device))  # on the owner's other computer
    changes_before = outbox(server.database, "account.credential_changed")
    notices_before = outbox(server.database, "account.notice")
    thief = Browser(server, SoftAuthenticator(origin=server.origin))
    thief.cookies = {"centime_session": owner.cookies["centime_session"]}
    thief.refresh_csrf("/account")
    # Add the thief's passkey: refused before a challenge is handed out.
    assert thief.post_json("/web/passkeys/options", {}).status_code == 403
    # Step up with a passkey the server never registered for this person.
    assert thief.step_up().status_code == 401
    # Replace the owner's recovery codes; remove the owner's passkey; a new bank account.
    assert thief.form("/account/recovery-codes").status_code == 401
    owner_key = pk.b64url(owner.device.credential_id)
    assert thief.form(f"/account/passkeys/{owner_key}/remove").status_code == 401
    assert owner_key in owner.get("/account").text
    thief.refresh_csrf("/dashboard")
    bank = thief.form(
        "/dashboard/payout-methods", holder_name="Thief", account_number=ACCOUNT_SUCCEEDS
    )
    assert bank.status_code == 401
    # The stolen API key cannot point the payouts elsewhere either.
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "steal-1"}
    body = {"holder_name": "Thief", "account_number": ACCOUNT_SUCCEEDS}
    api = httpx.post(f"{server.url}/v1/payout-methods", json=body, headers=headers)
    assert api.status_code == 403 and api.json()["code"] == "step_up_required", api.text
    forged = httpx.post(
        f"{server.url}/v1/payout-methods",
        json=body,
        headers={**headers, "Centime-Confirmation": "cfm_" + "A" * 43},
    )
    assert forged.status_code == 403
    assert outbox(server.database, "account.credential_changed") == changes_before
    # The owner recovers on a new computer: every other session ends; the owner is told.
    rescue = Browser(server)
    rescue.refresh_csrf()
    assert rescue.form("/recover", code=codes[0]).status_code == 303
    assert thief.get("/account").headers["location"] == "/app?signin=1"
    assert owner.get("/account").headers["location"] == "/app?signin=1"
    assert rescue.get("/account").status_code == 200
    notices = outbox(server.database, "account.notice")[len(notices_before) :]
    assert [n["subject"] for n in notices] == ["A recovery code was used to sign in"]


def test_the_owner_changes_credentials_with_a_passkey_it_had(server: Server) -> None:
    """What the thief could not do, the owner does: confirmed with its own passkey."""
    owner = Browser(server)
    owner.sign_up("merchant", name="Bea")
    assert owner.step_up().status_code == 200
    owner.refresh_csrf("/account")
    options = owner.post_json("/web/passkeys/options", {})
    assert options.status_code == 200
    laptop = SoftAuthenticator(origin=server.origin)
    added = owner.post_json(
        "/web/passkeys/finish",
        {"credential": json.loads(laptop.create(options.text)), "name": "Laptop"},
    )
    assert added.status_code == 200, added.text
    # A step-up with the passkey this session just added does not count...
    laptop.user_handle = owner.device.user_handle
    assert owner.step_up(laptop).status_code == 200
    assert owner.form("/account/recovery-codes").status_code == 401
    # ...one with the passkey it had does.
    assert owner.step_up().status_code == 200
    assert owner.form("/account/recovery-codes").status_code == 200
    minted = owner.form("/account/api-confirmation")
    confirmation = re.search(r"cfm_[\w-]+", minted.text)
    assert minted.status_code == 200 and confirmation
    key = api_key(owner)
    headers = {
        "Authorization": f"Bearer {key}",
        "Idempotency-Key": "own-1",
        "Centime-Confirmation": confirmation.group(0),
    }
    body = {"holder_name": "Bea", "account_number": ACCOUNT_SUCCEEDS}
    made = httpx.post(f"{server.url}/v1/payout-methods", json=body, headers=headers)
    assert made.status_code == 201, made.text
    again = httpx.post(f"{server.url}/v1/payout-methods", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == made.json()["id"]  # a retry
    other = httpx.post(
        f"{server.url}/v1/payout-methods",
        json=body,
        headers={**headers, "Idempotency-Key": "own-2"},
    )
    assert other.status_code == 403  # spent on the first change
    changes = Counter(
        str(e["change"]) for e in outbox(server.database, "account.credential_changed")
    )
    assert changes["passkey_added"] >= 1 and changes["recovery_codes_replaced"] >= 1
    assert changes["api_confirmation_issued"] >= 1 and changes["payout_method_added"] >= 1


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "https://evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/%09/evil.example",
        "\\\\evil.example",
    ],
)
def test_step_up_never_sends_the_browser_elsewhere(customer: Browser, target: str) -> None:
    person = customer
    page = person.get(f"/stepup?{httpx.QueryParams({'next': target})}")
    found = re.search(r'data-next="([^"]*)"', page.text)
    assert page.status_code == 200 and found
    assert found.group(1) == "/wallet"  # the person's home, not the attacker's address
    kept = person.get("/stepup?next=/wallet/send%3Fx%3D1")
    assert 'data-next="/wallet/send?x=1"' in kept.text  # a same-site path is kept


def test_forwarded_for_does_not_reset_the_sign_in_limit(fresh: Server) -> None:
    visitor = Browser(fresh)
    visitor.refresh_csrf()
    statuses = []
    for n in range(40):  # a new address named each time
        forwarded = {"X-Forwarded-For": f"203.0.113.{n}"}
        statuses.append(visitor.post_json("/web/signin/options", {}, **forwarded).status_code)
    assert statuses == [200] * 30 + [429] * 10, statuses


def test_a_configured_proxy_is_believed_and_a_source_is_locked_not_the_owner(
    proxied: Server,
) -> None:
    owner = Browser(proxied)
    owner.sign_up("customer", name="Dee")
    owner_id = pk.b64url(owner.device.credential_id)
    # The attacker replays the owner's passkey id with a key of its own, from one address.
    attacker = Browser(proxied)
    attacker.refresh_csrf()
    forger = SoftAuthenticator(
        origin=proxied.origin,
        credential_id=owner.device.credential_id,
        user_handle=owner.device.user_handle,
    )
    seen = []
    for _ in range(8):
        options = attacker.post_json(
            "/web/signin/options", {}, **{"X-Forwarded-For": "203.0.113.9"}
        )
        answer = json.loads(forger.get(options.text))
        seen.append(
            attacker.post_json(
                "/web/signin/finish", {"credential": answer}, **{"X-Forwarded-For": "203.0.113.9"}
            ).status_code
        )
    assert seen[:5] == [401] * 5 and set(seen[5:]) == {429}, seen
    # The owner, signing in from its own address, is not locked out.
    again = sign_in(proxied, owner.device, **{"X-Forwarded-For": "198.51.100.7"})
    assert owner_id in again.get("/account").text


def test_bad_api_keys_are_answered_429_after_a_few(fresh: Server) -> None:
    statuses: Counter[int] = Counter()
    retry_after = None
    started_s = time.monotonic()
    with httpx.Client(base_url=fresh.url) as http:
        for n in range(3000):
            answer = http.get("/v1/payments", headers={"Authorization": f"Bearer ck_bad_{n}"})
            statuses[answer.status_code] += 1
            if answer.status_code == 429:
                retry_after = answer.headers.get("retry-after")
    # A burst of 20 failures, then one more every 5 s of the run (AUTH_FAILURES_*).
    allowed = AUTH_FAILURES_BURST + int((time.monotonic() - started_s) * AUTH_FAILURES_PER_S) + 1
    assert statuses[401] <= allowed and statuses[401] + statuses[429] == 3000, statuses
    assert retry_after is not None and int(retry_after) >= 1


def test_a_csrf_token_needs_the_server_secret(server: Server) -> None:
    person = Browser(server)
    person.refresh_csrf()
    cookie = person.cookies["centime_pre"]
    # What the token used to be: HMAC of a fixed label keyed by the cookie alone.
    old = hmac.new(cookie.encode(), b"centime csrf v1", hashlib.sha256).hexdigest()
    assert person.csrf != old
    person.csrf = old
    assert person.form("/recover", code="x").status_code == 403
    key_file = Path(f"{server.database}.web-key")
    assert key_file.stat().st_mode & 0o777 == 0o600
