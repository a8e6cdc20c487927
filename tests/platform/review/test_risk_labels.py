"""The label store: labels validated, stored once per (source, id), told to the screen with
their arrival time; an analyst's case label joins it; a restart replays the recent ones."""

from __future__ import annotations

from pathlib import Path

from centime import usecases
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.review.service import InReview, label_case
from centime.platform.risk_labels import (
    LabelIn,
    Recorded,
    import_labels,
    record_labels,
    replay_labels,
)
from centime.risk.types import Action

from ...risk.screens import ScriptedScreen, decision
from ..world import customer, fund, merchant

S = 1_000_000_000


def chargeback(external_id: str, event_ns: int, **kw: object) -> LabelIn:
    fields: dict[str, object] = {
        "source": "chargeback",
        "external_id": external_id,
        "event_ns": event_ns,
        "payer": "cus_1",
        "payee": "mer_9",
        "label": "fraud",
    }
    fields.update(kw)
    return LabelIn(**fields)  # type: ignore[arg-type]


def test_labels_are_stored_once_and_told_to_the_screen(
    platform: Platform, clock: FakeClock
) -> None:
    screen = ScriptedScreen()
    platform.screen = screen
    now = clock.now_ns()
    first = record_labels(
        platform,
        [
            chargeback("cb-1", now - 86_400 * S),
            chargeback("cb-2", now - 3_600 * S, label="not_fraud"),
        ],
    )
    assert first == Recorded(2, 0)
    again = record_labels(platform, [chargeback("cb-1", now - 86_400 * S)])  # a retry
    assert again == Recorded(0, 1)
    assert [(x.payer, x.fraud, x.arrived_ns, x.source) for x in screen.labels] == [
        ("cus_1", True, now, "chargeback"),
        ("cus_1", False, now, "chargeback"),
    ]
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM risk_labels", ())[0][0] == 2


def test_bad_labels_change_nothing(platform: Platform, clock: FakeClock) -> None:
    screen = ScriptedScreen()
    platform.screen = screen
    now = clock.now_ns()
    for bad, words in (
        (chargeback("x", now, label="maybe"), "label is one of"),
        (chargeback("x", now, source="rumour"), "source is one of"),
        (chargeback("", now), "id is 1 to"),
        (chargeback("x", now, payer=""), "payer is 1 to"),
        (chargeback("x", now + S), "not in the future"),  # an event in the future
        (chargeback("x", now - S, arrived_ns=now - 2 * S), "after its event"),
    ):
        refused = record_labels(platform, [chargeback("ok", now - S), bad])
        assert isinstance(refused, Refusal) and refused.code is Code.INVALID_REQUEST
        assert words in refused.detail and refused.detail.startswith("label 1:")
    assert isinstance(record_labels(platform, []), Refusal)
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM risk_labels", ())[0][0] == 0
    assert screen.labels == []


def test_an_analysts_label_joins_the_store_and_a_restart_replays_it(
    platform: Platform, clock: FakeClock
) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000)
    platform.screen = ScriptedScreen(lambda e: decision(Action.REVIEW, "odd", score=80))
    review = usecases.pay(platform, usecases.PaymentRequest(ada.id, shop.id, "USD", 500))
    assert isinstance(review, InReview)
    screen = ScriptedScreen()
    platform.screen = screen
    clock.advance(3_600)
    assert not isinstance(label_case(platform, review.case_id, "fraud"), Refusal)
    assert not isinstance(label_case(platform, review.case_id, "fraud"), Refusal)  # again
    assert len(screen.labels) == 1
    told = screen.labels[0]
    assert told.fraud and told.source == "analyst" and told.arrived_ns == clock.now_ns()
    assert told.payer.startswith("cus_") and told.payee.startswith("mer_")
    restarted = ScriptedScreen()
    platform.screen = restarted
    assert replay_labels(platform) == 1 and restarted.labels == [told]
    clock.advance(31 * 86_400)  # older than the longest window: not replayed
    assert replay_labels(platform) == 0


def test_a_labelled_file_imports_once(platform: Platform, clock: FakeClock, tmp_path: Path) -> None:
    screen = ScriptedScreen()
    platform.screen = screen
    now = clock.now_ns()
    path = tmp_path / "labels.csv"
    path.write_text(
        "timestamp,type,amount,asset,payer,payee,label,arrived\n"
        f"{now - 9 * 86_400 * S},payment,5000000,USD,C1,T1,1,{now - 2 * 86_400 * S}\n"
        f"{now - 8 * 86_400 * S},payment,7000000,USD,C2,T1,0,\n"
    )
    assert import_labels(platform, path, "import") == Recorded(2, 0)
    assert import_labels(platform, path, "import") == Recorded(0, 2)
    assert [(x.payer, x.fraud, x.arrived_ns) for x in screen.labels] == [
        ("C1", True, now - 2 * 86_400 * S),
        ("C2", False, now),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"timestamp,type,amount,asset,payer,payee,label\n{now + 86_400 * S},payment,5,USD,C1,T1,1\n"
    )
    refused = import_labels(platform, bad, "import")
    assert isinstance(refused, Refusal) and refused.detail.startswith("line 2:")
