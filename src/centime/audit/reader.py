"""Proofs and heads read from a store (``store.audit_reader()``): what the API and the CLI serve.

Every hash a proof needs is a complete subtree stored in ``audit_nodes`` (or a fold of a few
on the right edge); one query fetches them all, one small row per node, whatever the size of
the tree. A leaf's index is found from its transfer: the batch whose timestamp range holds
the transfer, plus the number of transfers before it in that batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from centime.ledger import Transfer
from centime.ledger.port import AuditHeadRow, Fetch

from .encoding import encode_transfer
from .log import TILE_HEIGHT, TILE_WIDTH
from .merkle import (
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
)
from .sth import Keyring, PublicKey, SignedTreeHead, b64

__all__ = ["AuditReader", "InclusionProof", "NotFoundError"]

TRANSFER_COLUMNS: Final = (
    "id, debit_account_id, credit_account_id, amount, asset, code, flags, pending_id,"
    " timeout_s, user_data, timestamp"
)
HEAD_COLUMNS: Final = "timestamp, tree_size, root_hash, batch_seq, batch_hash, key_id, signature"
_NODES_PER_QUERY: Final = 100  # SQLite allows 500 terms in a compound SELECT


class NotFoundError(LookupError):
    """No such transfer, head or tree size; the message says which."""


@dataclass(frozen=True, slots=True)
class InclusionProof:
    transfer: Transfer
    leaf_index: int
    tree_size: int
    leaf_data: bytes
    audit_path: list[bytes]

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_data)

    def to_json(self) -> dict[str, Any]:
        return {
            "transfer_id": self.transfer.id,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_data": b64(self.leaf_data),
            "leaf_hash": b64(self.leaf_hash),
            "audit_path": [b64(h) for h in self.audit_path],
        }


class AuditReader:
    """Queries of the audit tables over one snapshot (``fetch`` from ``audit_reader()``)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    # ------------------------------------------------------------------ heads and keys

    def latest_head(self) -> SignedTreeHead | None:
        rows = self._fetch(
            f"SELECT {HEAD_COLUMNS} FROM audit_heads ORDER BY timestamp DESC LIMIT 1", ()
        )
        return SignedTreeHead.from_row(AuditHeadRow(*rows[0])) if rows else None

    def heads(self, after_timestamp: int, limit: int) -> list[SignedTreeHead]:
        rows = self._fetch(
            f"SELECT {HEAD_COLUMNS} FROM audit_heads WHERE timestamp > ?"
            " ORDER BY timestamp, key_id LIMIT ?",
            (after_timestamp, limit),
        )
        return [SignedTreeHead.from_row(AuditHeadRow(*row)) for row in rows]

    def head_of_size(self, tree_size: int) -> SignedTreeHead | None:
        """The newest signed head of exactly ``tree_size`` leaves."""
        rows = self._fetch(
            f"SELECT {HEAD_COLUMNS} FROM audit_heads WHERE tree_size = ?"
            " ORDER BY timestamp DESC LIMIT 1",
            (tree_size,),
        )
        return SignedTreeHead.from_row(AuditHeadRow(*rows[0])) if rows else None

    def keyring(self) -> Keyring:
        rows = self._fetch("SELECT key_id, public_key, created_ns, endorsement FROM audit_keys", ())
        return Keyring(
            PublicKey(bytes(kid), bytes(public), created, bytes(endorsement))
            for kid, public, created, endorsement in rows
        )

    def tip(self) -> tuple[int, int, bytes] | None:
        """(batch seq, tree size, root) of the newest batch."""
        rows = self._fetch(
            "SELECT seq, tree_size, peaks FROM audit_batches ORDER BY seq DESC LIMIT 1", ()
        )
        if not rows:
            return None
        seq, size, peaks = rows[0]
        return seq, size, CompactRange.decode(size, bytes(peaks)).root()

    # ------------------------------------------------------------------ nodes and proofs

    def nodes(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The hashes of complete subtrees ``(level, index)``; absent ones omitted.

        Node (l, i) with l = 8t + k is the fold, k levels up, of nodes [i * 2^k, (i+1) * 2^k)
        of stored level 8t; their segments start less than a tile before the range.
        """
        spans = []
        for level, index in wanted:
            k = level % TILE_HEIGHT
            spans.append((level, index, level - k, k, index << k, (index + 1) << k))
        segments: dict[int, dict[int, bytes]] = {}
        for start in range(0, len(spans), _NODES_PER_QUERY):
            chunk = spans[start : start + _NODES_PER_QUERY]
            sql = " UNION ALL ".join(
                "SELECT level, first_index, hashes FROM audit_nodes"
                " WHERE level = ? AND first_index > ? AND first_index < ?"
                for _ in chunk
            )
            params = [
                v for _, _, base, _, low, high in chunk for v in (base, low - TILE_WIDTH, high)
            ]
            for level, first, hashes in self._fetch(sql, params):
                segments.setdefault(level, {})[first] = bytes(hashes)
        found: dict[tuple[int, int], bytes] = {}
        for level, index, base, k, low, high in spans:
            row = _row(segments.get(base, {}), low, high)
            if row is None:
                continue
            for _ in range(k):
                pairs = iter(row)
                row = [node_hash(left, right) for left, right in zip(pairs, pairs, strict=False)]
            found[(level, index)] = row[0]
        return found

    def tree_size(self) -> int:
        tip = self.tip()
        return 0 if tip is None else tip[1]

    def leaf(self, transfer_id: int) -> tuple[int, Transfer]:
        """(leaf index, transfer) of a transfer id."""
        rows = self._fetch(f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?", (transfer_id,))
        if not rows:
            raise NotFoundError(f"no transfer {transfer_id}")
        transfer = Transfer(*rows[0])
        batch = self._fetch(
            "SELECT tree_size - leaf_count, timestamp_first FROM audit_batches"
            " WHERE timestamp_last >= ? ORDER BY timestamp_last LIMIT 1",
            (transfer.timestamp,),
        )
        if not batch or batch[0][1] > transfer.timestamp:
            raise NotFoundError(f"transfer {transfer_id} is not in the audit log")
        size_before, timestamp_first = batch[0]
        before = self._fetch(
            "SELECT COUNT(*) FROM transfers WHERE timestamp >= ? AND timestamp < ?",
            (timestamp_first, transfer.timestamp),
        )[0][0]
        return size_before + int(before), transfer

    def inclusion(self, transfer_id: int, tree_size: int | None = None) -> InclusionProof:
        """The proof that a transfer is in the tree of ``tree_size`` leaves (by default the
        latest signed head's, or the newest tree when none is signed)."""
        if tree_size is None:
            head = self.latest_head()
            tree_size = head.head.tree_size if head is not None else self.tree_size()
        index, transfer = self.leaf(transfer_id)
        if tree_size > self.tree_size():
            raise NotFoundError(f"the log has fewer than {tree_size} leaves")
        if index >= tree_size:
            raise NotFoundError(
                f"transfer {transfer_id} is leaf {index}, not in a tree of {tree_size}"
            )
        path = inclusion_proof(index, tree_size, self.nodes)
        return InclusionProof(transfer, index, tree_size, encode_transfer(transfer), path)

    def consistency(self, first: int, second: int) -> list[bytes]:
        if second > self.tree_size():
            raise NotFoundError(f"the log has fewer than {second} leaves")
        return consistency_proof(first, second, self.nodes)


def _row(segments: dict[int, bytes], low: int, high: int) -> list[bytes] | None:
    """Hashes [low, high) of one level from its stored segments, or None if any is missing."""
    row: list[bytes | None] = [None] * (high - low)
    for first, blob in segments.items():
        for i in range(max(first, low), min(first + len(blob) // HASH_SIZE, high)):
            offset = (i - first) * HASH_SIZE
            row[i - low] = blob[offset : offset + HASH_SIZE]
    if any(h is None for h in row):
        return None
    return [h for h in row if h is not None]
