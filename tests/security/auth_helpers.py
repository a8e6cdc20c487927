"""What the security tests share: people with passkeys (the software authenticator of
tests/auth), confirmations for the API, and a real ``centime serve`` of our own.

The other security module's conftest.py owns its own real-server fixture; these helpers do
not depend on it.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from centime.auth import passkeys as pk
from centime.auth.confirmations import mint_confirmation
from centime.auth.sessions import session_hash
from centime.platform.context import Platform
from tests.auth.test_passkeys import RP, SoftAuthenticator, step_up

__all__ = [
    "Browser",
    "Person",
    "confirmation_for",
    "enrolled",
    "free_port",
    "serve",
]


@dataclass
class Person:
    """A web user made through the real ceremonies, its device and its session cookie."""

    user: pk.WebUser
    device: SoftAuthenticator
    token: str
    codes: list[str]


def enrolled(
    platform: Platform, kind: pk.UserKind, party_id: int, role: pk.Role | None = None
) -> Person:
    """A person for an existing party, enrolled with a new passkey (signed in)."""
    link = platform.execute(pk.create_enrollment(platform, kind, party_id, "Owner", role))
    assert isinstance(link, str), link
    device = SoftAuthenticator()
    options = platform.execute(pk.enroll_options(RP, platform, link))
    assert isinstance(options, str), options
    done = pk.run(platform, pk.enroll_finish(RP, platform, device.create(options)))
    assert isinstance(done, pk.SignedUp), done
    return Person(done.user, device, done.session.token, done.recovery_codes)


def confirmation_for(
    platform: Platform, kind: pk.UserKind, party_id: int, role: pk.Role | None = None
) -> str:
    """A ``Centime-Confirmation`` as a person of the party makes one: enrolled, confirmed
    with its passkey, then minted."""
    person = enrolled(platform, kind, party_id, role)
    here = step_up(platform, person.device, person.user.id, person.token)
    token = platform.execute(mint_confirmation(platform, person.user, here))
    assert isinstance(token, str), token
    return token


def session_of(person: Person) -> bytes:
    return session_hash(person.token)


# ------------------------------------------------------------------ a real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str  # http://127.0.0.1:<port>
    origin: str  # http://localhost:<port> (the passkeys' origin)
    database: Path
    process: subprocess.Popen[bytes]
    # Behind a trusted proxy on loopback, each Browser a person of its own address: the risk
    # screen (which screens web sign-ups) blocks a burst of sign-ups from one address.
    distinct_clients: bool = False


@contextmanager
def serve(tmp: Path, *, distinct_clients: bool = False, **env: str) -> Iterator[Server]:
    """``centime serve`` on a free loopback port over a new SQLite file, until the block
    ends (SIGTERM, then SIGKILL). ``distinct_clients``: loopback is a trusted proxy and
    every Browser comes from an address of its own (X-Forwarded-For)."""
    if distinct_clients:
        env = {**env, "CENTIME_TRUSTED_PROXIES": "127.0.0.1/32"}
    port = free_port()
    database = tmp / "centime.db"
    environment = {
        **os.environ,
        "CENTIME_WEBHOOK_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CENTIME_TRUSTED_PROXIES": "",
        **env,
    }
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centime.cli",
            "serve",
            "--database-url",
            f"sqlite:///{database}",
            "--port",
            str(port),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, tmp / "server.log")
        yield Server(url, f"http://localhost:{port}", database, process, distinct_clients)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"centime serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"centime serve did not answer: {log.read_text()[-2000:]}")


_ADDRESSES = itertools.count()


class Browser:
    """A browser's cookies and CSRF token against a real server, with its passkey device
    (the origin is localhost's: passkeys are bound to it). Cookies are kept by hand: they
    are ``Secure``, which browsers honour on localhost and Python's cookie jar does not."""

    def __init__(
        self,
        server: Server,
        device: SoftAuthenticator | None = None,
        address: str | None = None,
    ) -> None:
        # ``address``: the client a trusted proxy names (X-Forwarded-For on every request).
        if address is None and server.distinct_clients:
            address = f"192.0.2.{next(_ADDRESSES) % 250 + 1}"
        headers = {"X-Forwarded-For": address} if address else {}
        self.http = httpx.Client(
            base_url=server.url, follow_redirects=False, timeout=30, headers=headers
        )
        self.device = device or SoftAuthenticator(origin=server.origin)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent = {**({"Cookie": jar} if jar else {}), **(headers or {})}
        response = self.http.request(method, path, headers=sent, **kwargs)  # type: ignore[arg-type]
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in line.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.send("GET", path, headers)

    def refresh_csrf(self, path: str = "/app") -> str:
        page = self.get(path)
        found = re.search(r'name="csrf" content="([0-9a-f]+)"', page.text)
        assert found, page.text[:300]
        self.csrf = found.group(1)
        return self.csrf

    def post_json(self, path: str, body: object, **headers: str) -> httpx.Response:
        return self.send("POST", path, {"X-CSRF-Token": self.csrf, **headers}, json=body)

    def form(self, path: str, **fields: str) -> httpx.Response:
        return self.send("POST", path, None, data={**fields, "csrf": self.csrf})

    def sign_up(self, kind: str = "merchant", name: str = "Ada") -> list[str]:
        self.refresh_csrf()
        options = self.post_json("/web/signup/options", {"name": name, "kind": kind})
        assert options.status_code == 200, options.text
        answer = json.loads(self.device.create(options.text))
        done = self.post_json("/web/signup/finish", {"credential": answer})
        assert done.status_code == 200, done.text
        self.refresh_csrf("/account")
        codes: list[str] = done.json()["recovery_codes"]
        return codes

    def step_up(self, device: SoftAuthenticator | None = None) -> httpx.Response:
        options = self.post_json("/web/stepup/options", {})
        assert options.status_code == 200, options.text
        answer = json.loads((device or self.device).get(options.text))
        return self.post_json("/web/stepup/finish", {"credential": answer})

    def close(self) -> None:
        self.http.close()
