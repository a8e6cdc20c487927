"""Webhook SSRF against the real server: a merchant cannot make the platform call its own
network, nor read what an internal service answers, nor tell open ports from closed ones.

Attacks: endpoints naming loopback over http, the metadata address, an IPv4-mapped IPv6
loopback, an internal name (refused when made, with a problem+json); endpoints whose URL
points inside anyway (a row made before these checks, or a name whose DNS now answers an
internal address: the row is changed in the database, as DNS would change under it) are
refused when each attempt is sent, before any connection; and with the operator's
development setting on (http and loopback permitted), the delivery log still never
carries the internal service's answer, and a closed port looks like a TLS failure."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from centime.api.webhook_delivery import ERROR_FORBIDDEN, ERROR_UNREACHABLE

from .conftest import Server, free_port, start_server
from .internal import Internal, internal_service

_WAIT_S = 30.0


@pytest.fixture(scope="module")
def mallory(server: Server) -> Iterator[httpx.Client]:
    """The attacker: one merchant per server (the risk screen blocks a burst of sign-ups
    from one address, loopback included)."""
    with _merchant_client(server) as client:
        yield client


@pytest.fixture
def internal() -> Iterator[Internal]:
    with internal_service() as made:
        yield made


def _merchant_client(server: Server) -> httpx.Client:
    """A merchant's admin key (the attacker): made by the operator through the API."""
    ops = {"authorization": f"Bearer {server.operator_key}"}
    made = httpx.post(f"{server.url}/v1/merchants", json={"name": "Mallory"}, headers=ops)
    assert made.status_code == 201, made.text
    key = httpx.post(
        f"{server.url}/v1/api-keys",
        headers=ops,
        json={"name": "attacker", "scopes": ["admin"], "merchant_id": made.json()["id"]},
    )
    assert key.status_code == 201, key.text
    return httpx.Client(
        base_url=server.url, timeout=10, headers={"authorization": f"Bearer {key.json()['secret']}"}
    )


def _endpoint(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["payment.created"]}
    )


def _point_at(server: Server, endpoint_id: str, url: str) -> None:
    """What DNS (or a row older than the checks) does under the platform: the endpoint's
    target becomes internal without the API seeing it."""
    from centime.platform.ids import parse_id

    with sqlite3.connect(server.database, timeout=30) as db:
        db.execute(
            "UPDATE webhook_endpoints SET url = ? WHERE id = ?", (url, parse_id("we", endpoint_id))
        )


def _attempts(client: httpx.Client, endpoint_id: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        log = client.get(f"/v1/webhook-endpoints/{endpoint_id}/attempts")
        assert log.status_code == 200, log.text
        data: list[dict[str, object]] = log.json()["data"]
        if len(data) >= count:
            return data
        time.sleep(0.2)
    raise AssertionError("the worker made no attempt in time")


def _everything_seen(client: httpx.Client, endpoint_id: str) -> str:
    paths = (
        f"/v1/webhook-endpoints/{endpoint_id}",
        f"/v1/webhook-endpoints/{endpoint_id}/attempts",
        f"/v1/webhook-endpoints/{endpoint_id}/deliveries",
        "/v1/webhook-endpoints",
    )
    return "".join(client.get(p).text for p in paths)


def test_internal_targets_are_refused_when_made(
    server: Server, mallory: httpx.Client, internal: Internal
) -> None:
    client = mallory
    port = internal.port
    for url in (
        f"http://127.0.0.1:{port}/",
        "https://169.254.169.254/latest/meta-data/",
        f"https://[::ffff:127.0.0.1]:{port}/",
        f"https://localhost:{port}/",
        "https://10.0.0.5/",
        "https://[fd00::1]/",
        "https://metadata.internal/",
        f"https://127.1:{port}/",
    ):
        refused = _endpoint(client, url)
        assert refused.status_code in (400, 422), (url, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "invalid_webhook_url", url
    assert [
        e["url"]
        for e in client.get("/v1/webhook-endpoints").json()["data"]
        if "example.com" not in e["url"]
    ] == []
    assert internal.hits == []


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "https://localhost:{port}/",
        "https://[::ffff:127.0.0.1]:{port}/",
        "https://[::1]:{port}/",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_an_endpoint_pointing_inside_is_refused_at_delivery(
    server: Server, mallory: httpx.Client, internal: Internal, template: str
) -> None:
    client = mallory
    made = _endpoint(client, "https://hooks.example.com/in")
    if made.status_code == 409:  # the merchant's endpoint limit: make room
        for old in client.get("/v1/webhook-endpoints").json()["data"]:
            client.delete(f"/v1/webhook-endpoints/{old['id']}")
        made = _endpoint(client, "https://hooks.example.com/in")
    assert made.status_code == 201, made.text
    endpoint_id = made.json()["id"]
    _point_at(server, endpoint_id, template.format(port=internal.port))
    assert client.post(f"/v1/webhook-endpoints/{endpoint_id}/test").status_code == 202
    [attempt] = _attempts(client, endpoint_id, 1)
    assert (attempt["status_code"], attempt["error"]) == (None, ERROR_FORBIDDEN)
    assert internal.hits == []  # never connected
    assert internal.secret not in _everything_seen(client, endpoint_id)


def test_with_loopback_permitted_the_log_keeps_no_answer_and_failures_look_alike(
    internal: Internal,
) -> None:
    env = {"CENTIME_WEBHOOK_ALLOW_HTTP": "1", "CENTIME_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8"}
    with (
        tempfile.TemporaryDirectory(prefix="centime-sec-") as tmp,
        start_server(Path(tmp), env) as server,
    ):
        client = _merchant_client(server)
        answered = _endpoint(client, internal.url)
        closed = _endpoint(client, f"http://127.0.0.1:{free_port()}/")
        tls = _endpoint(client, f"https://127.0.0.1:{internal.port}/")  # speaks no TLS
        for made in (answered, closed, tls):
            assert made.status_code == 201, made.text
            assert client.post(f"/v1/webhook-endpoints/{made.json()['id']}/test").status_code == 202
        [ok] = _attempts(client, answered.json()["id"], 1)
        assert (ok["status_code"], ok["error"]) == (200, None)
        assert "response" not in ok
        errors = {str(_attempts(client, m.json()["id"], 1)[0]["error"]) for m in (closed, tls)}
        assert errors == {ERROR_UNREACHABLE}  # a closed port and a TLS failure alike
        for made in (answered, closed, tls):
            assert internal.secret not in _everything_seen(client, made.json()["id"])
        assert internal.secret not in server.log()
        stored = b"".join(f.read_bytes() for f in Path(tmp).glob("centime.db*"))
        assert internal.secret.encode() not in stored
    assert [hit[0] for hit in internal.hits].count("POST") >= 1  # it did answer, unread
