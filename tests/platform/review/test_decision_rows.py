"""A batch's decision rows made before its unit (``unstamped_rows``) are the rows
``decision_row`` makes, stamped by the unit (``record_unstamped``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from centime.ledger.units import UnitContext
from centime.platform.context import Operation, Platform
from centime.platform.review.decisions import (
    DECISION_COLUMNS,
    Subject,
    decision_row,
    record_decisions,
    record_unstamped,
    unstamped_rows,
)
from centime.risk.types import Action, Decision, RiskEvent

texts = st.none() | st.text(max_size=8)
events = st.builds(
    RiskEvent,
    st.integers(0, 2**62),
    st.sampled_from(["payment", "transfer"]),
    st.integers(0, 2**62),
    st.sampled_from(["USD", "EUR"]),
    st.text(min_size=1, max_size=8),
    st.text(min_size=1, max_size=8),
    texts,
    texts,
    texts,
)
decisions = st.builds(
    Decision,
    st.sampled_from(list(Action)),
    st.integers(0, 99),
    st.lists(st.text(max_size=6), max_size=3).map(tuple),
    st.none() | st.text(max_size=6),
    st.text(max_size=6),
)


@given(
    st.lists(st.tuples(events, st.integers(0, 4), st.integers(1, 2**62)), max_size=20),
    st.lists(decisions, min_size=1, max_size=5),
    st.integers(1, 2**40).map(lambda n: n << 13),  # ids are never 0
    st.integers(0, 2**62),
)
def test_unstamped_rows_are_decision_rows_but_their_time(
    asked: list[tuple[RiskEvent, int, int]],
    shared: list[Decision],
    first_id: int,
    now_ns: int,
) -> None:
    # Decisions repeat (a batch shares its ALLOW objects) and are picked by position.
    screened = [
        (index, event, shared[pick % len(shared)], subject_id)
        for index, (event, pick, subject_id) in enumerate(asked)
    ]
    rows = unstamped_rows("payment", first_id, screened)
    expected = [
        decision_row(
            now_ns,
            event,
            chosen,
            Subject("payment", subject_id, "customer", 1),
            decision_id=first_id | index,
        )
        for index, event, chosen, subject_id in screened
    ]
    # record_unstamped writes (now_ns, *row) into created_ns first, then the other columns.
    columns = [c.strip() for c in DECISION_COLUMNS.split(",")]
    stamped = [
        dict(
            zip(
                ["created_ns", *(c for c in columns if c != "created_ns")],
                (now_ns, *r),
                strict=True,
            )
        )
        for r in rows
    ]
    assert stamped == [dict(zip(columns, row, strict=True)) for row in expected]


def test_record_unstamped_writes_what_record_decisions_writes(platform: Platform) -> None:
    event = RiskEvent(5, "payment", 1_000, "USD", "cus_a", "mer_b", "dev", None, None)
    allow = Decision(Action.ALLOW, 3, (), "m1", "r1")
    block = Decision(Action.BLOCK, 97, ("velocity",), None, "r1")
    screened = [
        (0, event, allow, 11),
        (1, event, block, 12),
        (2, event._replace(ip="1.2.3.4"), allow, 13),
    ]
    rows = unstamped_rows("payment", 1 << 20, screened)
    platform.execute(Operation(lambda ctx: record_unstamped(ctx, rows), 0))
    subject = Subject("payment", 0, "customer", 1)
    made = [
        decision_row(0, e, d, subject._replace(id=s), decision_id=(2 << 20) | i)
        for i, e, d, s in screened
    ]

    def unit(ctx: UnitContext) -> None:
        record_decisions(ctx, [(r[0], ctx.now_ns, *r[2:]) for r in made])

    platform.execute(Operation(unit, 0))
    with platform.read() as fetch:
        stored = fetch(f"SELECT {DECISION_COLUMNS} FROM risk_decisions ORDER BY id", ())
    first, second = stored[:3], stored[3:]
    assert [r[0] - (1 << 20) for r in first] == [0, 1, 2]
    # The same but their ids and times (each unit stamps its own).
    assert [r[2:] for r in first] == [r[2:] for r in second]
