"""Key rotation keeps old heads verifying; an exported head contradicted later is a fork."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from centime.audit import AuditLog, AuditReader, HeadSigner, verify_log
from centime.cli import app
from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.store import open_store

from .conftest import Audited, fill

runner = CliRunner()


def test_key_file_is_private_and_rotation_keeps_old_heads_valid(
    audited: Audited, tmp_path: Path
) -> None:
    assert stat.S_IMODE(audited.key_file.stat().st_mode) == 0o600
    fill(audited.ledger, audited.clock, batches=2)
    audited.ledger.close()
    old_id = audited.signer.key_id
    rotated = runner.invoke(
        app,
        [
            "audit",
            "keys",
            "rotate",
            "--key-file",
            str(audited.key_file),
            "--database-url",
            audited.url,
        ],
    )
    assert rotated.exit_code == 0, rotated.output
    assert stat.S_IMODE(audited.key_file.stat().st_mode) == 0o600
    assert old_id.hex() not in rotated.output  # the new key's id is printed, not the old one
    new_signer = HeadSigner.load(audited.key_file)
    assert new_signer.key_id != old_id
    clock = FakeClock(audited.clock.now_ns() + 10**9)
    with Ledger(open_store(audited.url), clock, audit=AuditLog(new_signer)) as ledger:
        from centime.ledger import Transfer

        ledger.create_transfers([Transfer(500, 2, 3, 1, "USD", 1)])
        with ledger.store.audit_reader() as fetch:
            reader = AuditReader(fetch)
            keyring = reader.keyring()
            heads = reader.heads(-1, 1000)
            report = verify_log(fetch)
    assert report.ok, report.problems
    assert {h.key_id for h in heads} == {old_id, new_signer.key_id}
    assert all(keyring.verify_head(h) for h in heads)
    assert keyring.endorsement_breaks() == []
    assert [k.key_id for k in keyring.keys][-2:] == [old_id, new_signer.key_id]


def test_an_unendorsed_key_is_reported(audited: Audited) -> None:
    fill(audited.ledger, audited.clock, batches=1)
    intruder = HeadSigner.generate(audited.clock.now_ns() + 1)
    with audited.ledger.store.write_transaction() as txn:
        txn.write_audit_key(intruder.public().row())
    with audited.ledger.store.audit_reader() as fetch:
        report = verify_log(fetch)
    assert not report.ok
    assert report.problems[0].kind == "key"


def test_export_head_then_a_rewritten_history_is_a_detected_fork(
    filled: Audited, tmp_path: Path
) -> None:
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    exported = runner.invoke(
        app,
        [
            "audit",
            "export-head",
            "--database-url",
            filled.url,
            "--out",
            str(tmp_path / "head.json"),
        ],
    )
    assert exported.exit_code == 0, exported.output
    anchor = json.loads((tmp_path / "head.json").read_text())
    assert anchor["head"]["tree_size"] == 45 and anchor["keys"]
    filled.ledger.close()
    ok = runner.invoke(
        app,
        ["audit", "verify", "--database-url", filled.url, "--anchor", str(tmp_path / "head.json")],
    )
    assert ok.exit_code == 0, ok.output

    # The operator (same key) builds another history in another database: its own heads are
    # valid, but the exported head contradicts it.
    clock = FakeClock(filled.clock.now_ns() + 7)  # other times: other leaves
    signer = HeadSigner.load(filled.key_file)
    with Ledger(open_store(other_url), clock, audit=AuditLog(signer)) as other:
        fill(other, clock, batches=5)
    forked = runner.invoke(
        app,
        ["audit", "verify", "--database-url", other_url, "--anchor", str(tmp_path / "head.json")],
    )
    assert forked.exit_code == 1
    assert "PROBLEM anchor" in forked.output and "fork" in forked.output

    # Offline: a consistency proof from the other log's tree to its newer head cannot link
    # the exported head: check-proof says FORK (exit 2).
    proved = runner.invoke(app, ["audit", "prove-consistency", "45", "--database-url", other_url])
    assert proved.exit_code == 0, proved.output
    (tmp_path / "proof.json").write_text(proved.stdout)
    (tmp_path / "keys.json").write_text(json.dumps({"keys": anchor["keys"]}))
    checked = runner.invoke(
        app,
        [
            "audit",
            "check-proof",
            str(tmp_path / "proof.json"),
            "--keys",
            str(tmp_path / "keys.json"),
            "--old-head",
            str(tmp_path / "head.json"),
        ],
    )
    assert checked.exit_code == 2, checked.output
    assert "FORK" in checked.output


def test_export_head_posts_the_document_to_a_webhook(filled: Audited, tmp_path: Path) -> None:
    """Anchoring by webhook: the exported head and keys arrive, as JSON, at a loopback server;
    a webhook that answers an error makes the command fail."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, object]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            received.append(body)
            self.send_response(204 if self.path == "/anchor" else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        sent = runner.invoke(
            app,
            [
                "audit",
                "export-head",
                "--database-url",
                filled.url,
                "--out",
                str(tmp_path / "head.json"),
                "--webhook",
                f"{base}/anchor",
            ],
        )
        assert sent.exit_code == 0, sent.output
        assert received == [json.loads((tmp_path / "head.json").read_text())]
        failed = runner.invoke(
            app,
            [
                "audit",
                "export-head",
                "--database-url",
                filled.url,
                "--out",
                str(tmp_path / "again.json"),
                "--webhook",
                f"{base}/broken",
            ],
        )
        assert failed.exit_code == 1
        assert "webhook failed" in failed.output
    finally:
        server.shutdown()
        server.server_close()
