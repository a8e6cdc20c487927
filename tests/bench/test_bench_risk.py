"""``centime bench risk`` on a tiny workload: every part measured, old and new side by side,
in the shape it prints. No timing is asserted: only that it measured, and that both engines
decided alike."""

from __future__ import annotations

import math

from centime.bench.risk import RiskBenchConfig, run_risk_bench


def test_the_risk_bench_measures_every_part() -> None:
    config = RiskBenchConfig(
        runs=1,
        decisions=150,
        threads=2,
        seed=5,
        warmup_events=1_500,
        batch_size=300,
        customers=150,
        entities=2_000,
    )
    result = run_risk_bench(config)
    for summaries in (*result.decide.values(), *result.parts.values()):
        assert len(summaries) == 1
        p50, p99, per_s = summaries[0]
        assert 0 < p50 <= p99 and per_s > 0
    assert len(result.parts) == 4
    assert all(result.batch_per_s[name][0] > 0 for name in ("new", "old"))
    assert result.threads_per_s[0] > 0
    assert result.same == [(450, 450)]  # the new engine decides as the old one did
    assert set(result.bytes_per_entity) == {"new", "old"}
    assert all(v > 0 and not math.isnan(v) for v in result.bytes_per_entity.values())
    lines = result.lines()
    assert lines[0].startswith(f"model {result.model_version}; risk state ")
    assert any("batches of 300" in line and "old" in line for line in lines)
    assert any("2 threads on one engine" in line for line in lines)
    assert any(line.startswith("memory, new") for line in lines)
    if result.native_trees:  # the model call alone, native trees against the Booster
        for name in ("native", "booster"):
            assert len(result.model_batch_us[name]) == 1 and result.model_batch_us[name][0] > 0
            assert len(result.model_row[name]) == 1 and result.model_row[name][0][0] > 0
        assert any(line.startswith("model call, batch of 300: native trees") for line in lines)
        assert any(line.startswith("model call, 1 row: native trees") for line in lines)
    else:
        assert any("the Booster only" in line for line in lines)
