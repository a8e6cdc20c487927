"""The audit log written by the engine, on both stores: heads, proofs from the store checked
by the independent verifier, verification of an untouched store, the gap rule."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from centime.audit import AuditGapError, AuditLog, AuditReader, Keyring, verify_log
from centime.audit.encoding import decode_transfer
from centime.cli import app
from centime.ledger import Account, Ledger, Transfer
from centime.store import open_store

from . import rfc9162
from .conftest import Audited

runner = CliRunner()


def test_every_batch_is_logged_and_signed_heads_verify(filled: Audited) -> None:
    store = filled.ledger.store
    with store.audit_reader() as fetch:
        reader = AuditReader(fetch)
        head = reader.latest_head()
        keyring = reader.keyring()
        tip = reader.tip()
        assert head is not None and tip is not None
        assert head.head.tree_size == tip[1] == 45  # 1 top-up + 4 x 11
        assert head.head.root_hash == tip[2]
        assert keyring.verify_head(head)
        heads = reader.heads(-1, 100)
        # A head a second while batches commit (the fake clock moves 1 s per batch), one at
        # the idle tick for the newest batch.
        assert len(heads) >= 5
        assert all(keyring.verify_head(h) for h in heads)
        timestamps = [h.head.timestamp for h in heads]
        assert timestamps == sorted(set(timestamps))
        report = verify_log(fetch)
    assert report.ok, report.problems
    assert (report.transfers, report.tree_size) == (45, 45)


def test_inclusion_and_consistency_proofs_from_the_store_verify_independently(
    filled: Audited,
) -> None:
    with filled.ledger.store.audit_reader() as fetch:
        reader = AuditReader(fetch)
        head = reader.latest_head()
        assert head is not None
        size, root = head.head.tree_size, head.head.root_hash
        leaves = []
        for transfer_id in range(1, size + 1):
            proof = reader.inclusion(transfer_id, size)
            assert decode_transfer(proof.leaf_data).id == transfer_id
            leaves.append(proof.leaf_data)
            assert rfc9162.verify_inclusion(
                proof.leaf_index,
                size,
                rfc9162.sha256(b"\x00" + proof.leaf_data),
                proof.audit_path,
                root,
            )
        assert rfc9162.mth(sorted(leaves, key=lambda d: decode_transfer(d).timestamp)) == root
        for first in range(size + 1):
            path = reader.consistency(first, size)
            assert rfc9162.verify_consistency(first, size, rfc9162.mth(leaves[:first]), root, path)


def test_cli_verify_prove_and_check_proof_offline(filled: Audited, tmp_path: object) -> None:
    url = filled.url
    filled.ledger.close()
    ok = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    assert "audit ok: 45 transfers" in ok.output
    proved = runner.invoke(app, ["audit", "prove", "17", "--database-url", url])
    assert proved.exit_code == 0, proved.output
    keys = runner.invoke(app, ["audit", "keys", "export", "--database-url", url])
    from pathlib import Path

    directory = Path(str(tmp_path))
    (directory / "proof.json").write_text(proved.stdout)
    (directory / "keys.json").write_text(keys.stdout)
    checked = runner.invoke(
        app,
        [
            "audit",
            "check-proof",
            str(directory / "proof.json"),
            "--keys",
            str(directory / "keys.json"),
        ],
    )
    assert checked.exit_code == 0, checked.output
    assert "transfer 17 is leaf" in checked.output
    document = json.loads(proved.stdout)
    document["proof"]["audit_path"][0] = document["proof"]["audit_path"][1]
    (directory / "bad.json").write_text(json.dumps(document))
    bad = runner.invoke(
        app,
        [
            "audit",
            "check-proof",
            str(directory / "bad.json"),
            "--keys",
            str(directory / "keys.json"),
        ],
    )
    assert bad.exit_code == 1
    assert "INVALID" in bad.output


def test_a_ledger_that_ran_without_the_log_is_refused_by_it(store_url: str) -> None:
    with Ledger(open_store(store_url)) as plain:
        plain.create_accounts([Account(1, "USD", 1), Account(2, "USD", 1)])
        plain.create_transfers([Transfer(1, 1, 2, 5, "USD", 1)])
    with Ledger(open_store(store_url), audit=AuditLog()) as audited:
        with pytest.raises(AuditGapError):
            audited.create_transfers([Transfer(2, 1, 2, 5, "USD", 1)])
        assert audited.lookup_transfers([2]) == []  # refused whole: nothing committed


def test_without_a_key_the_tree_and_chain_are_kept_but_no_head(store_url: str) -> None:
    with Ledger(open_store(store_url), audit=AuditLog(None)) as ledger:
        ledger.create_accounts([Account(1, "USD", 1), Account(2, "USD", 1)])
        ledger.create_transfers([Transfer(i, 1, 2, 5, "USD", 1) for i in range(1, 4)])
        with ledger.store.audit_reader() as fetch:
            reader = AuditReader(fetch)
            assert reader.latest_head() is None
            assert reader.tree_size() == 3
            assert verify_log(fetch, keyring=Keyring([])).ok
