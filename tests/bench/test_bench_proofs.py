"""The proof benchmark builds a real tiled tree and verifies every proof it times."""

from centime.bench.proofs import bench_proofs


def test_small_tree_proofs_verify() -> None:
    # 70,000 leaves cross a 65,536-leaf build chunk and several 256-node tiles.
    timings = bench_proofs(70_000, 20, seed=3)
    assert timings.leaves == 70_000
    assert timings.proofs == 20
    for median, p99, worst in (timings.inclusion_ms, timings.consistency_ms):
        assert 0 < median <= p99 <= worst
