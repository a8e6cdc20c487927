"""RFC 6962 / RFC 9162 Merkle trees: hashes, appends, proofs and their verification.

Pure functions over hashes; no I/O. The tree is the one of RFC 9162 section 2.1.1:

- ``MTH({}) = SHA-256()``; a leaf ``d`` hashes to ``SHA-256(0x00 || d)``;
- ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``, ``k`` the largest power of two
  smaller than ``n``.

Nodes are named ``(level, index)``: the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``. Complete subtrees never change once the log
has grown past them, so they are what the store keeps; every hash a proof needs is either
one of them or (on the right edge of a tree whose size is not a power of two) a fold of a
few of them. :class:`CompactRange` appends a batch of leaves with O(batch) hashes, from the
right-edge "peaks" of the tree alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeFetch",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
# 2**63 - 1 leaves at most: a tree size is a signed 64-bit column in both stores.
TREE_SIZE_MAX: Final = 2**63 - 1

_sha256 = hashlib.sha256

Node = tuple[int, int]  # (level, index)
NodeFetch = Callable[[Sequence[Node]], Mapping[Node, bytes]]


class ProofError(ValueError):
    """A proof that cannot be made (sizes out of range) or that does not verify."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right edge of a tree of ``size`` leaves: one complete subtree per set bit of the
    size, highest level first ("peaks"). Enough to append and to compute the root."""

    __slots__ = ("peaks", "size")

    def __init__(self, size: int, peaks: Sequence[bytes]) -> None:
        if not 0 <= size <= TREE_SIZE_MAX:
            raise ValueError(f"tree size out of range: {size}")
        if len(peaks) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} peaks")
        self.size = size
        self.peaks = list(peaks)

    @classmethod
    def empty(cls) -> CompactRange:
        return cls(0, [])

    @classmethod
    def decode(cls, size: int, blob: bytes) -> CompactRange:
        if len(blob) % HASH_SIZE:
            raise ValueError("peaks blob is not a whole number of hashes")
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])

    def encode(self) -> bytes:
        return b"".join(self.peaks)

    def peak_levels(self) -> list[int]:
        """The level of each peak, in the order of ``peaks`` (highest first)."""
        size = self.size
        return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        root = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            root = _sha256(NODE_PREFIX + peak + root).digest()
        return root

    def extended(self, leaf_hashes: Sequence[bytes]) -> CompactRange:
        """A copy with ``leaf_hashes`` appended (the new nodes are dropped)."""
        copy = CompactRange(self.size, self.peaks)
        copy.append(leaf_hashes)
        return copy

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, list[bytes]]]:
        """Append leaves; return every complete subtree that appending created, as
        ``(level, first_index, hashes)`` per level, level 0 (the leaves) first.

        Costs one hash per new node (about one per leaf), whatever the tree's size.
        """
        start = self.size
        end = start + len(leaf_hashes)
        if end > TREE_SIZE_MAX:
            raise ValueError("the tree would exceed its largest size")
        old = dict(zip(self.peak_levels(), self.peaks, strict=True))
        created: list[tuple[int, int, list[bytes]]] = []
        level = 0
        first = start
        row = list(leaf_hashes)
        sha = _sha256
        while row:
            created.append((level, first, row))
            if first & 1:  # the left sibling of the first new node is an old peak
                try:
                    row = [old[level], *row]
                except KeyError:
                    raise RuntimeError(f"compact range lacks its peak at level {level}") from None
                first -= 1
            pairs = iter(row)
            row = [
                sha(NODE_PREFIX + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            first >>= 1
            level += 1
        new_peaks: list[bytes] = []
        for peak_level in range(end.bit_length() - 1, -1, -1):
            if not end >> peak_level & 1:
                continue
            index = (end >> peak_level) - 1
            if peak_level < len(created) and created[peak_level][1] <= index:
                level_first, level_row = created[peak_level][1], created[peak_level][2]
                new_peaks.append(level_row[index - level_first])
            else:
                new_peaks.append(old[peak_level])
        self.size = end
        self.peaks = new_peaks
        return created


# ----------------------------------------------------------------------------- proofs


def _check_sizes(index: int, size: int) -> None:
    if not 0 <= index < size <= TREE_SIZE_MAX:
        raise ProofError(f"no leaf {index} in a tree of {size}")


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges [a, b) whose MTH make PATH(index, D[size]) (RFC 9162 2.1.3.1), leaf first."""
    ranges: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        k = _largest_power_of_two_below(high - low)
        if index < low + k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low += k
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make PROOF(first, D[second]) (RFC 9162 2.1.4.1), in order."""
    ranges: list[tuple[int, int]] = []
    low, high, m, whole = 0, second, first, True
    while m != high - low:
        k = _largest_power_of_two_below(high - low)
        if m <= k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low += k
            m -= k
            whole = False
    if not whole:
        ranges.append((low, high))
    ranges.reverse()
    return ranges


def _range_nodes(low: int, high: int) -> list[Node]:
    """The complete subtrees whose fold is MTH(D[low:high]), left to right. ``low`` is a
    multiple of a power of two at least ``high - low`` (true of every range a proof uses)."""
    nodes: list[Node] = []
    width = high - low
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, low >> level))
            low += 1 << level
    return nodes


def _resolve(ranges: list[tuple[int, int]], fetch: NodeFetch) -> list[bytes]:
    per_range = [_range_nodes(low, high) for low, high in ranges]
    wanted = sorted({node for nodes in per_range for node in nodes})
    found = fetch(wanted)
    hashes: list[bytes] = []
    for nodes in per_range:
        try:
            parts = [found[node] for node in nodes]
        except KeyError as error:
            raise ProofError(f"the store lacks node {error.args[0]}") from None
        value = parts[-1]
        for part in reversed(parts[:-1]):
            value = node_hash(part, value)
        hashes.append(value)
    return hashes


def inclusion_proof(index: int, size: int, fetch: NodeFetch) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
    _check_sizes(index, size)
    return _resolve(_inclusion_ranges(index, size), fetch)


def consistency_proof(first: int, second: int, fetch: NodeFetch) -> list[bytes]:
    """The consistency proof between trees of ``first`` and ``second`` leaves
    (RFC 9162 2.1.4.1); empty when ``first`` is 0 or equals ``second``."""
    if not 0 <= first <= second <= TREE_SIZE_MAX:
        raise ProofError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    return _resolve(_consistency_ranges(first, second), fetch)


# ----------------------------------------------------------------------------- verification


def _path_sides(path: Sequence[bytes], fn: int, sn: int) -> Iterator[tuple[bytes, bool]]:
    """The walk up the tree both RFC 9162 verifications make (2.1.3.2, 2.1.4.2): each hash
    of ``path`` with whether it is the left sibling (True: node_hash(p, r)) or the right
    one, from node ``fn`` of last node ``sn``; ProofError when the path is too long or too
    short for the tree (raised as the walk ends, so consume it whole)."""
    for p in path:
        if sn == 0:
            raise ProofError("the proof is too long")
        on_left = bool(fn & 1) or fn == sn
        yield p, on_left
        if on_left:
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that ``proof`` leads to from leaf hash ``leaf``."""
    _check_sizes(index, size)
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("hashes must be 32 bytes")
    r = leaf
    for p, on_left in _path_sides(proof, index, size - 1):
        r = node_hash(p, r) if on_left else node_hash(r, p)
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf hash ``leaf`` at ``index`` in
    the tree of ``size`` leaves whose root is ``root``."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("the inclusion proof leads to another root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: raise :class:`ProofError` unless the tree of ``first`` leaves with
    root ``first_root`` is a prefix of the tree of ``second`` leaves with ``second_root``."""
    if not 0 <= first <= second <= TREE_SIZE_MAX:
        raise ProofError(f"no consistency from {first} to {second}")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("hashes must be 32 bytes")
    if first == second:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if first_root != second_root:
            raise ProofError("the same size with two roots: a fork")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c, on_left in _path_sides(path[1:], fn, sn):
        if on_left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if fr != first_root or sr != second_root:
        raise ProofError("the consistency proof does not lead to both roots: a fork")
