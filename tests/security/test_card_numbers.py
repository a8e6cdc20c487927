"""No card, bank account or phone number at rest or in any answer: top-ups through the
real server, then every byte of the database (and its WAL), the server's log and every
API answer about them are searched for the digits; and a database written before the
tokens (revision 0011) is converted by the migration, its old numbers overwritten."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest

from centime.providers.sandbox import BANK_SUCCEEDS, CARD_SUCCEEDS, PHONE_SUCCEEDS
from centime.store.migrate import upgrade

from .conftest import Server, start_server

NUMBERS = {"card": CARD_SUCCEEDS, "bank_transfer": BANK_SUCCEEDS, "carrier": PHONE_SUCCEEDS}
CORES = [CARD_SUCCEEDS, CARD_SUCCEEDS[4:], BANK_SUCCEEDS, BANK_SUCCEEDS[4:], PHONE_SUCCEEDS[1:]]


def _seen(text: str) -> list[str]:
    return [core for core in CORES if core in text]


@pytest.mark.parametrize("screen", ["engine", "allow-all-unsafe"])
def test_topups_keep_and_answer_no_number(tmp_path: Path, screen: str) -> None:
    """With the risk engine (a new customer's top-ups may be blocked or held: their
    decisions and cases must not keep the number either) and without it (every top-up
    made, charged and succeeded)."""
    with start_server(tmp_path, {"CENTIME_RISK_SCREEN": screen}) as server:
        _top_up_and_search(server, expect_made=screen != "engine")


def _top_up_and_search(server: Server, expect_made: bool) -> None:
    ops = httpx.Client(
        base_url=server.url, timeout=30, headers={"authorization": f"Bearer {server.operator_key}"}
    )
    customer = ops.post("/v1/customers", json={"name": "Ada"})
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    answers = []
    for method, number in NUMBERS.items():
        made = ops.post(
            "/v1/topups",
            headers={"idempotency-key": str(uuid.uuid4())},
            json={
                "customer_id": customer_id,
                "amount": {"value": "1000000", "asset": "USD", "scale": 6},
                "method": method,
                "instrument": number,
            },
        )
        assert made.status_code in ((201,) if expect_made else (201, 202, 422)), made.text
        answers.append(made.text)
        if made.status_code == 201:
            body = made.json()
            assert body["instrument"].startswith("tok_sbx_")
            assert body["instrument_last4"] == number[-4:]
    time.sleep(3)  # the provider's events (the card succeeds after 2 s) are applied
    for path in (
        "/v1/topups",
        f"/v1/topups?customer_id={customer_id}",
        f"/v1/customers/{customer_id}",
        "/v1/risk/cases",
    ):
        got = ops.get(path)
        assert got.status_code == 200, (path, got.text)
        answers.append(got.text)
    for topup in ops.get("/v1/topups").json()["data"]:
        answers.append(ops.get(f"/v1/topups/{topup['id']}").text)
    assert _seen("\n".join(answers)) == []
    assert _seen(server.log()) == []
    stored = b"".join(f.read_bytes() for f in server.database.parent.glob("centime.db*"))
    assert _seen(stored.decode("latin-1")) == []
    # Each instrument kept as a keyed fingerprint of its own.
    with sqlite3.connect(server.database, timeout=30) as db:
        prints = db.execute("SELECT method, instrument_fingerprint FROM topups").fetchall()
    assert len({p for _, p in prints}) == len(prints)
    assert all(p.startswith("fp_") and len(p) == 35 for _, p in prints)
    if expect_made:
        assert len(prints) == len(NUMBERS)


def test_the_migration_converts_numbers_kept_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "old.db"
    url = f"sqlite:///{database}"
    upgrade(url, "0011_web")
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO topups (id, customer_id, asset, amount, method, instrument, provider,"
            " status, attempts, restricted, released, charged_back, chargeback_restricted,"
            " chargeback_wallet, chargeback_loss, created_ns, updated_ns) VALUES"
            " (7, 1, 'USD', 5, 'card', ?, 'sandbox', 'succeeded', 1, 0, 0, 0, 0, 0, 0, 1, 1)",
            (CARD_SUCCEEDS,),
        )
        request = {
            "customer_id": 1,
            "asset": "USD",
            "amount": 5,
            "method": "bank_transfer",
            "instrument": BANK_SUCCEEDS,
            "topup_id": 8,
        }
        db.execute(
            "INSERT INTO risk_cases (id, decision_id, status, subject_kind, subject_id,"
            " party_kind, party_id, asset, amount, reserved, request, created_ns) VALUES"
            " (1, 1, 'open', 'topup', 8, 'customer', 1, 'USD', 5, '[]', ?, 1)",
            (json.dumps(request),),
        )
    key = os.urandom(32)
    monkeypatch.setenv("CENTIME_INSTRUMENT_KEY", base64.b64encode(key).decode())
    upgrade(url)
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        token, last4 = db.execute("SELECT instrument, instrument_last4 FROM topups").fetchone()
        [case] = db.execute("SELECT request FROM risk_cases").fetchone()
    assert token.startswith("tok_sbx_") and last4 == CARD_SUCCEEDS[-4:]
    assert json.loads(case)["instrument"].startswith("tok_sbx_")
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("old.db*"))
    assert _seen(stored.decode("latin-1")) == []
