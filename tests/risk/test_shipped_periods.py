"""The shipped model's legitimate flags per 7 days and after a warm-up (the cold start):
the arithmetic on a hand-made file counted by hand, its totals as a property, and the
command's lines recounted row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from centime.cli import app
from centime.clock import NS_PER_DAY, NS_PER_S
from centime.risk.model import DEFAULT_MODEL_DIR, load_model
from centime.risk.shipped import (
    LegitCounts,
    RowFlags,
    after_warm_up,
    legit_by_period,
    percent_text,
)
from centime.risk.simulate import read_csv
from centime.risk.train import build_rows
from tests.risk.test_backtest import foreign_file

T0 = 1_735_689_600 * NS_PER_S  # 2025-01-01 00:00:00 UTC
H = 3_600 * NS_PER_S

# (time after the first row, label); payments between made-up cards and shops
HAND_ROWS = [
    (0, 0),  # r0  days 0-6
    (1 * NS_PER_DAY + 10 * H, 0),  # r1
    (2 * NS_PER_DAY, 1),  # r2  fraud
    (7 * NS_PER_DAY - NS_PER_S, 0),  # r3  the last second of day 6
    (7 * NS_PER_DAY, 0),  # r4  days 7-13 start exactly here
    (9 * NS_PER_DAY, 0),  # r5
    (10 * NS_PER_DAY, 1),  # r6  fraud
    (16 * NS_PER_DAY, 0),  # r7  days 14-16: the file ends on day 16
]
FLAGGED = {0, 1, 2, 4}  # row numbers the policy is taken to flag ...
BLOCKED = {0, 2}  # ... and to block


def _hand_file(path: Path) -> None:
    with path.open("w") as f:
        f.write("timestamp,type,amount,asset,payer,payee,label\n")
        for i, (offset_ns, label) in enumerate(HAND_ROWS):
            f.write(f"{T0 + offset_ns},payment,{100 + i},USD,card-{i % 3},shop-{i % 2},{label}\n")


def _hand_flags(path: Path) -> RowFlags:
    data = build_rows(read_csv(path), 7 * 86_400)
    rows = len(data.labels)
    flagged = np.array([i in FLAGGED for i in range(rows)])
    blocked = np.array([i in BLOCKED for i in range(rows)])
    return RowFlags(
        data.timestamps_ns - int(data.timestamps_ns[0]), data.labels == 0, flagged, blocked
    )


def test_weekly_shares_of_a_hand_made_file(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    _hand_file(path)
    rows = _hand_flags(path)
    assert rows.offsets_ns.tolist() == [offset for offset, _ in HAND_ROWS]
    periods = legit_by_period(rows)
    # days 0-6: legit r0 r1 r3, flagged r0 r1, blocked r0; days 7-13: r4 r5, flagged r4;
    # days 14-16 (3 days): r7, nothing flagged
    assert periods == [
        LegitCounts(0, 7, 3, 2, 1),
        LegitCounts(7, 7, 2, 1, 0),
        LegitCounts(14, 3, 1, 0, 0),
    ]
    shares = [(percent_text(p.flagged, p.legit), percent_text(p.blocked, p.legit)) for p in periods]
    assert shares == [("66.67%", "33.33%"), ("50.00%", "0.00%"), ("0.00%", "0.00%")]
    # from day 7: r4 r5 r7 (r6 is fraud), r4 flagged; from day 9: r5 r7, none; after day 16: none
    assert after_warm_up(rows, 7) == LegitCounts(7, 10, 3, 1, 0)
    assert after_warm_up(rows, 9) == LegitCounts(9, 8, 2, 0, 0)
    assert after_warm_up(rows, 17) == LegitCounts(17, 0, 0, 0, 0)


def test_percent_text_rounds_half_up_in_integers() -> None:
    assert percent_text(9_886, 66_839) == "14.79%"  # the handbook file's first week
    assert percent_text(1, 3) == "33.33%" and percent_text(2, 3) == "66.67%"
    assert percent_text(1, 800) == "0.13%"  # 0.125% exactly: half up
    assert percent_text(1, 1_000_000) == "0.00%" and percent_text(7, 7) == "100.00%"
    assert percent_text(0, 0) == "-"


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 60 * NS_PER_DAY), st.booleans(), st.booleans(), st.booleans()),
        min_size=1,
        max_size=200,
    ),
    warm_up_weeks=st.integers(0, 10),
)
def test_periods_add_up_to_the_totals(
    rows: list[tuple[int, bool, bool, bool]], warm_up_weeks: int
) -> None:
    offsets = np.array([r[0] for r in rows], dtype=np.int64)
    legit, flagged, blocked = (np.array([r[k] for r in rows], dtype=bool) for k in (1, 2, 3))
    blocked &= flagged  # a policy blocks only what it flags
    periods = legit_by_period(RowFlags(offsets, legit, flagged, blocked))
    assert sum(p.legit for p in periods) == int(legit.sum())
    assert sum(p.flagged for p in periods) == int((legit & flagged).sum())
    assert sum(p.blocked for p in periods) == int((legit & blocked).sum())
    assert sum(p.days for p in periods) == int(offsets.max()) // NS_PER_DAY + 1
    assert all(p.blocked <= p.flagged <= p.legit for p in periods)
    warm = after_warm_up(RowFlags(offsets, legit, flagged, blocked), 7 * warm_up_weeks)
    later = periods[warm_up_weeks:]
    assert (warm.legit, warm.flagged, warm.blocked) == (
        sum(p.legit for p in later),
        sum(p.flagged for p in later),
        sum(p.blocked for p in later),
    )


def test_score_prints_the_weekly_shares_and_the_warm_up(tmp_path: Path) -> None:
    path = tmp_path / "foreign.csv"
    foreign_file(path)
    result = CliRunner().invoke(app, ["risk", "score", str(path), "--warm-up-days", "10"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "flagged per 7 days" in line)
    assert lines[start].startswith(
        "  legitimate rows flagged per 7 days from the first row (2025-01-01 "
    )
    # recounted one row at a time, the shipped model's scores against its thresholds
    model = load_model(DEFAULT_MODEL_DIR)
    assert model is not None and model.policy is not None
    data = build_rows(sorted(read_csv(path), key=lambda e: e.event.timestamp_ns), 7 * 86_400)
    first_ns = int(data.timestamps_ns[0])
    last_day = (int(data.timestamps_ns[-1]) - first_ns) // NS_PER_DAY  # 22 or 23: 24 days
    counts = [[0, 0, 0] for _ in range(4)]  # days 0-6, 7-13, 14-20, 21-last
    warm = [0, 0, 0]
    for t, label, score in zip(
        data.timestamps_ns, data.labels, model.scores(data.rows), strict=True
    ):
        if label == 1:
            continue
        day = (int(t) - first_ns) // NS_PER_DAY
        for tally in (counts[day // 7], warm) if day >= 10 else (counts[day // 7],):
            tally[0] += 1
            tally[1] += score >= model.policy.review
            tally[2] += score >= model.policy.block
    expected = [
        f"    days {first}-{last}: {f:,} of {n:,} ({percent_text(f, n)}),"
        f" blocked {b:,} ({percent_text(b, n)})"
        for (first, last), (n, f, b) in zip(
            ((0, 6), (7, 13), (14, 20), (21, last_day)), counts, strict=True
        )
    ]
    assert lines[start + 1 : start + 5] == expected
    n, f, b = warm
    assert lines[start + 5] == (
        f"  after a 10-day warm-up (day 10 onwards): {f:,} of {n:,} ({percent_text(f, n)}),"
        f" blocked {b:,} ({percent_text(b, n)})"
    )
