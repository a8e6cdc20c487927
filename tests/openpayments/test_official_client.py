"""The official Node client (@interledger/open-payments, pinned in node/package.json,
installed by ``make node-deps``) drives centime on loopback with response validation on:
wallet addresses, grants, incoming payment, quote, interactive grant, outgoing payment,
public view, rotation, the grant's limit, revocation. The customer consents in Chromium
with a virtual passkey (the DevTools WebAuthn domain, as tests/web/test_browser.py does);
without Chromium, through the same web endpoints with the project's software passkey.
Skipped, with the reason, without Node or without the installed package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from centime.auth.passkeys import RelyingParty
from centime.auth.sessions import LoginThrottle
from centime.clock import FakeClock
from centime.openpayments import OpenPaymentsState, Urls
from centime.openpayments.keys import register_key
from centime.platform.context import Platform
from centime.platform.ids import format_id, parse_id
from centime.risk.types import Action
from centime.server import create_app
from centime.web import WebState
from tests.openpayments.signing import ClientKey
from tests.openpayments.test_flow import _customer
from tests.platform.world import fund, merchant
from tests.risk.screens import ScriptedScreen, decision
from tests.web.test_browser import ARGS, CHROMIUM, Person, _free_port
from tests.web.test_pages import _csrf
from tests.web.test_payout_pages import _step_up

NODE_DIR = Path(__file__).parent / "node"
pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "@interledger" / "open-payments").exists(),
        reason="run `make node-deps` (npm ci in tests/openpayments/node)",
    ),
]


@pytest.fixture
def server(platform: Platform, clock: FakeClock) -> Iterator[str]:
    platform.screen = ScriptedScreen(lambda event: decision(Action.ALLOW))
    port = _free_port()
    base = f"http://localhost:{port}"
    web = WebState(
        platform,
        RelyingParty.for_origin(base),
        LoginThrottle(lambda: clock.now_ns() / 1e9),
        secure_cookies=False,
    )
    app = create_app(platform, web=web, open_payments=OpenPaymentsState(platform, Urls(base)))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        time.sleep(0.05)
    try:
        yield base
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


class SoftwareCustomer:
    """The customer in the web wallet through plain HTTP and the software passkey."""

    def __init__(self, base: str, platform: Platform) -> None:
        self.http = httpx.Client(base_url=base)
        self.device, self.customer_id = _customer(self.http, platform, secure=False, origin=base)

    def consent(self, redirect: str) -> dict[str, str]:
        return _consent(self.http, self.device, redirect)

    def close(self) -> None:
        self.http.close()


class BrowserCustomer:
    """The customer in Chromium: signs up with a virtual passkey, reads the consent page,
    allows, confirms with the passkey when asked, and lands on the app's finish URI."""

    def __init__(self, base: str, platform: Platform, browser: Any) -> None:
        self.person = Person(browser, base, "Ada Open")
        self.person.sign_up("customer")
        self.person.page.wait_for_url(f"{base}/wallet")
        found = parse_id("cus", self.person.page.inner_text("code"))
        assert found is not None
        self.customer_id = found
        fund(platform, found, "USD", 5_000_000)
        self.finished: list[str] = []
        # The app's finish URI does not exist: the browser's request to it is what counts
        # (Playwright does not route the target of a redirect, so it is watched instead).
        self.person.page.on("request", self._finish)

    def _finish(self, request: Any) -> None:
        if request.url.startswith("http://shop.invalid/"):
            self.finished.append(request.url)

    def consent(self, redirect: str) -> dict[str, str]:
        page = self.person.page
        page.goto(redirect)
        page.wait_for_selector("text=Allow")
        self.person.shot("open-payments-consent")
        page.click("button[value=accept]")
        for _ in range(150):
            if self.finished:
                break
            if "/stepup" in page.url and page.locator("#stepup").is_visible():
                page.click("#stepup")
                page.wait_for_url(lambda url: urlsplit(url).path.startswith("/op/consent/"))
                page.wait_for_selector("button[value=accept]")
                page.click("button[value=accept]")
            time.sleep(0.1)
        assert self.finished, page.url
        query = parse_qs(urlsplit(self.finished[0]).query)
        return {"interact_ref": query["interact_ref"][0], "hash": query["hash"][0]}

    def close(self) -> None:
        self.person.close()


@pytest.fixture
def customer(server: str, platform: Platform) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        made: Any = SoftwareCustomer(server, platform)
        yield made
        made.close()
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        made = BrowserCustomer(server, platform, browser)
        try:
            yield made
        finally:
            made.close()
            browser.close()


def _consent(http: httpx.Client, device: Any, redirect: str) -> dict[str, str]:
    path = urlsplit(redirect).path
    token = _csrf(http, path)
    _step_up(http, device, token)
    done = http.post(path, data={"decision": "accept", "csrf": token}, follow_redirects=False)
    assert done.status_code == 303, done.text
    query = parse_qs(urlsplit(done.headers["location"]).query)
    return {"interact_ref": query["interact_ref"][0], "hash": query["hash"][0]}


def test_the_official_client_runs_the_whole_flow(
    server: str, platform: Platform, customer: Any, tmp_path: Path
) -> None:
    shop = merchant(platform)
    key = ClientKey("node-key-1")
    platform.execute(register_key(platform, "merchant", shop.id, key.kid, key.x))
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(
        key.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    config = {
        "client": f"{server}/op/wallets/{format_id('mer', shop.id)}/USD",
        "payer": f"{server}/op/wallets/{format_id('cus', customer.customer_id)}/USD",
        "keyId": key.kid,
        "keyPath": str(key_path),
    }
    node = subprocess.Popen(
        ["node", "flow.mjs", json.dumps(config)],
        cwd=NODE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    steps: dict[str, Any] = {}
    assert node.stdout is not None and node.stdin is not None
    for line in node.stdout:
        step = json.loads(line)
        steps[step["step"]] = step
        if step["step"] == "interact":
            node.stdin.write(json.dumps(customer.consent(step["redirect"])) + "\n")
            node.stdin.flush()
    code = node.wait(timeout=60)
    errors = node.stderr.read() if node.stderr else ""
    assert code == 0, errors[-3000:]
    usd = {"assetCode": "USD", "assetScale": 6}
    assert steps["paid"]["paid"]["debitAmount"] == {"value": "2000000", **usd}
    assert steps["public"]["publicView"]["receivedAmount"] == {"value": "2000000", **usd}
    assert steps["over_limit"]["refused"]["status"] == 403
    assert not steps["over_limit"]["refused"].get("validationErrors")
    assert steps["revoked"]["afterRevoke"]["status"] == 401
