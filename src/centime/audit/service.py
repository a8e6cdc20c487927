"""What the ``centime audit`` commands and the audit API do, minus parsing and printing.

Offline checking (:func:`check_proof`) needs nothing but the documents: a proof, the signed
tree head it is checked against, and the operator's published keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from centime.clock import Clock, SystemClock
from centime.ledger import Transfer
from centime.ledger.port import LedgerStore

from .encoding import decode_transfer
from .merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from .reader import AuditReader, InclusionProof, NotFoundError
from .sth import AuditKeyError, HeadSigner, Keyring, PublicKey, SignedTreeHead, b64, from_b64

__all__ = [
    "CheckResult",
    "check_proof",
    "consistency_document",
    "export_document",
    "inclusion_document",
    "rotate_key",
]

PROOF_HASHES_MAX: Final = 128  # a proof in a tree of 2^63 leaves has fewer
DOCUMENT_BYTES_MAX: Final = 1 << 20


def _head_json(sth: SignedTreeHead | None) -> dict[str, Any] | None:
    return None if sth is None else sth.to_json()


def inclusion_document(
    store: LedgerStore, transfer_id: int, tree_size: int | None
) -> dict[str, Any]:
    """{"head": the signed head of the proof's tree size (or null), "proof": ...}."""
    with store.audit_reader() as fetch:
        reader = AuditReader(fetch)
        proof: InclusionProof = reader.inclusion(transfer_id, tree_size)
        head = _head_of_size(reader, proof.tree_size)
    return {"head": _head_json(head), "proof": proof.to_json()}


def consistency_document(store: LedgerStore, first: int, second: int | None) -> dict[str, Any]:
    with store.audit_reader() as fetch:
        reader = AuditReader(fetch)
        if second is None:
            latest = reader.latest_head()
            if latest is None:
                raise NotFoundError("no signed tree head yet")
            second = latest.head.tree_size
        path = reader.consistency(first, second)
        head = _head_of_size(reader, second)
    return {
        "head": _head_json(head),
        "proof": {"first": first, "second": second, "consistency_path": [b64(h) for h in path]},
    }


def _head_of_size(reader: AuditReader, tree_size: int) -> SignedTreeHead | None:
    latest = reader.latest_head()
    if latest is not None and latest.head.tree_size == tree_size:
        return latest
    return reader.head_of_size(tree_size)


def export_document(store: LedgerStore) -> dict[str, Any]:
    """The latest signed head and every published key: what others keep a copy of."""
    with store.audit_reader() as fetch:
        reader = AuditReader(fetch)
        head = reader.latest_head()
        keyring = reader.keyring()
    if head is None:
        raise NotFoundError("no signed tree head yet")
    return {"head": head.to_json(), **keyring.to_json()}


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str
    transfer: Transfer | None = None
    fork: bool = False


def _load(document: Mapping[str, Any] | None, what: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ValueError(f"{what}: not a JSON object")
    return document


def check_proof(
    proof_document: Mapping[str, Any],
    keyring: Keyring,
    head_document: Mapping[str, Any] | None = None,
    old_head_document: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Verify a proof offline: the head's signature under ``keyring``, then the proof
    against the head's root (an inclusion proof), or between ``old_head`` and the head (a
    consistency proof: failing that with two validly signed heads is a fork)."""
    try:
        doc = _load(proof_document, "proof")
        head_json = head_document if head_document is not None else doc.get("head")
        sth = SignedTreeHead.from_json(_load(head_json, "head"))
        if not keyring.verify_head(sth):
            return CheckResult(False, "the tree head's signature does not verify under the keys")
        proof = _load(doc.get("proof", doc), "proof")
        if "audit_path" in proof:
            return _check_inclusion(proof, sth)
        if "consistency_path" in proof:
            old = SignedTreeHead.from_json(_load(old_head_document, "old head"))
            if not keyring.verify_head(old):
                return CheckResult(False, "the old head's signature does not verify")
            return _check_consistency(proof, old, sth)
        return CheckResult(False, "neither an inclusion nor a consistency proof")
    except (ValueError, TypeError, KeyError) as error:
        return CheckResult(False, f"malformed document: {error}")


def _hashes(values: object) -> list[bytes]:
    if not isinstance(values, list) or len(values) > PROOF_HASHES_MAX:
        raise ValueError(f"a proof is a list of at most {PROOF_HASHES_MAX} hashes")
    return [from_b64(v, 32) for v in values]


def _int(value: object) -> int:
    if type(value) is not int or not 0 <= value <= 2**63 - 1:
        raise ValueError(f"expected an integer in 0..2^63-1, got {value!r}")
    return value


def _check_inclusion(proof: Mapping[str, Any], sth: SignedTreeHead) -> CheckResult:
    size = _int(proof["tree_size"])
    index = _int(proof["leaf_index"])
    data = from_b64(proof["leaf_data"])
    transfer = decode_transfer(data)
    if size != sth.head.tree_size:
        return CheckResult(False, f"proof for tree size {size}, head of {sth.head.tree_size}")
    if "transfer_id" in proof and proof["transfer_id"] != transfer.id:
        return CheckResult(False, "the leaf is another transfer than the one named")
    try:
        verify_inclusion(
            index, size, leaf_hash(data), _hashes(proof["audit_path"]), sth.head.root_hash
        )
    except ProofError as error:
        return CheckResult(False, f"inclusion proof invalid: {error}")
    return CheckResult(
        True, f"transfer {transfer.id} is leaf {index} of the signed tree of {size}", transfer
    )


def _check_consistency(
    proof: Mapping[str, Any], old: SignedTreeHead, new: SignedTreeHead
) -> CheckResult:
    first, second = _int(proof["first"]), _int(proof["second"])
    if (first, second) != (old.head.tree_size, new.head.tree_size):
        return CheckResult(False, "the proof's sizes are not the heads' sizes")
    try:
        verify_consistency(
            first,
            second,
            old.head.root_hash,
            new.head.root_hash,
            _hashes(proof["consistency_path"]),
        )
    except ProofError as error:
        return CheckResult(
            False, f"FORK: two signed heads that no log can both have: {error}", fork=True
        )
    return CheckResult(True, f"the tree of {second} extends the tree of {first}")


def read_json(path: str) -> Any:
    """A JSON document from a file (``-``: standard input), at most 1 MiB."""
    if path == "-":
        import sys

        text = sys.stdin.read(DOCUMENT_BYTES_MAX + 1)
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(DOCUMENT_BYTES_MAX + 1)
    if len(text) > DOCUMENT_BYTES_MAX:
        raise ValueError(f"{path}: larger than {DOCUMENT_BYTES_MAX} bytes")
    return json.loads(text)


def rotate_key(store: LedgerStore, key_file: Path, clock: Clock | None = None) -> PublicKey:
    """Make a new signing key and publish it, endorsed by the current one.

    The new key is written beside ``key_file`` (mode 0600) and its public key committed to
    the store before it replaces ``key_file`` (an atomic rename): a crash in between leaves
    the old key in place and an unused published key, never a head-less signer. The old
    private key is deleted; its public key stays published, so its heads keep verifying.
    Without a key file, the first key is made.
    """
    now_ns = (clock or SystemClock()).now_ns()
    current = HeadSigner.load(key_file) if key_file.exists() else None
    successor = HeadSigner.generate(now_ns)
    staging = key_file.with_name(key_file.name + ".new")
    if staging.exists():
        raise AuditKeyError(f"{staging} exists: an interrupted rotation? remove it first")
    successor.write(staging)
    try:
        endorsement = current.endorse(successor) if current is not None else b""
        published = successor.public(endorsement)
        with store.write_transaction() as txn:
            if current is not None:
                txn.write_audit_key(current.public().row())
            txn.write_audit_key(published.row())
        os.replace(staging, key_file)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return published


def keyring_of(documents: Sequence[Mapping[str, Any]]) -> Keyring:
    keys: dict[bytes, PublicKey] = {}
    for document in documents:
        for key in Keyring.from_json(document).keys:
            keys[key.key_id] = key
    return Keyring(keys.values())
