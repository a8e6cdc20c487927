"""``centime audit verify``: recompute the whole audit log from the store and compare.

Read from one snapshot of the store:

1. every transfer, in timestamp order, re-encoded and re-hashed, against the leaf hashes the
   log stored for its batch (a changed, inserted, deleted or reordered transfer shows up at
   its leaf index);
2. the Merkle tree rebuilt from those leaves, batch by batch, against every stored node, each
   batch's root and the hash chain (seq, prev_hash, state_hash, batch_hash);
3. every signed tree head: its signature under the published keys (or the keys the caller
   trusts) and its root and batch hash against the rebuilt log; every exported head given as
   an anchor the same way (a valid head the log contradicts is a fork);
4. the state: the accounts, pending states and failed ids that replaying the batches' state
   records gives, against the tables (a changed balance or flag is reported with the batch
   that last logged the account).

Problems are reported in that order, the first found first; the verifier stops collecting
after ``problems_max``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from centime.ledger import Account, Transfer
from centime.ledger.port import Fetch

from .encoding import decode_state, transfer_leaf_hashes
from .log import TILE_HEIGHT, ZERO_HASH, batch_hash
from .merkle import HASH_SIZE, CompactRange
from .reader import TRANSFER_COLUMNS, AuditReader
from .sth import Keyring, SignedTreeHead

__all__ = ["Problem", "VerifyReport", "verify_log"]

PAGE_ROWS: Final = 8189
BATCH_PAGE_ROWS: Final = 64
PROBLEMS_MAX: Final = 1000

_BATCH_COLUMNS: Final = (
    "seq, tree_size, leaf_count, timestamp_first, timestamp_last, root_hash, prev_hash,"
    " state_hash, state, batch_hash"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the log and the store disagree on: what, where, and what was found."""

    kind: str  # leaf, transfer, batch, node, head, anchor, key, account, pending, failed
    position: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.position}: {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    transfers: int = 0
    batches: int = 0
    heads: int = 0
    accounts: int = 0
    tree_size: int = 0
    root_hash: bytes = b""
    problems_max: int = PROBLEMS_MAX

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, position: str, detail: str) -> None:
        if len(self.problems) < self.problems_max:
            self.problems.append(Problem(kind, position, detail))


def _transfers(fetch: Fetch) -> Iterator[Transfer]:
    last = -1
    while True:
        rows = fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE timestamp > ?"
            " ORDER BY timestamp LIMIT ?",
            (last, PAGE_ROWS),
        )
        for row in rows:
            yield Transfer(*row)
        if len(rows) < PAGE_ROWS:
            return
        last = rows[-1][-1]


def _batches(fetch: Fetch) -> Iterator[tuple[Any, ...]]:
    last = 0
    while True:
        rows = fetch(
            f"SELECT {_BATCH_COLUMNS} FROM audit_batches WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, BATCH_PAGE_ROWS),
        )
        yield from rows
        if len(rows) < BATCH_PAGE_ROWS:
            return
        last = rows[-1][0]


def _stored_nodes(fetch: Fetch, level: int, first: int, count: int) -> list[bytes] | None:
    """The stored hashes of nodes [first, first + count) of ``level``, or None when the
    stored segments do not tile that range exactly."""
    rows = fetch(
        "SELECT first_index, hashes FROM audit_nodes WHERE level = ? AND first_index >= ?"
        " AND first_index < ? ORDER BY first_index",
        (level, first, first + count),
    )
    hashes: list[bytes] = []
    expected = first
    for start, stored in rows:
        blob = bytes(stored)
        if start != expected or len(blob) % HASH_SIZE:
            return None
        hashes.extend(blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE))
        expected = first + len(hashes)
    return hashes if len(hashes) == count else None


def _where(index: int, seq: int, t: Transfer | None) -> str:
    if t is None:
        return f"leaf {index} (batch {seq})"
    return f"leaf {index} (batch {seq}, transfer {t.id}, timestamp {t.timestamp})"


class _Verifier:
    def __init__(
        self,
        fetch: Fetch,
        keyring: Keyring | None,
        anchors: Sequence[SignedTreeHead],
        problems_max: int,
    ) -> None:
        self.fetch = fetch
        self.reader = AuditReader(fetch)
        self.report = VerifyReport(problems_max=problems_max)
        self.anchors = list(anchors)
        self.trusted = keyring is not None
        self.keyring = keyring if keyring is not None else self.reader.keyring()
        self.roots: dict[int, tuple[int, bytes, bytes]] = {}  # seq -> size, root, batch hash
        self.accounts: dict[int, tuple[int, list[Any]]] = {}  # id -> (seq, account fields)
        self.pending: dict[int, tuple[int, tuple[Any, ...]]] = {}
        self.failed: dict[int, tuple[int, tuple[Any, ...]]] = {}

    def run(self) -> VerifyReport:
        if not self.trusted:
            for key in self.keyring.endorsement_breaks():
                self.report.add(
                    "key", f"key {key.key_id.hex()[:16]}", "not endorsed by the key before it"
                )
        self._log()
        self._heads()
        self._state()
        return self.report

    # ------------------------------------------------------------------ transfers and tree

    def _log(self) -> None:
        report = self.report
        transfers = _transfers(self.fetch)
        pending_transfer: Transfer | None = next(transfers, None)
        tree = CompactRange.empty()
        prev_hash = ZERO_HASH
        expected_seq = 1
        for row in _batches(self.fetch):
            seq, size, leaf_count, ts_first, ts_last = row[:5]
            root, prev, state_hash, state, bhash = (bytes(value) for value in row[5:])
            report.batches += 1
            where = f"batch {seq}"
            if seq != expected_seq:
                report.add("batch", where, f"expected batch {expected_seq}: batches are missing")
            expected_seq = seq + 1
            if prev != prev_hash:
                report.add("batch", where, "prev_hash is not the previous batch's hash")
            batch_transfers: list[Transfer] = []
            while pending_transfer is not None and pending_transfer.timestamp <= ts_last:
                if pending_transfer.timestamp < ts_first:
                    report.add(
                        "transfer",
                        f"transfer {pending_transfer.id}, timestamp {pending_transfer.timestamp}",
                        f"in no batch of the audit log (before batch {seq}): inserted",
                    )
                else:
                    batch_transfers.append(pending_transfer)
                pending_transfer = next(transfers, None)
            report.transfers += len(batch_transfers)
            start = tree.size
            leaves = transfer_leaf_hashes(batch_transfers)
            leaves_ok = self._leaves(seq, start, leaf_count, batch_transfers, leaves)
            created = tree.append(leaves)
            if size != tree.size:
                report.add("batch", where, f"tree_size {size}, the transfers make {tree.size}")
            computed_root = tree.root()
            if leaves_ok:
                self._nodes(seq, created)
                if computed_root != root:
                    report.add("batch", where, "root_hash differs from the recomputed tree")
            if hashlib.sha256(state).digest() != state_hash:
                report.add("batch", where, "state differs from its state_hash")
            else:
                self._replay_state(seq, state)
            computed = batch_hash(
                seq, size, leaf_count, ts_first, ts_last, computed_root, state_hash, prev_hash
            )
            if computed != bhash:
                report.add("batch", where, "batch_hash differs from the recomputed chain")
            prev_hash = computed
            self.roots[seq] = (tree.size, computed_root, computed)
        while pending_transfer is not None:
            report.add(
                "transfer",
                f"transfer {pending_transfer.id}, timestamp {pending_transfer.timestamp}",
                "after the last batch of the audit log: not logged",
            )
            report.transfers += 1
            pending_transfer = next(transfers, None)
        report.tree_size = tree.size
        report.root_hash = tree.root()

    def _leaves(
        self, seq: int, start: int, leaf_count: int, transfers: list[Transfer], leaves: list[bytes]
    ) -> bool:
        """Compare a batch's recomputed leaves with the stored ones; report the first
        difference with its leaf index."""
        stored = _stored_nodes(self.fetch, 0, start, leaf_count) if leaf_count else []
        if stored is None:
            self.report.add(
                "node", f"batch {seq}", f"stored leaf hashes do not cover leaves {start}.."
            )
            return False
        if stored == leaves:
            return True
        position = {h: i for i, h in enumerate(stored)}
        for i in range(max(len(stored), len(leaves))):
            mine = leaves[i] if i < len(leaves) else None
            theirs = stored[i] if i < len(stored) else None
            if mine == theirs:
                continue
            t = transfers[i] if i < len(transfers) else None
            where = _where(start + i, seq, t)
            if mine is None:
                detail = "logged, but missing from the transfers table (deleted)"
            elif theirs is None:
                detail = "a transfer the log does not hold (inserted)"
            elif mine in position:
                detail = (
                    f"this transfer is logged at leaf {start + position[mine]}: transfers were"
                    " deleted, inserted or reordered"
                )
            else:
                detail = "the transfer differs from the logged leaf (changed or inserted)"
            self.report.add("leaf", where, detail)
            break
        if len(stored) != len(leaves):
            self.report.add(
                "batch",
                f"batch {seq}",
                f"logs {len(stored)} transfers, the table holds {len(leaves)} in its range",
            )
        return False

    def _nodes(self, seq: int, created: list[tuple[int, int, list[bytes]]]) -> None:
        for level, first, row in created[1:]:
            if level % TILE_HEIGHT:
                continue  # not stored: recomputed from the level below when needed
            stored = _stored_nodes(self.fetch, level, first, len(row))
            if stored != row:
                self.report.add(
                    "node",
                    f"batch {seq}, level {level}, nodes {first}..{first + len(row) - 1}",
                    "stored node hashes differ from the recomputed tree",
                )
                return

    # ------------------------------------------------------------------ heads and anchors

    def _heads(self) -> None:
        after = -1
        while True:
            heads = self.reader.heads(after, PAGE_ROWS)
            for sth in heads:
                self.report.heads += 1
                self._head("head", sth)
            if len(heads) < PAGE_ROWS:
                break
            after = heads[-1].head.timestamp
        for sth in self.anchors:
            self._head("anchor", sth)

    def _head(self, kind: str, sth: SignedTreeHead) -> None:
        h = sth.head
        where = f"{kind} at {h.timestamp} (tree size {h.tree_size}, batch {h.batch_seq})"
        if not self.keyring.verify_head(sth):
            self.report.add(kind, where, "the signature does not verify under the known keys")
            return
        logged = self.roots.get(h.batch_seq)
        if logged is None:
            self.report.add(kind, where, "signed, but its batch is not in the log (truncated)")
            return
        size, root, bhash = logged
        if (size, root, bhash) != (h.tree_size, h.root_hash, h.batch_hash):
            self.report.add(
                kind, where, "signed, but the log now says otherwise: rewritten history (fork)"
            )

    # ------------------------------------------------------------------ state

    def _replay_state(self, seq: int, state: bytes) -> None:
        try:
            changes = decode_state(state)
        except ValueError as error:
            self.report.add("batch", f"batch {seq}", f"state record unreadable: {error}")
            return
        for a in changes.accounts_created:
            self.accounts[a.id] = (seq, list[Any](a))
        for aid, flags, dp, dpo, cp, cpo in changes.accounts_changed:
            known = self.accounts.get(aid)
            if known is None:
                where = f"account {aid}"
                self.report.add("account", where, f"changed in batch {seq}, never created")
                continue
            fields = known[1]
            fields[3], fields[5], fields[6], fields[7], fields[8] = flags, dp, dpo, cp, cpo
            self.accounts[aid] = (seq, fields)
        for p in changes.pending:
            self.pending[p.transfer_id] = (
                seq,
                (p.transfer_id, p.status.value, p.expires_at, p.timestamp),
            )
        for tid, status, ts in changes.failed:
            self.failed[tid] = (seq, (tid, status.value, ts))

    def _state(self) -> None:
        self._table(
            "account",
            "SELECT id, asset, code, flags, user_data, debits_pending, debits_posted,"
            " credits_pending, credits_posted, timestamp FROM accounts WHERE id > ?"
            " ORDER BY id LIMIT ?",
            {aid: (seq, tuple(fields)) for aid, (seq, fields) in self.accounts.items()},
        )
        self._table(
            "pending",
            "SELECT transfer_id, status, expires_at, timestamp FROM pending_transfers"
            " WHERE transfer_id > ? ORDER BY transfer_id LIMIT ?",
            self.pending,
        )
        self._table(
            "failed",
            "SELECT id, status, timestamp FROM failed_transfers WHERE id > ? ORDER BY id LIMIT ?",
            self.failed,
        )

    def _table(self, kind: str, sql: str, logged: dict[int, tuple[int, tuple[Any, ...]]]) -> None:
        seen: set[int] = set()
        last = -1
        while True:
            rows = self.fetch(sql, (last, PAGE_ROWS))
            for row in rows:
                key = row[0]
                seen.add(key)
                if kind == "account":
                    self.report.accounts += 1
                entry = logged.get(key)
                if entry is None:
                    self.report.add(kind, f"{kind} {key}", "not in the audit log (inserted)")
                elif tuple(row) != entry[1]:
                    self.report.add(
                        kind,
                        f"{kind} {key}",
                        f"differs from the audit log (last logged in batch {entry[0]}):"
                        f" table {_fields(kind, row)} != log {_fields(kind, entry[1])}",
                    )
            if len(rows) < PAGE_ROWS:
                break
            last = rows[-1][0]
        for key in sorted(set(logged) - seen):
            self.report.add(
                kind, f"{kind} {key}", f"logged in batch {logged[key][0]}, missing (deleted)"
            )


def _fields(kind: str, row: Sequence[Any]) -> str:
    if kind == "account":
        a = Account(*row)
        return (
            f"(flags {a.flags}, debits {a.debits_pending}/{a.debits_posted},"
            f" credits {a.credits_pending}/{a.credits_posted})"
        )
    return str(tuple(row))


def verify_log(
    fetch: Fetch,
    *,
    keyring: Keyring | None = None,
    anchors: Sequence[SignedTreeHead] = (),
    problems_max: int = PROBLEMS_MAX,
) -> VerifyReport:
    """Verify the whole log over ``fetch`` (one snapshot). ``keyring``: the keys to trust
    (default: those the store publishes, whose endorsement chain is then checked)."""
    return _Verifier(fetch, keyring, anchors, problems_max).run()
