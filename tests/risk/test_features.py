"""Online features: only what was known before the event, bounded state, the signals."""

from __future__ import annotations

import numpy as np
import pytest

from centime.risk.features import FEATURE_INDEX, FEATURE_NAMES, FeatureConfig, OnlineFeatures
from centime.risk.types import RiskEvent

S = 1_000_000_000
T0 = 1_767_225_600 * S
USD = 1_000_000


def ev(
    t_s: int,
    kind: str,
    amount_usd: int,
    payer: str,
    payee: str,
    device: str | None = None,
    instrument: str | None = None,
    amount: int | None = None,
) -> RiskEvent:
    value = amount if amount is not None else amount_usd * USD
    return RiskEvent(
        T0 + t_s * S, kind, value, "USD", payer, payee, device, "198.18.0.1", instrument
    )


def f(row: np.ndarray, name: str) -> float:
    return float(row[FEATURE_INDEX[name]])


def test_a_row_sees_only_what_came_before_its_event() -> None:
    features = OnlineFeatures()
    first = features.process(ev(0, "topup", 50, "a", "a", "dev1", "card1"))
    assert first.dtype == np.float64 and first.shape == (len(FEATURE_NAMES),)
    assert f(first, "payer_n_1h") == 0 and f(first, "device_n_24h") == 0
    assert f(first, "payer_balance") == 0
    second = features.process(ev(10, "topup", 50, "a", "a", "dev1", "card1"))
    assert f(second, "payer_n_1m") == 1 and f(second, "payer_sum_1m") == 50.0
    assert f(second, "instrument_n_30d") == 1 and f(second, "payer_balance") == 50.0
    # compute alone changes nothing: the same event computed twice gives the same row
    probe = ev(20, "payment", 1, "a", "shop")
    assert np.array_equal(features.compute(probe), features.compute(probe))


def test_windows_forget_with_time() -> None:
    features = OnlineFeatures()
    features.process(ev(0, "payment", 2, "a", "shop"))
    later = features.compute(ev(2 * 3_600, "payment", 2, "a", "shop"))
    assert f(later, "payer_n_1h") == 0 and f(later, "payer_n_24h") == 1
    much_later = features.compute(ev(31 * 86_400, "payment", 2, "a", "shop"))
    assert f(much_later, "payer_n_30d") == 0


def test_drain_first_payee_new_device_and_pass_through() -> None:
    features = OnlineFeatures()
    features.process(ev(0, "topup", 100, "a", "a", "dev1", "card1"))
    features.process(ev(60, "transfer", 10, "a", "friend", "dev1"))
    row = features.process(ev(120, "transfer", 85, "a", "stranger", "dev2"))
    assert f(row, "pair_first") == 1 and f(row, "payer_device_new") == 1
    assert f(row, "drain_ratio") == 85 / 90
    assert f(row, "pass_through") == (10 + 85) / 100
    again = features.process(ev(180, "transfer", 1, "a", "stranger", "dev2"))
    assert f(again, "pair_first") == 0 and f(again, "pair_n") == 1
    assert f(again, "payer_device_new") == 0


def test_declines_carrier_and_structuring() -> None:
    features = OnlineFeatures()
    for i in range(3):
        features.process(ev(i, "topup_declined", 2, "a", "a", "dev1", f"card{i}"))
    row = features.compute(ev(5, "topup", 2, "a", "a", "dev1", "card9"))
    assert f(row, "payer_declines_1h") == 3 and f(row, "device_declines_24h") == 3
    features.process(ev(10, "topup_carrier", 45, "b", "b", "dev2", "phone1"))
    features.process(ev(20, "topup_carrier", 45, "b", "b", "dev2", "phone1"))
    row = features.process(ev(30, "payment", 90, "b", "vouchers"))
    assert f(row, "payer_carrier_30d") == 90 and f(row, "payer_carrier_ratio") == 0.9
    row = features.compute(ev(40, "payment", 1, "c", "vouchers"))
    assert f(row, "payee_carrier_in_7d") == 1
    near = ev(50, "transfer", 0, "d", "e", amount=249_990_000)  # just below the 250 limit
    assert f(features.process(near), "amount_near_limit") == 1
    row = features.compute(ev(60, "transfer", 0, "d", "e", amount=240_000_000))
    assert f(row, "payer_near_limit_24h") == 1 and f(row, "amount_round") == 1


def test_shared_devices_referrals_and_cycles() -> None:
    features = OnlineFeatures()
    for name in ("x1", "x2", "x3"):
        features.process(ev(0, "signup", 0, name, "head", "shared-dev"))
    row = features.compute(ev(1, "transfer", 5, "x1", "head", "shared-dev"))
    assert f(row, "payer_component") == 3 and f(row, "device_accounts") == 3
    assert f(row, "payee_referral_cluster") == 4 and f(row, "payee_referrals_24h") == 3
    features.process(ev(10, "transfer", 50, "p", "q"))
    features.process(ev(20, "transfer", 50, "q", "r"))
    row = features.compute(ev(30, "transfer", 50, "r", "p"))
    assert f(row, "cycle") == 1 and f(row, "pair_reverse") == 0


@pytest.mark.parametrize("native_state", [True, False])
def test_state_is_bounded_and_forgets_nobody(native_state: bool) -> None:
    """Beyond the exact limit keys share a fixed table of states (read high, never low);
    the keys held exactly are never evicted (the old LRU cap made a key restart). With the
    C state (when built) and the Python one."""
    config = FeatureConfig(exact_keys=50, max_graph_links=100, native_state=native_state)
    features = OnlineFeatures(config)
    features.process(ev(0, "topup", 10, "old", "old", "dev-old"))
    for i in range(200):
        features.process(ev(i + 1, "payment", 1, f"cus{i}", f"shop{i % 3}", f"dev{i}"))
    sizes = features.exact_sizes()
    for family in ("accounts", "payer", "device"):
        assert sizes[family] == 50  # exact ones; the others in at most RISK_SHARED_SLOTS states
    assert sizes["pairs"] == 201  # pairs too: exact, then a sketch
    assert features.holds_account("old") and features.holds_account("shop0")
    assert sizes["links"] <= 100
    row = features.compute(ev(300, "payment", 1, "old", "shop0", "dev-old"))
    assert f(row, "payer_balance") == 10 and f(row, "payer_n_30d") == 1  # remembered
    late = features.compute(ev(301, "payment", 1, "cus199", "shop0", "dev199"))
    assert f(late, "payer_n_30d") >= 1 and f(late, "payer_device_new") == 0  # never low
