"""The label store: what became known about earlier events, and when (docs/risk-operations.md).

Labels arrive from analysts (a case labelled in the review queue), from the operator
(``POST /v1/risk/labels``: chargebacks and disputes its processors report; ``centime risk
label FILE.csv``), each with its ARRIVAL time: when the platform learnt it (now, for the API
and analysts; the file's ``arrived`` column, else the import's time, for a file). Stored in
``risk_labels``, idempotent by ``(source, external_id)``: a label sent twice is stored and
counted once. Each NEW label is told to the screen when it is a
:class:`~centime.risk.types.LabelSink` (the risk engine), so the label-feedback features
count it from its arrival on; at start, :func:`replay_labels` tells the engine the labels of
the last RISK_LABELS_REPLAY_DAYS days (its state is in process).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from centime.ledger.units import UnitContext
from centime.limits import (
    RISK_LABEL_ID_LEN_MAX,
    RISK_LABEL_PARTY_LEN_MAX,
    RISK_LABELS_BATCH_MAX,
    RISK_LABELS_REPLAY_DAYS,
)
from centime.risk.simulate import parse_timestamp
from centime.risk.types import RiskLabel

from .context import Operation, Platform
from .errors import Code, Refusal

__all__ = [
    "LABELS",
    "SOURCES",
    "LabelIn",
    "Recorded",
    "import_labels",
    "record_labels",
    "replay_labels",
    "tell_screen",
]

log = logging.getLogger(__name__)

SOURCES: Final = ("analyst", "chargeback", "dispute", "import")
LABELS: Final = ("fraud", "not_fraud")
NS_PER_DAY: Final = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class LabelIn:
    """A label as it comes in: whether the event of ``event_ns`` between ``payer`` and
    ``payee`` was ``fraud`` (or ``not_fraud``), from ``source`` (one of SOURCES), known
    there as ``external_id`` (with ``source``, what makes a label sent twice one label)."""

    source: str
    external_id: str
    event_ns: int
    payer: str
    payee: str
    label: str
    arrived_ns: int | None = None  # None: now (when the platform records it)


@dataclass(frozen=True, slots=True)
class Recorded:
    new: int  # stored now (and told to the screen)
    duplicates: int  # already stored under the same (source, external_id): unchanged


def _invalid(label: LabelIn, now_ns: int) -> str | None:
    if label.source not in SOURCES:
        return f"source is one of {', '.join(SOURCES)}"
    if label.label not in LABELS:
        return f"label is one of {', '.join(LABELS)}"
    if not 0 < len(label.external_id) <= RISK_LABEL_ID_LEN_MAX:
        return f"id is 1 to {RISK_LABEL_ID_LEN_MAX} characters"
    if not 0 < len(label.payer) <= RISK_LABEL_PARTY_LEN_MAX:
        return f"payer is 1 to {RISK_LABEL_PARTY_LEN_MAX} characters"
    if len(label.payee) > RISK_LABEL_PARTY_LEN_MAX:
        return f"payee is at most {RISK_LABEL_PARTY_LEN_MAX} characters"
    arrived = now_ns if label.arrived_ns is None else label.arrived_ns
    if not 0 <= label.event_ns <= arrived <= now_ns:
        return "a label arrives after its event and not in the future"
    return None


def record_labels(platform: Platform, labels: Sequence[LabelIn]) -> Recorded | Refusal:
    """Store ``labels`` (all or none: one bad label refuses the batch, naming it) and tell
    the screen the new ones."""
    if not 0 < len(labels) <= RISK_LABELS_BATCH_MAX:
        return Refusal(Code.INVALID_REQUEST, f"1 to {RISK_LABELS_BATCH_MAX} labels at a time")
    now_ns = platform.clock.now_ns()
    for i, label in enumerate(labels):
        problem = _invalid(label, now_ns)
        if problem:
            return Refusal(Code.INVALID_REQUEST, f"label {i}: {problem}")
    fresh: list[RiskLabel] = []

    def unit(ctx: UnitContext) -> Recorded:
        fresh.clear()
        for label in labels:
            arrived = ctx.now_ns if label.arrived_ns is None else label.arrived_ns
            stored = ctx.execute(
                "INSERT INTO risk_labels (source, external_id, event_ns, payer, payee, label,"
                " arrived_ns) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source, external_id) DO NOTHING",
                (
                    label.source,
                    label.external_id,
                    label.event_ns,
                    label.payer,
                    label.payee,
                    label.label,
                    arrived,
                ),
            )
            if stored:
                fresh.append(
                    RiskLabel(
                        label.event_ns,
                        label.payer,
                        label.payee,
                        label.label == "fraud",
                        arrived,
                        label.source,
                    )
                )
        return Recorded(len(fresh), len(labels) - len(fresh))

    recorded = platform.execute(Operation(unit, 0))
    if isinstance(recorded, Recorded):
        for risk_label in sorted(fresh, key=lambda x: x.arrived_ns):
            tell_screen(platform.screen, risk_label)
    return recorded


def tell_screen(screen: Any, label: RiskLabel) -> None:
    """Tell ``screen`` a label if it learns from them; its failure is logged, never raised
    (the label is stored: a restart replays it)."""
    sink = getattr(screen, "label", None)
    if sink is None:
        return
    try:
        sink(label)
    except Exception:
        log.exception("the risk screen failed to take a label on %s", label.payer)


def replay_labels(platform: Platform) -> int:
    """Tell the screen every label that arrived in the last RISK_LABELS_REPLAY_DAYS days, in
    arrival order (at start: the engine's features live in process); how many."""
    since = platform.clock.now_ns() - RISK_LABELS_REPLAY_DAYS * NS_PER_DAY
    after = (since - 1, 0)
    told = 0
    while True:
        with platform.read() as fetch:
            rows = fetch(
                "SELECT arrived_ns, id, event_ns, payer, payee, label, source FROM risk_labels"
                " WHERE arrived_ns > ? OR (arrived_ns = ? AND id > ?)"
                " ORDER BY arrived_ns, id LIMIT ?",
                (after[0], after[0], after[1], RISK_LABELS_BATCH_MAX),
            )
        for row in rows:
            tell_screen(
                platform.screen,
                RiskLabel(int(row[2]), row[3], row[4], row[5] == "fraud", int(row[0]), row[6]),
            )
            told += 1
        if len(rows) < RISK_LABELS_BATCH_MAX:
            return told
        after = (int(rows[-1][0]), int(rows[-1][1]))


def _row_label(row: dict[str, str | None], line: int, source: str) -> LabelIn:
    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    try:
        event_ns = parse_timestamp(text("timestamp"))
        arrived = parse_timestamp(text("arrived")) if text("arrived") else None
    except ValueError as e:
        raise ValueError(f"line {line}: {e}") from None
    if text("label") not in ("0", "1"):
        raise ValueError(f"line {line}: label must be 0 or 1")
    identity = "|".join(text(k) for k in ("timestamp", "type", "amount", "asset", "payer", "payee"))
    external_id = text("id") or hashlib.sha256(identity.encode()).hexdigest()[:32]
    return LabelIn(
        source,
        external_id,
        event_ns,
        text("payer"),
        text("payee"),
        "fraud" if text("label") == "1" else "not_fraud",
        arrived,
    )


def import_labels(platform: Platform, path: Path, source: str) -> Recorded | Refusal:
    """Every row of a labelled CSV into the store, a page of RISK_LABELS_BATCH_MAX rows per
    unit (a bad row refuses its page, naming its line; the pages before it stay)."""
    new = duplicates = 0
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"timestamp", "payer", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"the header lacks {', '.join(sorted(missing))}")
        page: list[LabelIn] = []
        first_line = 2
        for n, row in enumerate(reader):
            page.append(_row_label(row, n + 2, source))
            if len(page) == RISK_LABELS_BATCH_MAX:
                result = _import_page(platform, page, first_line)
                if isinstance(result, Refusal):
                    return result
                new, duplicates = new + result.new, duplicates + result.duplicates
                page, first_line = [], n + 3
        if page:
            result = _import_page(platform, page, first_line)
            if isinstance(result, Refusal):
                return result
            new, duplicates = new + result.new, duplicates + result.duplicates
    return Recorded(new, duplicates)


def _import_page(platform: Platform, page: list[LabelIn], first_line: int) -> Recorded | Refusal:
    result = record_labels(platform, page)
    if isinstance(result, Refusal) and result.detail.startswith("label "):
        index, _, why = result.detail[len("label ") :].partition(": ")
        if index.isdigit():
            return Refusal(result.code, f"line {first_line + int(index)}: {why}")
    return result
