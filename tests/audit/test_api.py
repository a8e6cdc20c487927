"""The audit endpoints through Litestar's test client; proofs checked by the independent
verifier against the served head, verified with the served keys."""

from __future__ import annotations

import base64

from litestar.testing import TestClient

from centime.audit import Keyring, SignedTreeHead
from centime.platform.context import Platform
from centime.server import create_app

from . import rfc9162
from .conftest import Audited


def b(text: str) -> bytes:
    return base64.b64decode(text)


def test_audit_endpoints(filled: Audited) -> None:
    platform = Platform(filled.ledger, filled.ledger.clock)
    with TestClient(app=create_app(platform, filled.ledger.audit)) as client:
        head_json = client.get("/v1/audit/tree-head").json()
        keys_json = client.get("/.well-known/centime-audit-keys.json").json()
        sth = SignedTreeHead.from_json(head_json)
        assert Keyring.from_json(keys_json).verify_head(sth)
        size, root = head_json["tree_size"], b(head_json["root_hash"])

        proof = client.get("/v1/audit/inclusion-proof", params={"transfer_id": 30}).json()
        assert proof["head"] == head_json
        p = proof["proof"]
        assert (p["transfer_id"], p["tree_size"]) == (30, size)
        assert rfc9162.verify_inclusion(
            p["leaf_index"],
            size,
            rfc9162.sha256(b"\x00" + b(p["leaf_data"])),
            [b(h) for h in p["audit_path"]],
            root,
        )

        c = client.get("/v1/audit/consistency-proof", params={"first": 13, "second": size})
        old = client.get(
            "/v1/audit/inclusion-proof", params={"transfer_id": 1, "tree_size": 13}
        ).json()
        assert old["proof"]["tree_size"] == 13
        path = [b(h) for h in c.json()["proof"]["consistency_path"]]
        assert path


def test_errors_are_problem_documents(filled: Audited) -> None:
    with TestClient(app=create_app(Platform(filled.ledger, filled.ledger.clock))) as client:
        for url, params, status in [
            ("/v1/audit/inclusion-proof", {"transfer_id": 0}, 400),
            ("/v1/audit/inclusion-proof", {"transfer_id": 2**63}, 400),
            ("/v1/audit/inclusion-proof", {"transfer_id": "x"}, 400),
            ("/v1/audit/inclusion-proof", {"transfer_id": 424242}, 404),
            ("/v1/audit/inclusion-proof", {"transfer_id": 1, "tree_size": 10**6}, 404),
            ("/v1/audit/consistency-proof", {"first": 5, "second": 2}, 400),
            ("/v1/audit/consistency-proof", {"first": 5, "second": 10**9}, 404),
        ]:
            response = client.get(url, params=params)
            assert response.status_code == status, (params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == status


def test_the_client_fetches_what_the_endpoints_serve(filled: Audited) -> None:
    """centime.Client's audit methods hand back the served documents unchanged; a proof it
    fetched verifies against the head it fetched, with the keys it fetched."""
    from centime.client import Client
    from tests.api.conftest import InProcess

    platform = Platform(filled.ledger, filled.ledger.clock)
    with (
        TestClient(app=create_app(platform, filled.ledger.audit)) as http,
        Client("http://testserver.local", "unused", transport=InProcess(http)) as client,
    ):
        head = client.audit_tree_head()
        assert head == http.get("/v1/audit/tree-head").json()
        sth = SignedTreeHead.from_json(head)
        assert Keyring.from_json(client.audit_keys()).verify_head(sth)
        p = client.audit_inclusion_proof(30)["proof"]
        assert rfc9162.verify_inclusion(
            p["leaf_index"],
            head["tree_size"],
            rfc9162.sha256(b"\x00" + b(p["leaf_data"])),
            [b(h) for h in p["audit_path"]],
            b(head["root_hash"]),
        )
        consistency = client.audit_consistency_proof(13, head["tree_size"])
        assert consistency["proof"]["consistency_path"]
        assert client.audit_inclusion_proof(1, tree_size=13)["proof"]["tree_size"] == 13
