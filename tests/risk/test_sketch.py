"""Pair counts: exact up to the limit, then a count-min sketch that never undercounts and
whose overcount stays small; nothing evicted."""

from __future__ import annotations

import random

from centime.risk.sketch import BoundedMap, CountMin, PairCounts


def test_exact_up_to_the_limit_then_the_sketch() -> None:
    counts = PairCounts(exact_max=3, width=1 << 12)
    for key in ("a", "b", "a", "c"):
        counts.add(key)
    assert (counts.get("a"), counts.get("b"), counts.get("c"), counts.get("zz")) == (2, 1, 1, 0)
    assert counts.sketch is None and len(counts) == 3
    assert counts.add("d") == 0 and counts.add("d") == 1  # beyond: counted in the sketch
    assert counts.sketch is not None and counts.get("d") == 2 and len(counts) == 3
    assert counts.add("a") == 2  # an exact pair stays exact


def test_a_sketch_never_undercounts_and_rarely_overcounts() -> None:
    rng = random.Random(5)
    sketch = CountMin(width=1 << 18, depth=4)
    truth: dict[tuple[str, str], int] = {}
    for _ in range(50_000):
        key = (f"cus{rng.randrange(20_000)}", f"mer{rng.randrange(50)}")
        truth[key] = truth.get(key, 0) + 1
        sketch.add(key)
    assert all(sketch.get(k) >= n for k, n in truth.items())
    # About 49,000 pairs in 262,144 counters a row (load 0.19): a pair's count is inflated
    # only when all 4 of its counters are shared, (1 - e**-0.19)**4 = 0.1%.
    wrong = sum(sketch.get(k) != n for k, n in truth.items())
    assert wrong / len(truth) < 0.01
    unseen = [(f"new{i}", "mer0") for i in range(2_000)]
    assert sum(sketch.get(k) > 0 for k in unseen) / len(unseen) < 0.01


def test_a_bounded_map_is_exact_up_to_its_limit_then_shares_states() -> None:
    counts: BoundedMap[list[int]] = BoundedMap(lambda: [0], exact_max=1_000, slots=1 << 12)
    for i in range(4_000):
        counts.get_or_create(f"key{i}")[0] += 1
    assert len(counts) == 1_000 and counts.shared_states <= 1 << 12
    assert all(counts.get(f"key{i}") == [1] for i in range(1_000))  # exact: never evicted
    beyond = [counts.get(f"key{i}") for i in range(1_000, 4_000)]
    assert all(state is not None and state[0] >= 1 for state in beyond)  # never low
    # 3,000 keys in 4,096 slots: a key reads alone with probability (1 - 1/4096)**2999,
    # about 48% (docs/risk.md quotes this measured share).
    alone = sum(state is not None and state[0] == 1 for state in beyond) / len(beyond)
    assert 0.40 < alone < 0.56
    assert counts.get("never-seen") is None or counts.get("never-seen") != [0]
