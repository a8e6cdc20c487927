"""The audit log's writer side: what the engine calls inside each group's transaction.

For every group that changed anything, :meth:`AuditLog.append` (in the same database
transaction as the group's writes, so both commit or neither does):

1. reads the log's tip (the newest batch: tree size, right-edge peaks, batch hash) and
   refuses to go on if a transfer exists that the log does not cover (a gap);
2. appends a leaf per transfer, in timestamp order (``encoding.transfer_leaf_hashes``),
   from the peaks alone: O(batch) hashes, whatever the tree's size;
3. writes the batch record (tree size and root after it, its timestamp range, its state
   changes and their hash, the previous batch's hash, its own hash) and the new nodes;
4. signs a tree head when the last one this process signed is older than the head interval.

When the writer is idle it calls :meth:`AuditLog.idle`, which signs the tip if no head of
this process covers it yet: a batch never waits much more than a second for a head.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Final

from centime.ledger import Changes
from centime.ledger.port import AuditBatchRow, AuditNodeRow, AuditTip, AuditWrite
from centime.limits import AUDIT_HEAD_INTERVAL_S

from .encoding import encode_state, transfer_leaf_hashes
from .merkle import CompactRange
from .sth import HeadSigner, SignedTreeHead, TreeHead

__all__ = [
    "BATCH_CONTEXT",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ZERO_HASH",
    "AuditGapError",
    "AuditLog",
    "batch_hash",
    "node_segments",
]

BATCH_CONTEXT: Final = b"centime-audit-batch-v1\x00"
_BATCH_NUMBERS: Final = struct.Struct(">QQQQQ")  # seq, tree_size, leaf_count, ts_first, ts_last
ZERO_HASH: Final = bytes(32)
# Nodes are stored as in Go's sumdb tlog: only levels 0, 8, 16, ... (a tile of height 8 is
# stored as its bottom row; the 7 levels above are recomputed, at most 255 hashes), in
# segments that never cross a boundary of 256 nodes, so a blob stays small (8 KiB) however
# large the batch, and a proof reads a few small rows per 8 levels of the tree.
TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT


class AuditGapError(RuntimeError):
    """Transfers exist that the audit log does not cover (written without the log, or
    inserted behind its back). The group is refused: a hole in the log is not repaired
    silently."""


def batch_hash(
    seq: int,
    tree_size: int,
    leaf_count: int,
    timestamp_first: int,
    timestamp_last: int,
    root_hash: bytes,
    state_hash: bytes,
    prev_hash: bytes,
) -> bytes:
    """SHA-256(context || u64 seq, tree_size, leaf_count, timestamp_first, timestamp_last ||
    root_hash || state_hash || prev_hash): one link of the chain."""
    return hashlib.sha256(
        BATCH_CONTEXT
        + _BATCH_NUMBERS.pack(seq, tree_size, leaf_count, timestamp_first, timestamp_last)
        + root_hash
        + state_hash
        + prev_hash
    ).digest()


def node_segments(created: Sequence[tuple[int, int, list[bytes]]]) -> list[AuditNodeRow]:
    """New nodes of the stored levels (multiples of ``TILE_HEIGHT``), cut at every multiple
    of ``TILE_WIDTH``."""
    rows: list[AuditNodeRow] = []
    for level, first, row in created:
        if level % TILE_HEIGHT:
            continue
        offset = 0
        while offset < len(row):
            index = first + offset
            width = TILE_WIDTH - index % TILE_WIDTH
            rows.append(AuditNodeRow(level, index, b"".join(row[offset : offset + width])))
            offset += width
    return rows


class AuditLog:
    """Pass one to ``Ledger(store, clock, audit=AuditLog(signer))``. Without a signer the
    tree and the chain are kept but no head is signed (``centime audit verify`` still checks
    the store against itself; outsiders need signed heads)."""

    def __init__(
        self, signer: HeadSigner | None = None, *, head_interval_s: float = AUDIT_HEAD_INTERVAL_S
    ) -> None:
        self.signer = signer
        self._head_interval_ns = int(head_interval_s * 1e9)
        self._last_head_ns: int | None = None
        self._last_head_seq = 0

    def append(self, txn: AuditWrite, changes: Changes, timestamps: range, now_ns: int) -> None:
        """Log the group that the engine timestamps ``timestamps`` were reserved for."""
        if not _changed(changes):
            self.idle(txn, now_ns)
            return
        timestamp_first = timestamps[0]
        seq, size, last, prev_hash, peaks = _tip_fields(txn)
        if timestamp_first <= last:
            raise RuntimeError(f"group at {timestamp_first} is not after the log's tip {last}")
        if txn.transfers_between(last, timestamp_first):
            raise AuditGapError(
                f"transfers after timestamp {last} are not in the audit log: the ledger ran"
                " without it; see docs/audit.md"
            )
        tree = CompactRange.decode(size, peaks)
        created = tree.append(transfer_leaf_hashes(changes.transfers))
        root = tree.root()
        state = encode_state(
            changes.accounts_created,
            changes.accounts.values(),
            list(changes.pending.values()),
            changes.failed,
        )
        state_hash = hashlib.sha256(state).digest()
        seq += 1
        # What the chain link commits to, in the order of both the hash and the row: seq,
        # tree size, leaf count, first and last timestamps, root.
        link = (
            seq,
            tree.size,
            len(changes.transfers),
            timestamp_first,
            timestamps[-1],
            root,
        )
        this_hash = batch_hash(*link, state_hash, prev_hash)
        row = AuditBatchRow(*link, prev_hash, state_hash, state, tree.encode(), this_hash)
        txn.write_audit(row, node_segments(created))
        if self._head_due(now_ns):
            self._sign(txn, TreeHead(tree.size, 0, root, seq, this_hash), now_ns)

    def idle(self, txn: AuditWrite, now_ns: int) -> None:
        """Sign the tip if this process has not signed it yet and a head is due."""
        if self.signer is None or not self._head_due(now_ns):
            return
        tip = txn.audit_tip()
        if tip is None or tip.seq == self._last_head_seq:
            return
        self._sign(txn, _head_of(tip), now_ns)

    def _head_due(self, now_ns: int) -> bool:
        return self.signer is not None and (
            self._last_head_ns is None or now_ns - self._last_head_ns >= self._head_interval_ns
        )

    def _sign(self, txn: AuditWrite, head: TreeHead, now_ns: int) -> SignedTreeHead:
        signer = self.signer
        if signer is None:
            raise RuntimeError("no signing key")
        # Published with every head (a no-op once stored): remembering that it was would be
        # wrong after a rolled-back transaction.
        txn.write_audit_key(signer.public().row())
        timestamp = now_ns if self._last_head_ns is None else max(now_ns, self._last_head_ns + 1)
        sth = signer.sign_head(
            TreeHead(head.tree_size, timestamp, head.root_hash, head.batch_seq, head.batch_hash)
        )
        txn.write_audit_head(sth.row())
        self._last_head_ns = timestamp
        self._last_head_seq = head.batch_seq
        return sth


def _head_of(tip: AuditTip) -> TreeHead:
    root = CompactRange.decode(tip.tree_size, bytes(tip.peaks)).root()
    return TreeHead(tip.tree_size, 0, root, tip.seq, bytes(tip.batch_hash))


def _changed(changes: Changes) -> bool:
    return bool(
        changes.transfers
        or changes.accounts_created
        or changes.accounts
        or changes.pending
        or changes.failed
    )


def _tip_fields(txn: AuditWrite) -> tuple[int, int, int, bytes, bytes]:
    """The log's tip as (seq, tree size, last timestamp, batch hash, peaks); an empty log's
    before the first group."""
    tip = txn.audit_tip()
    if tip is None:
        return 0, 0, 0, ZERO_HASH, b""
    return tip.seq, tip.tree_size, tip.timestamp_last, bytes(tip.batch_hash), bytes(tip.peaks)
