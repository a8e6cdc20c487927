"""``centime bench risk`` on a tiny workload: every part measured, in the shape it prints.
No timing is asserted: only that it measured."""

from __future__ import annotations

import math

from centime.bench.risk import RiskBenchConfig, run_risk_bench


def test_the_risk_bench_measures_every_part() -> None:
    config = RiskBenchConfig(
        runs=1, decisions=150, threads=2, seed=5, warmup_events=1_500, batch_size=300, customers=150
    )
    result = run_risk_bench(config)
    for part in (result.decide_us, result.features_us, result.model_us):
        assert len(part) == 1
        p50, p99, per_s = part[0]
        assert 0 < p50 <= p99 and per_s > 0
    assert result.batch_per_s[0] > 0 and result.threads_per_s[0] > 0
    assert result.raw_us[0] > 0 and result.sklearn_us[0] > 0
    lines = result.lines()
    assert lines[0].startswith(f"model {result.model_version}; medians of 1 runs")
    assert any("batches of 300" in line for line in lines)
    assert any("2 threads, one engine" in line for line in lines)
    assert not any(math.isnan(v) for v in (result.raw_us[0], result.sklearn_us[0]))
