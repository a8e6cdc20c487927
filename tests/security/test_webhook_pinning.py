"""Webhook delivery in process, with the resolver under the test's control: a name that
resolves inside is refused (every address counts), DNS rebinding cannot switch the checked
address, a redirect to an internal service is not followed, and a pinned https connection
still sends the endpoint's name as SNI and Host and verifies the certificate against it.

127.0.0.2 stands for "a public address" (the operator's allowlist names it): the tests
cannot reach the internet, and 127.0.0.1 stays the internal service."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from centime.api.webhook_delivery import ERROR_FORBIDDEN, ERROR_UNREACHABLE, WebhookDelivery
from centime.clock import SystemClock
from centime.platform.context import Platform
from centime.platform.events import (
    Attempt,
    NewSecret,
    SecretBox,
    TargetPolicy,
    install_target_policy,
    webhooks,
)

from ..platform.world import merchant
from .internal import internal_service

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

NAME = "hooks.example.test"
STAND_IN = "127.0.0.2"  # the "public" address
STAND_IN_ONLY = TargetPolicy(allow_http=True, allow_private=(ipaddress.ip_network("127.0.0.2/32"),))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The answers for NAME, one list per lookup (the last repeats): the system resolver
    itself is replaced, so whoever resolves NAME (the platform, or httpx) gets them."""
    answers: list[list[str]] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real(host, port, *args, **kwargs)
        now = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, int(port or 0)),
            )
            for a in now
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def _deliver_test_event(
    platform: Platform,
    url: str,
    policy: TargetPolicy,
    made_under: TargetPolicy | None = None,
    **options: Any,
) -> Attempt:
    """Make an endpoint (under ``made_under``, else ``policy``), send it a test event under
    ``policy``, and answer the one attempt the delivery log holds."""
    webhooks.install_secret_box(platform, SecretBox(os.urandom(32)))
    install_target_policy(platform, made_under or policy)
    shop = merchant(platform)
    made = platform.execute(webhooks.create_endpoint(platform, shop.id, url, ["payment.created"]))
    assert isinstance(made, NewSecret), made
    install_target_policy(platform, policy)
    platform.execute(webhooks.send_test_event(platform, shop.id, made.endpoint.id))
    with WebhookDelivery(sign_clock=SystemClock(), **options) as delivery:
        assert delivery(platform).sent == 1
    [attempt] = webhooks.list_attempts(platform, made.endpoint.id).items
    return attempt


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["8.8.8.8", "127.0.0.1"],
        ["169.254.169.254"],
        ["10.1.2.3"],
        ["100.64.0.1"],
        ["fd12::1"],
    ],
)
def test_a_name_resolving_inside_is_refused_before_connecting(
    platform: Platform, dns: list[list[str]], answer: list[str]
) -> None:
    dns.append(answer)
    with internal_service() as inside:
        attempt = _deliver_test_event(platform, f"https://{NAME}:{inside.port}/h", TargetPolicy())
        assert (attempt.status_code, attempt.error) == (None, ERROR_FORBIDDEN)
        assert inside.hits == []


def test_dns_rebinding_cannot_switch_the_checked_address(
    platform: Platform, dns: list[list[str]]
) -> None:
    with internal_service() as inside, internal_service(STAND_IN, inside.port) as outside:
        # Checked: the stand-in; every later lookup: the internal service.
        dns.extend([[STAND_IN], ["127.0.0.1"]])
        attempt = _deliver_test_event(platform, f"http://{NAME}:{inside.port}/h", STAND_IN_ONLY)
        assert attempt.status_code == 200
        assert [h[0] for h in outside.hits] == ["POST"]
        assert inside.hits == []  # the connection went to the address checked
        assert outside.hits[0][2]["host"] == f"{NAME}:{inside.port}"


def test_a_redirect_to_an_internal_service_is_not_followed(
    platform: Platform, dns: list[list[str]]
) -> None:
    dns.append([STAND_IN])
    with (
        internal_service() as inside,
        internal_service(STAND_IN, redirect_to=inside.url) as outside,
    ):
        attempt = _deliver_test_event(platform, f"http://{NAME}:{outside.port}/h", STAND_IN_ONLY)
        assert (attempt.status_code, attempt.error) == (302, None)
        assert len(outside.hits) == 1 and inside.hits == []


def test_http_is_refused_at_delivery_without_the_development_setting(
    platform: Platform, dns: list[list[str]]
) -> None:
    dns.append([STAND_IN])
    with internal_service(STAND_IN) as outside:
        strict = TargetPolicy(allow_private=STAND_IN_ONLY.allow_private)
        # Made while http was permitted; the operator has turned that off since.
        attempt = _deliver_test_event(
            platform, f"http://{NAME}:{outside.port}/h", strict, made_under=STAND_IN_ONLY
        )
        assert (attempt.status_code, attempt.error) == (None, ERROR_FORBIDDEN)
        assert outside.hits == []


# ------------------------------------------------------------------ TLS to the pinned address


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def _tls_receiver(cert: tuple[Path, Path]) -> Iterator[tuple[int, list[str], list[str]]]:
    """An https receiver on the stand-in address: its port, the SNI names it was sent and
    the Host headers it got."""
    names: list[str] = []
    hosts: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    context.sni_callback = lambda _sock, name, _ctx: names.append(str(name))  # type: ignore[assignment,misc,func-returns-value]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hosts.append(str(self.headers.get("host")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((STAND_IN, 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1]), names, hosts
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("cert_name, ok", [(NAME, True), ("other.example.test", False)])
def test_a_pinned_https_connection_verifies_the_certificate_against_the_name(
    platform: Platform, dns: list[list[str]], tmp_path: Path, cert_name: str, ok: bool
) -> None:
    dns.append([STAND_IN])
    cert = _certificate(tmp_path, cert_name)
    trusted = ssl.create_default_context(cafile=str(cert[0]))
    https_only = TargetPolicy(allow_private=STAND_IN_ONLY.allow_private)
    with _tls_receiver(cert) as (port, names, hosts):
        attempt = _deliver_test_event(
            platform, f"https://{NAME}:{port}/h", https_only, verify=trusted
        )
    assert names[:1] == [NAME]  # SNI: the name, though the connection went to the address
    if ok:
        assert (attempt.status_code, attempt.error, hosts) == (204, None, [f"{NAME}:{port}"])
    else:
        assert (attempt.status_code, attempt.error, hosts) == (None, ERROR_UNREACHABLE, [])
