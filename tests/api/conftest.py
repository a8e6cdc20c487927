"""The HTTP app on each store, with a fake clock, and typed clients holding keys.

Requests go through the real app (Litestar's test transport, in process); one test
(test_serve_api.py) goes through ``centime serve`` on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport

from centime import wire
from centime.api.state import ApiState
from centime.auth import NewKey, Scope, create_key
from centime.client import Client
from centime.platform.chart import OPERATOR
from centime.platform.context import Platform
from centime.platform.ids import parse_id
from centime.server import create_app

START_NS = 1_800_000_000_000_000_000
BASE_URL = "http://testserver.local"


def new_key(platform: Platform, kind: str, owner_id: int, *scopes: Scope) -> str:
    made = platform.execute(
        create_key(platform, kind, owner_id, "test", frozenset(scopes))  # type: ignore[arg-type]
    )
    assert isinstance(made, NewKey), made
    return made.token


class InProcess(httpx.BaseTransport):
    """httpx's transport into the app in this process (Litestar's test transport)."""

    def __init__(self, http: TestClient[Litestar]) -> None:
        self._transport = TestClientTransport(http, raise_server_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)


@dataclass
class Api:
    """The app under test and ways to talk to it."""

    platform: Platform
    app: Litestar
    http: TestClient[Litestar]
    operator_token: str
    clients: list[Client] = field(default_factory=list)

    @property
    def state(self) -> ApiState:
        state: ApiState = self.app.state["api"]
        return state

    def client(self, token: str) -> Client:
        made = Client(BASE_URL, token, transport=InProcess(self.http))
        self.clients.append(made)
        return made

    @property
    def operator(self) -> Client:
        return self.client(self.operator_token)

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.operator_token}", **extra}

    def merchant(self, name: str = "Shop") -> wire.Merchant:
        return self.operator.create_merchant(name)

    def merchant_key(self, merchant: wire.Merchant, *scopes: Scope) -> str:
        merchant_id = parse_id("mer", merchant.id)
        assert merchant_id is not None
        return new_key(self.platform, "merchant", merchant_id, *scopes)

    def key(self, *scopes: Scope) -> str:
        """A new operator key with these scopes."""
        return new_key(self.platform, "operator", OPERATOR, *scopes)


def make_api(platform: Platform, **options: Any) -> Iterator[Api]:
    app = create_app(platform, **options)
    token = new_key(platform, "operator", OPERATOR, Scope.ADMIN)
    with TestClient(app, raise_server_exceptions=False) as http:
        api = Api(platform, app, http, token)
        try:
            yield api
        finally:
            for client in api.clients:
                client.close()


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform)
