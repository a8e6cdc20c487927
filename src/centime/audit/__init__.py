"""The tamper-evident ledger: a Merkle tree over every transfer, hash-chained batches, signed
tree heads, inclusion and consistency proofs, verification (docs/audit.md).

The engine calls an :class:`AuditLog` inside each group's transaction
(``Ledger(store, clock, audit=AuditLog(signer))``); :func:`audit_from_env` is how entry
points decide: on with a signing key where ``CENTIME_AUDIT_KEY_FILE`` names one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .encoding import decode_transfer, encode_transfer, transfer_leaf_hashes
from .log import AuditGapError, AuditLog
from .merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from .reader import AuditReader, InclusionProof, NotFoundError
from .sth import AuditKeyError, HeadSigner, Keyring, PublicKey, SignedTreeHead, TreeHead
from .verify import Problem, VerifyReport, verify_log

__all__ = [
    "EMPTY_ROOT",
    "KEY_FILE_ENV",
    "AuditGapError",
    "AuditKeyError",
    "AuditLog",
    "AuditReader",
    "HeadSigner",
    "InclusionProof",
    "Keyring",
    "NotFoundError",
    "Problem",
    "ProofError",
    "PublicKey",
    "SignedTreeHead",
    "TreeHead",
    "VerifyReport",
    "audit_from_env",
    "consistency_proof",
    "decode_transfer",
    "encode_transfer",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "transfer_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]

KEY_FILE_ENV = "CENTIME_AUDIT_KEY_FILE"
AUDIT_ENV = "CENTIME_AUDIT"


def audit_from_env(environ: Mapping[str, str] | None = None) -> AuditLog | None:
    """The audit log an entry point should run with.

    - ``CENTIME_AUDIT_KEY_FILE=path``: on, heads signed with that key (the production set-up);
    - else on, tree and chain kept, no heads signed: every committed batch is in the log by
      default, because a log that starts late cannot prove the history before it;
    - ``CENTIME_AUDIT=off`` turns it off (``None``), even with a key file.
    """
    env = os.environ if environ is None else environ
    switch = env.get(AUDIT_ENV, "").strip().lower()
    if switch in ("off", "0", "false", "no"):
        return None
    key_file = env.get(KEY_FILE_ENV, "").strip()
    if key_file:
        return AuditLog(HeadSigner.load(Path(key_file)))
    return AuditLog(None)
