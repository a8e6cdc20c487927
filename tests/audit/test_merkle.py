"""The Merkle tree: RFC 6962 test vectors, and every proof checked by the independent
verifier in rfc9162.py for random tree sizes and random append patterns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

from . import rfc9162


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes."""
    return CompactRange.empty().extended(leaf_hashes).root() if leaf_hashes else EMPTY_ROOT


class MemoryTree:
    """Every complete subtree of a tree in memory: the node source of these tests' proofs,
    built with the same appends as the stored tree."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = []
        self.range = CompactRange.empty()

    @property
    def size(self) -> int:
        return self.range.size

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, list[bytes]]]:
        created = self.range.append(list(leaf_hashes))
        for level, first, row in created:
            if level == len(self.levels):
                self.levels.append([])
            if first != len(self.levels[level]):
                raise RuntimeError("nodes appended out of order")
            self.levels[level].extend(row)
        return created

    def root(self) -> bytes:
        return self.range.root()

    def fetch(self, nodes: Sequence[Node]) -> dict[Node, bytes]:
        return {
            (level, index): self.levels[level][index]
            for level, index in nodes
            if level < len(self.levels) and index < len(self.levels[level])
        }


# The RFC 6962 reference test data (certificate-transparency / transparency-dev/merkle
# testonly/constants.go and proof/verify_test.go): eight leaf inputs, the roots of the trees
# of 0..8 of them, and proofs.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
H = bytes.fromhex
INCLUSION = [  # (leaf index, tree size, path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _tree(leaf_inputs: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    tree.append(leaf_hash(d) for d in leaf_inputs)
    return tree


def test_rfc6962_roots_for_every_size() -> None:
    assert ROOTS[0] == EMPTY_ROOT
    for size in range(len(LEAVES) + 1):
        hashes = [leaf_hash(d) for d in LEAVES[:size]]
        assert root_of(hashes) == ROOTS[size]
        assert rfc9162.mth(LEAVES[:size]) == ROOTS[size]


def test_rfc6962_inclusion_vectors() -> None:
    tree = _tree(LEAVES)
    for index, size, expected in INCLUSION:
        proof = inclusion_proof(index, size, tree.fetch)
        assert proof == [H(h) for h in expected]
        leaf = leaf_hash(LEAVES[index])
        verify_inclusion(index, size, leaf, proof, ROOTS[size])
        assert rfc9162.verify_inclusion(index, size, leaf, proof, ROOTS[size])


def test_rfc6962_consistency_vectors() -> None:
    tree = _tree(LEAVES)
    for first, second, expected in CONSISTENCY:
        proof = consistency_proof(first, second, tree.fetch)
        assert proof == [H(h) for h in expected]
        verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)
        assert rfc9162.verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


def test_corrupted_proofs_are_refused() -> None:
    tree = _tree(LEAVES)
    proof = inclusion_proof(5, 8, tree.fetch)
    leaf = leaf_hash(LEAVES[5])
    bad_proofs = [
        proof[:-1],
        [*proof, ROOTS[8]],
        [ROOTS[8], *proof],
        [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]],
    ]
    for bad in bad_proofs:
        with pytest.raises(ProofError):
            verify_inclusion(5, 8, leaf, bad, ROOTS[8])
    for index, size in ((4, 8), (6, 8), (5, 16), (5, 4)):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof, ROOTS[8])
    cproof = consistency_proof(6, 8, tree.fetch)
    with pytest.raises(ProofError):
        verify_consistency(6, 8, ROOTS[7], ROOTS[8], cproof)
    with pytest.raises(ProofError):
        verify_consistency(6, 8, ROOTS[8], ROOTS[6], cproof)
    with pytest.raises(ProofError):
        verify_consistency(6, 8, ROOTS[6], ROOTS[8], cproof[:-1])


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=12),
    data=st.data(),
)
def test_every_proof_verifies_for_random_sizes(chunks: list[int], data: st.DataObject) -> None:
    """Grow a tree in random chunks (as batches do); every root, every sampled inclusion and
    consistency proof agrees with the RFC's definitions and the independent verifier."""
    inputs = [i.to_bytes(4, "big") for i in range(sum(chunks))]
    tree = MemoryTree()
    done = 0
    for chunk in chunks:
        tree.append(leaf_hash(d) for d in inputs[done : done + chunk])
        done += chunk
        assert tree.root() == rfc9162.mth(inputs[:done])
    size = tree.size
    for _ in range(5):
        n = data.draw(st.integers(min_value=1, max_value=size))
        m = data.draw(st.integers(min_value=0, max_value=n - 1))
        proof = inclusion_proof(m, n, tree.fetch)
        assert proof == rfc9162.path(m, inputs[:n])
        assert rfc9162.verify_inclusion(m, n, leaf_hash(inputs[m]), proof, rfc9162.mth(inputs[:n]))
        first = data.draw(st.integers(min_value=0, max_value=n))
        cproof = consistency_proof(first, n, tree.fetch)
        if 0 < first < n:
            assert cproof == rfc9162.subproof(first, inputs[:n], True)
        assert rfc9162.verify_consistency(
            first, n, rfc9162.mth(inputs[:first]), rfc9162.mth(inputs[:n]), cproof
        )


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=600))
def test_compact_range_appends_from_its_peaks_alone(start: int, extra: int) -> None:
    """A range of any size (here made of fake peaks) appends like a fresh one would: the new
    peaks and root equal the fold of old peaks with the new leaves' subtrees."""
    peaks = [bytes([level]) * 32 for level in range(start.bit_count())]
    tree = CompactRange(start, peaks)
    leaves = [i.to_bytes(32, "big") for i in range(extra)]
    created = tree.append(leaves)
    assert tree.size == start + extra
    assert len(tree.peaks) == tree.size.bit_count()
    if extra:
        assert created[0] == (0, start, leaves)
