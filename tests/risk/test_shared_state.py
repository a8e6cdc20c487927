"""The velocity counters in Redis: the same rows as in process (the real Redis; skipped,
saying why, when it cannot be reached), shared by two engines, pruned and expiring; the
window arithmetic against the in-process rings without Redis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from centime.clock import FakeClock
from centime.risk.engine import RiskEngine
from centime.risk.features import FeatureConfig, OnlineFeatures
from centime.risk.native import state_module
from centime.risk.rules import RulesFile
from centime.risk.shared_state import SUM_MAX, RedisVelocity, micro_units, parse_fields
from centime.risk.simulate import TYPOLOGIES, SimConfig, simulate
from centime.risk.types import Action, RiskEvent
from centime.risk.windows import STANDARD_WINDOWS, WindowSet

S = 1_000_000_000
T0 = 1_767_225_600 * S
VELOCITY_RULES = """
version = "test-velocity"
[bands]
review = 40
step_up = 70
block = 90
[lists]
[[rule]]
code = "payer_velocity"
action = "review"
types = ["payment"]
when = [["payer_n_1h", ">=", 2]]
"""


def payment(t_s: int, payer: str = "cus_1") -> RiskEvent:
    return RiskEvent(T0 + t_s * S, "payment", 2_000_000, "USD", payer, "mer_1", "dev_1", "ip_1")


@given(st.lists(st.tuples(st.integers(0, 40 * 86_400), st.integers(0, 10**9)), max_size=60))
def test_the_shared_arithmetic_reads_as_the_in_process_rings(
    gaps: list[tuple[int, int]],
) -> None:
    """Events in time order, read at each event and after: the same counts and sums (the
    rings sum major units as floats, the shared counters integer micro-units)."""
    shared = RedisVelocity(redis.Redis(), "unused:")  # add and read_into touch no server
    ring = WindowSet(STANDARD_WINDOWS)
    now = T0
    for gap_s, value in gaps:
        now += gap_s * S
        expected: list[float] = []
        ring.read_into(expected, now)
        found: list[float] = []
        shared.read_into(found, "payer", "k", now)
        assert found == pytest.approx(expected, abs=1e-6)
        ring.add(now, value / 10**6)
        shared.add("payer", "k", now, value, 6)


@pytest.mark.parametrize("native", [True, False], ids=["c-state", "python"])
def test_features_over_redis_are_the_in_process_rows(
    redis_prefix: tuple[str, str], native: bool
) -> None:
    """Rows over the shared counters, with the C state (when built) or the Python classes
    for the rest, equal the in-process rows, read whole and feature by feature."""
    url, prefix = redis_prefix
    if native and state_module() is None:
        pytest.skip("the C risk state is not built (make install builds it)")
    config = SimConfig(
        customers=120,
        merchants=8,
        days=2,
        seed=21,
        fraud_per_day_per_k=dict.fromkeys(TYPOLOGIES, 10.0),
    )
    events = sorted((e.event for e in simulate(config)), key=lambda e: e.timestamp_ns)[:1500]
    local = OnlineFeatures(FeatureConfig(native_state=False))
    shared = OnlineFeatures(
        FeatureConfig(native_state=native), velocity=RedisVelocity.from_url(url, prefix)
    )
    assert (shared.native is not None) is native
    for start in range(0, len(events), 64):
        batch = events[start : start + 64]
        expected = [local.process(e) for e in batch]
        shared.load(batch)
        found = []
        for i, event in enumerate(batch):
            row = shared.row(event)
            singly = [row[index] for index in range(len(expected[i]))]  # each family lazily
            found.append(np.array(row.all()))
            np.testing.assert_allclose(singly, expected[i], rtol=1e-9, atol=1e-6)
            shared.update(event)
        shared.store()
        np.testing.assert_allclose(np.vstack(found), np.vstack(expected), rtol=1e-9, atol=1e-6)
    assert len(shared.payer_windows) == 0  # the Python classes' velocity windows: unused


def test_two_engines_screen_with_each_others_events(
    redis_prefix: tuple[str, str], tmp_path: Path
) -> None:
    url, prefix = redis_prefix
    (tmp_path / "rules.toml").write_text(VELOCITY_RULES)
    clock = FakeClock(T0 + 3_600 * S)

    def engine() -> RiskEngine:
        features = OnlineFeatures(velocity=RedisVelocity.from_url(url, prefix))
        return RiskEngine(features, RulesFile(tmp_path / "rules.toml"), None, clock)

    first, second = engine(), engine()
    assert first.decide(payment(0)).action is Action.ALLOW  # cus_1's first payment in the hour
    assert second.decide(payment(1)).action is Action.ALLOW  # its second: one seen before
    third = first.decide(payment(2))  # one counted by each engine: the rule fires
    assert third.action is Action.REVIEW and third.reasons == ("payer_velocity",)
    batch = second.decide_many([payment(3, "cus_2"), payment(4)])
    assert [d.action for d in batch] == [Action.ALLOW, Action.REVIEW]


def test_the_hashes_expire_and_drop_the_buckets_left_behind(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    velocity = RedisVelocity(client, prefix)
    velocity.load([payment(0)])
    velocity.add("payer", "cus_1", T0, 2_000_000, 6)
    velocity.store()
    name = f"{prefix}v:payer:cus_1"
    assert 30 * 86_400 < client.ttl(name) <= 31 * 86_400
    fields_then = set(client.hkeys(name))
    later = T0 + 40 * 86_400 * S  # past every window
    velocity.load([payment(40 * 86_400)])
    velocity.add("payer", "cus_1", later, 10_000, 4)  # one won
    velocity.store()
    assert not fields_then & set(client.hkeys(name))  # only the new buckets remain
    found: list[float] = []
    velocity.load([payment(40 * 86_400)])
    velocity.read_into(found, "payer", "cus_1", later)
    assert found == [1.0, 1.0] * len(STANDARD_WINDOWS)


@given(st.integers(0, 2**63 - 1), st.integers(0, 18))
def test_micro_units_are_integers_cut_below_a_millionth(amount: int, scale: int) -> None:
    micro = micro_units(amount, scale)
    assert type(micro) is int and 0 <= micro <= SUM_MAX
    if micro < SUM_MAX:  # exactly the millionths of the major unit, finer digits cut
        assert micro * 10**scale <= amount * 10**6 < (micro + 1) * 10**scale


def test_a_sum_that_would_pass_64_bits_stays_and_the_count_goes_on(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    velocity = RedisVelocity(client, prefix)
    velocity.load([payment(0)])
    velocity.add("payer", "cus_1", T0, 2**63 - 1, 0)  # the largest amount, in whole units
    velocity.store()
    velocity.load([payment(1)])
    velocity.add("payer", "cus_1", T0 + S, 5, 0)  # Redis refuses this sum: no error raised
    velocity.store()
    velocity.load([payment(1)])
    found: list[float] = []
    velocity.read_into(found, "payer", "cus_1", T0 + S)
    assert found[:2] == [2.0, SUM_MAX / 10**6]


def test_a_hash_is_read_exactly_and_fields_of_no_window_are_left_out(
    redis_prefix: tuple[str, str],
) -> None:
    """The read script parses the fields in Redis: a sum past 2^53 comes back digit for
    digit, and fields the counters never write (another name, a window not configured)
    are ignored, not misread."""
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    name = f"{prefix}v:payer:cus_1"
    big = 2**63 - 7
    client.hset(name, mapping={"0:5": 3, "0:5s": big, "1:-2s": 9, "7:1": 4, "junk": 1, "0:x": 2})
    velocity = RedisVelocity(client, prefix, STANDARD_WINDOWS[:2])
    velocity.load([payment(0)])
    assert velocity._loaded[("payer", "cus_1")] == [{5: [3, big]}, {-2: [0, 9]}]


def test_a_key_of_another_type_is_an_error_and_the_other_keys_are_written(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    client.set(f"{prefix}v:payee:mer_1", "not a hash")
    velocity = RedisVelocity(client, prefix)
    velocity.load([])
    velocity.add("payee", "mer_1", T0, 2_000_000, 6)  # the refused key first
    velocity.add("payer", "cus_1", T0, 2_000_000, 6)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        velocity.store()
    assert client.hlen(f"{prefix}v:payer:cus_1") == 2 * len(STANDARD_WINDOWS)


@given(
    st.dictionaries(
        st.tuples(st.integers(0, 4), st.integers(-(10**12), 10**12)),
        st.tuples(st.integers(0, 2**40), st.integers(0, SUM_MAX)),
        max_size=30,
    ),
    st.lists(st.sampled_from([b"junk", b"9:1", b"0:x", b"1:2ss", b":3", b"s"]), max_size=4),
)
def test_a_hash_parses_to_its_buckets_whatever_the_order_and_the_names_known(
    cells: dict[tuple[int, int], tuple[int, int]], strays: list[bytes]
) -> None:
    """HGETALL's flat list (sums before counts, fields of no window among them) parses to
    the buckets written, with the names cache empty or already holding every name."""
    flat: list[bytes] = []
    for (window, bucket), (count, total) in cells.items():
        flat += [f"{window}:{bucket}s".encode(), str(total).encode()]
        flat += [f"{window}:{bucket}".encode(), str(count).encode()]
    for stray in strays:
        flat += [stray, b"7"]
    expected: list[dict[int, list[int]]] = [{} for _ in range(5)]
    for (window, bucket), (count, total) in cells.items():
        expected[window][bucket] = [count, total]
    names: dict[bytes, tuple[int, int, int] | None] = {}
    assert parse_fields(flat, 5, names) == expected
    assert parse_fields(flat, 5, names) == expected  # every name known now
