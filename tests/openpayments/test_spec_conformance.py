"""schemathesis over the three Open Payments specification files (vendored unchanged in
src/centime/openpayments/spec/) against a live centime server: every operation, generated
bodies and parameters, each request signed by a hook the way a client signs it (RFC 9421,
Content-Digest) and carrying a token of the right grant. Generated wallet addresses,
receivers and ids are swapped, part of the time, for real ones, so the run reaches past
the first refusal.

Checks: no 5xx, and every answer's body, media type and headers match the specification.
Not checked: ``positive_data_acceptance`` (and ``negative_data_rejection``, which needs
unmodified generated data): a request the schema allows may still be refused for what the
schema cannot say (an empty access list, a wallet address of another server, an amount in
a scale the wallet does not use); ``status_code_conformance``: the specification lists no
400 or 404 for several
operations (creating an incoming payment, say), yet refusing a malformed body with 400
invalid_request is what every implementation does and the rules of this project demand;
those answers still must match the ``error-response`` schema, which is checked."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from centime.openpayments.keys import register_key
from centime.platform.context import Platform
from centime.platform.ids import format_id
from tests.openpayments.signing import ClientKey
from tests.openpayments.test_official_client import SoftwareCustomer, _consent, server
from tests.platform.world import merchant

__all__ = ["server"]

SPEC = Path(__file__).resolve().parents[2] / "src" / "centime" / "openpayments" / "spec"
EXAMPLES_PER_OPERATION = 12
EXCLUDED = [status_code_conformance, positive_data_acceptance, negative_data_rejection]
# Specification defects: these answers are ``{"$ref": incoming-payment,
# "additionalProperties": false}``, which under JSON Schema 2020-12 (OpenAPI 3.1) allows no
# property at all while the referenced schema requires ``id``: no answer can match. Their
# bodies are the same incoming payments that the other operations' checks validate.
UNSATISFIABLE = {"POST /incoming-payments/{id}/complete", "GET /incoming-payments"}


class World:
    """A client with real grants against the live server, and the requests it signs."""

    def __init__(self, base: str, platform: Platform) -> None:
        self.base, self.http, self.rng = base, httpx.Client(timeout=10), random.Random(17)
        shop = merchant(platform)
        self.key = ClientKey("conformance")
        platform.execute(register_key(platform, "merchant", shop.id, self.key.kid, self.key.x))
        self.client = f"{base}/op/wallets/{format_id('mer', shop.id)}/USD"
        self.customer = SoftwareCustomer(base, platform)
        self.payer = f"{base}/op/wallets/{format_id('cus', self.customer.customer_id)}/USD"
        self.tokens = {
            "incoming-payment": self.grant(
                [{"type": "incoming-payment", "actions": ["create", "read", "list", "complete"]}]
            ),
            "quote": self.grant([{"type": "quote", "actions": ["create", "read"]}]),
        }
        self.tokens["outgoing-payment"] = self.outgoing_grant()
        usd = {"value": "1000", "assetCode": "USD", "assetScale": 6}
        body = {"walletAddress": self.client, "incomingAmount": usd}
        token = self.tokens["incoming-payment"]
        made = self.signed("POST", f"{base}/op/incoming-payments", body, token).json()
        self.incoming = made["id"]
        self.statuses: dict[str, set[int]] = {}

    def signed(
        self,
        method: str,
        url: str,
        body: object = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        request = self.http.build_request(method, url, params=params)
        headers, content = self.key.sign(method, str(request.url), body, token)
        return self.http.request(method, str(request.url), headers=headers, content=content or None)

    def grant(self, access: list[Any], **extra: Any) -> Any:
        body = {"client": self.client, "access_token": {"access": access}, **extra}
        answer = self.signed("POST", f"{self.base}/op/auth", body).json()
        return answer["access_token"]["value"] if "access_token" in answer else answer

    def outgoing_grant(self) -> str:
        pending = self.grant(
            [
                {
                    "type": "outgoing-payment",
                    "actions": ["create", "read", "list"],
                    "identifier": self.payer,
                }
            ],
            interact={
                "start": ["redirect"],
                "finish": {"method": "redirect", "uri": "https://a.example/", "nonce": "n"},
            },
        )
        back = _consent(self.customer.http, self.customer.device, pending["interact"]["redirect"])
        cont = pending["continue"]
        issued = self.signed(
            "POST",
            cont["uri"],
            {"interact_ref": back["interact_ref"]},
            cont["access_token"]["value"],
        ).json()
        value: str = issued["access_token"]["value"]
        return value

    def real(self, value: Any, key: str) -> Any:
        """Half of the time, a real value in place of a generated one."""
        if self.rng.random() < 0.5:
            return value
        swaps = {
            "walletAddress": self.rng.choice([self.client, self.payer]),
            "receiver": self.incoming,
            "incomingPayment": self.incoming,
            "client": self.client,
        }
        return swaps.get(key, value)

    def body(self, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        return {key: self.real(value, key) for key, value in raw.items()}

    def close(self) -> None:
        self.customer.close()
        self.http.close()


@pytest.fixture
def world(server: str, platform: Platform) -> Iterator[World]:
    made = World(server, platform)
    yield made
    made.close()


def _token_for(world: World, path: str, method: str) -> tuple[str | None, dict[str, str]]:
    """The token an operation is called with, and real path ids when it needs fresh ones."""
    for kind in ("incoming-payment", "quote", "outgoing-payment"):
        if path.startswith(f"/{kind}s") or path == f"/{kind}-grant":
            return world.tokens[kind], {}
    if path.startswith("/continue/"):
        access = [{"type": "outgoing-payment", "actions": ["create"], "identifier": world.payer}]
        pending = world.grant(access, interact={"start": ["redirect"]})
        grant_id = pending["continue"]["uri"].rsplit("/", 1)[1]
        return pending["continue"]["access_token"]["value"], {"id": grant_id}
    if path.startswith("/token/"):
        body = {
            "client": world.client,
            "access_token": {"access": [{"type": "quote", "actions": ["read"]}]},
        }
        token = world.signed("POST", f"{world.base}/op/auth", body).json()["access_token"]
        return token["value"], {"id": token["manage"].rsplit("/", 1)[1]}
    return None, {}


def _call(world: World, case: schemathesis.Case[Any], prefix: str) -> httpx.Response:
    token, ids = _token_for(world, case.path, case.method.upper())
    if ids and world.rng.random() < 0.7:
        case.path_parameters = {**(case.path_parameters or {}), **ids}
    if (
        case.path_parameters
        and "id" in case.path_parameters
        and case.path.startswith("/incoming-payments/")
        and world.rng.random() < 0.5
    ):
        case.path_parameters = {"id": world.incoming.rsplit("/", 1)[1]}
    case.body = world.body(case.body) if case.body is not None else None
    kwargs = case.as_transport_kwargs(base_url=prefix)
    body = kwargs.get("json")
    public = case.path == "/incoming-payments/{id}" and world.rng.random() < 0.3
    if public:
        return world.http.get(kwargs["url"])
    request = world.http.build_request(kwargs["method"], kwargs["url"], params=kwargs.get("params"))
    headers, content = world.key.sign(kwargs["method"], str(request.url), body, token)
    if body is not None and not isinstance(body, dict):
        content = msgspec.json.encode(body)
    return world.http.request(
        kwargs["method"], str(request.url), headers=headers, content=content or None
    )


@pytest.mark.parametrize("spec", ["wallet-address-server", "auth-server", "resource-server"])
def test_every_answer_matches_the_specification(world: World, spec: str) -> None:
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "positive",
                "max-examples": EXAMPLES_PER_OPERATION,
                "database": "none",
                "deterministic": True,
            }
        }
    )
    schema = schemathesis.openapi.from_path(SPEC / f"{spec}.yaml", config=config)
    prefix = {
        "wallet-address-server": world.client,
        "auth-server": f"{world.base}/op/auth",
        "resource-server": f"{world.base}/op",
    }[spec]
    for result in schema.get_all_operations():
        _fuzz(world, result.ok(), prefix)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels <= set(world.statuses), "an operation was never called"
    reached = {label for label, codes in world.statuses.items() if codes & {200, 201, 204}}
    assert reached, world.statuses  # the run got past the checks somewhere


def _fuzz(world: World, operation: Any, prefix: str) -> None:
    @given(operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case[Any]) -> None:
        response = _call(world, case, prefix)
        world.statuses.setdefault(operation.label, set()).add(response.status_code)
        assert response.status_code < 500, (operation.label, response.text)
        unsatisfiable = operation.label in UNSATISFIABLE
        excluded = [*EXCLUDED, response_schema_conformance] if unsatisfiable else EXCLUDED
        case.validate_response(response, excluded_checks=excluded)

    run()
