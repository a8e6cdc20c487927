"""The risk screen's decisions as the platform asks for them and records them.

Every money movement a person starts (a top-up, a payment, a batch of them, a hold, a
transfer between people) and every sign-up is described as a
:class:`centime.risk.types.RiskEvent` and handed to ``platform.screen`` BEFORE its write unit
is built: a decision is CPU work (features, a model), so it runs on the caller's thread (the
API runs it in a worker thread), never on the ledger's writer thread and never inside a unit.
The decision is then written in the operation's own unit (:func:`record_decision`), so a
movement and the decision that let it happen commit together; a refused attempt is recorded
in a unit of its own (centime.platform.review.screening).

Fail closed: :func:`decide` and :func:`decide_many` turn an exception of the screen, or an
answer that is not a well-formed Decision, into BLOCK with the reason ``risk_engine_error``
(logged with its traceback); the caller's request is refused, the process goes on. A platform
that was given no screen has :class:`NoScreen`, which blocks everything with the reason
``risk_screen_missing``: forgetting to wire the engine can never mean allowing everything.

Features: the port's Decision carries none; a screen whose decisions have a ``features``
attribute (a mapping of names to numbers) gets them stored as JSON with the decision.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from centime.ledger.units import UnitContext
from centime.limits import (
    RISK_DEVICE_LEN_MAX,
    RISK_FEATURES_JSON_MAX_BYTES,
    RISK_FEATURES_MAX,
    RISK_IP_LEN_MAX,
    STEP_UP_FRESH_S,
)
from centime.risk.types import Action, Decision, RiskEvent

from ..errors import Code, Refusal
from ..ids import new_id
from ..no_screen import NoScreen

__all__ = [
    "AllowAllScreen",
    "NoScreen",
    "Subject",
    "blocked",
    "decide",
    "decide_many",
    "decision_row",
    "device_text",
    "fresh_step_up",
    "ip_text",
    "observe",
    "record_decision",
    "record_decisions",
    "record_unstamped",
    "step_up_required",
    "unstamped_rows",
]

log = logging.getLogger("centime.risk")

NS_PER_S: Final = 1_000_000_000
REASON_ENGINE_ERROR: Final = "risk_engine_error"
_FAILED: Final = Decision(Action.BLOCK, 99, (REASON_ENGINE_ERROR,), None, "fail-closed")
_REASONS_MAX: Final = 16
_REASON_LEN_MAX: Final = 64


class Subject(NamedTuple):
    """What a decision is about: its kind (payment, transfer, hold, topup, customer,
    merchant), the id it has or will have, and the party whose money or account it is."""

    kind: str
    id: int
    party_kind: str  # customer or merchant
    party_id: int


class AllowAllScreen:
    """Every decision ALLOW, recorded with the rules version ``unscreened``. For benchmarks
    that measure the platform's plumbing and for development without a model, chosen
    explicitly (``CENTIME_RISK_SCREEN=allow-all-unsafe``); never a default."""

    _ALLOW: Final = Decision(Action.ALLOW, 0, (), None, "unscreened")

    def decide(self, event: RiskEvent) -> Decision:
        return self._ALLOW

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        return [self._ALLOW] * len(events)

    def observe(self, event: RiskEvent) -> None:
        return None


# ------------------------------------------------------------------ asking (fail closed)


def _well_formed(decision: object) -> bool:
    if not isinstance(decision, tuple) or len(decision) < 5:
        return False
    action, score, reasons = decision[0], decision[1], decision[2]
    return (
        isinstance(action, Action)
        and type(score) is int
        and 0 <= score <= 99
        and isinstance(reasons, tuple)
        and all(type(r) is str for r in reasons)
    )


def _all_well_formed(decisions: Sequence[object]) -> bool:
    """Every decision well formed, each distinct object checked once: a batch's decisions
    are mostly a few shared ones (the engine's ALLOW per score), and a Decision is a tuple
    of immutable values, so what was checked stays so."""
    checked: set[int] = set()
    for decision in decisions:
        if id(decision) not in checked:
            if not _well_formed(decision):
                return False
            checked.add(id(decision))  # the list holds it: its id is not reused meanwhile
    return True


def decide(screen: Any, event: RiskEvent) -> Decision:
    """``screen``'s decision on ``event``; BLOCK (``risk_engine_error``) when it raises or
    answers something that is not a Decision."""
    try:
        decision = screen.decide(event)
    except Exception:
        log.exception("the risk screen failed on a %s event: blocked (fail closed)", event.type)
        return _FAILED
    if not _well_formed(decision):
        log.error("the risk screen answered %r for a %s event: blocked", decision, event.type)
        return _FAILED
    return Decision(*decision[:5]) if type(decision) is not Decision else decision


def decide_many(screen: Any, events: Sequence[RiskEvent]) -> list[Decision]:
    """``screen.decide_many`` (one model call for a batch); every event BLOCK
    (``risk_engine_error``) when it raises or answers the wrong number or kind of things."""
    if not events:
        return []
    try:
        decisions = list(screen.decide_many(events))
    except Exception:
        log.exception("the risk screen failed on %d events: blocked (fail closed)", len(events))
        return [_FAILED] * len(events)
    if len(decisions) != len(events) or not _all_well_formed(decisions):
        log.error(
            "the risk screen answered %d malformed decisions for %d events: blocked",
            len(decisions),
            len(events),
        )
        return [_FAILED] * len(events)
    return decisions


def observe(screen: Any, event: RiskEvent) -> None:
    """Tell the screen an outcome (a provider's decline); its failure is logged, never
    raised: the outcome already happened."""
    try:
        screen.observe(event)
    except Exception:
        log.exception("the risk screen failed to observe a %s event", event.type)


# ------------------------------------------------------------------ what an event carries


def _clean(text: object, length_max: int) -> str | None:
    """Printable ASCII text of at most ``length_max`` characters, or None."""
    if type(text) is not str:
        return None
    text = text.strip()
    if not text or len(text) > length_max or not (text.isascii() and text.isprintable()):
        return None
    return text


def device_text(value: object) -> str | None:
    """A device id as a decision records it (a Centime-Device header); None if unusable."""
    return _clean(value, RISK_DEVICE_LEN_MAX)


def ip_text(value: object) -> str | None:
    return _clean(value, RISK_IP_LEN_MAX)


# ------------------------------------------------------------------ refusals


def blocked(decision: Decision) -> Refusal:
    """RISK_BLOCKED with the decision's reason codes (never the model's internals)."""
    reasons = ", ".join(decision.reasons[:_REASONS_MAX]) or "unspecified"
    return Refusal(Code.RISK_BLOCKED, f"refused by the risk screen: {reasons}")


def step_up_required(decision: Decision) -> Refusal:
    reasons = ", ".join(decision.reasons[:_REASONS_MAX]) or "unspecified"
    return Refusal(
        Code.STEP_UP_REQUIRED,
        f"confirm with a passkey, then ask again within {STEP_UP_FRESH_S} s ({reasons})",
    )


def fresh_step_up(stepped_up_at_ns: int | None, now_ns: int) -> bool:
    """Whether a passkey confirmation made at ``stepped_up_at_ns`` (engine time) still
    counts at ``now_ns``: not in the future, at most STEP_UP_FRESH_S old."""
    if type(stepped_up_at_ns) is not int:
        return False
    age_ns = now_ns - stepped_up_at_ns
    return 0 <= age_ns <= STEP_UP_FRESH_S * NS_PER_S


# ------------------------------------------------------------------ recording

_COLUMNS: Final = (
    "id, created_ns, event_ns, event_type, amount, asset, payer, payee, device, ip,"
    " instrument, subject_kind, subject_id, action, score, reasons, model_version,"
    " rules_version, features, stepped_up, case_id"
)
_INSERT: Final = f"INSERT INTO risk_decisions ({_COLUMNS}) VALUES ({', '.join('?' * 21)})"


def _features_json(decision: Decision) -> str | None:
    features = getattr(decision, "features", None)
    if not isinstance(features, Mapping):
        return None
    kept: dict[str, object] = {}
    for name, raw in list(features.items())[:RISK_FEATURES_MAX]:
        value: object = raw
        if type(raw) is float and not math.isfinite(raw):
            value = None  # JSON has no NaN; a missing feature is null
        elif type(raw) not in (int, float, bool, str) and raw is not None:
            value = str(raw)
        kept[str(name)] = value
    text = json.dumps(kept, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= RISK_FEATURES_JSON_MAX_BYTES else None


def _reasons_json(decision: Decision) -> str:
    reasons = decision.reasons
    if type(reasons) is tuple and all(type(r) is str for r in reasons):
        return _reasons_text(reasons)  # a batch's decisions mostly share their reasons
    return json.dumps([str(r)[:_REASON_LEN_MAX] for r in list(reasons)[:_REASONS_MAX]])


@functools.lru_cache(maxsize=1024)
def _reasons_text(reasons: tuple[str, ...]) -> str:
    return json.dumps([r[:_REASON_LEN_MAX] for r in reasons[:_REASONS_MAX]])


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as stored (what a case shows as its evidence)."""

    id: int
    created_ns: int
    event: RiskEvent
    subject_kind: str
    subject_id: int
    action: str
    score: int
    reasons: tuple[str, ...]
    model_version: str | None
    rules_version: str
    features: dict[str, Any] | None
    stepped_up: bool
    case_id: int | None


def decision_from_row(row: Sequence[Any]) -> DecisionRecord:
    event = RiskEvent(
        int(row[2]), row[3], int(row[4]), row[5], row[6], row[7], row[8], row[9], row[10]
    )
    return DecisionRecord(
        int(row[0]),
        int(row[1]),
        event,
        row[11],
        int(row[12]),
        row[13],
        int(row[14]),
        tuple(json.loads(row[15])),
        row[16],
        row[17],
        None if row[18] is None else json.loads(row[18]),
        bool(row[19]),
        None if row[20] is None else int(row[20]),
    )


DECISION_COLUMNS: Final = _COLUMNS


def decision_row(
    now_ns: int,
    event: RiskEvent,
    decision: Decision,
    subject: Subject,
    *,
    case_id: int | None = None,
    stepped_up: bool = False,
    decision_id: int | None = None,
) -> tuple[Any, ...]:
    """The row of one decision (for :func:`record_decisions`)."""
    return (
        decision_id or new_id(),
        now_ns,
        event.timestamp_ns,
        event.type,
        event.amount,
        event.asset,
        event.payer,
        event.payee,
        event.device,
        event.ip,
        event.instrument,
        subject.kind,
        subject.id,
        *_decided(decision, stepped_up, case_id),
    )


def _decided(decision: Decision, stepped_up: bool, case_id: int | None) -> tuple[Any, ...]:
    """The columns of a decision row that say what was decided (the row's last eight)."""
    return (
        decision.action.value,
        decision.score,
        _reasons_json(decision),
        decision.model_version,
        decision.rules_version,
        _features_json(decision),
        int(stepped_up),
        case_id,
    )


def record_decision(
    ctx: UnitContext,
    event: RiskEvent,
    decision: Decision,
    subject: Subject,
    *,
    case_id: int | None = None,
    stepped_up: bool = False,
) -> int:
    """Write the decision in the unit's transaction; its id."""
    row = decision_row(ctx.now_ns, event, decision, subject, case_id=case_id, stepped_up=stepped_up)
    ctx.execute(_INSERT, row)
    decision_id: int = row[0]
    return decision_id


def record_decisions(ctx: UnitContext, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write many decisions' rows (a batch's) with one statement."""
    if rows:
        ctx.executemany(_INSERT, rows)


# A batch's rows are made before its unit, which stamps them with its time: the time is
# their first column, so that stamping is one tuple concatenation per row.
_STAMPED_INSERT: Final = (
    "INSERT INTO risk_decisions (created_ns, "
    + _COLUMNS.replace(" created_ns,", "")
    + f") VALUES ({', '.join('?' * 21)})"
)


def unstamped_rows(
    subject_kind: str,
    first_id: int,
    screened: Sequence[tuple[int, RiskEvent, Decision, int]],
) -> list[tuple[Any, ...]]:
    """The rows of a batch's decisions but their time (for :func:`record_unstamped`), the
    same as :func:`decision_row`'s: ``screened`` is (index, event, decision, subject id) per
    decision, the row's id ``first_id | index``. A batch's decisions are mostly one shared
    ALLOW object: what a row says of its decision is made once per object."""
    parts: dict[int, tuple[Any, ...]] = {}
    rows = []
    for index, event, decision, subject_id in screened:
        part = parts.get(id(decision))  # the decisions outlive this call: ids are stable
        if part is None:
            part = parts[id(decision)] = _decided(decision, False, None)
        # A RiskEvent's fields are the row's event columns, in order.
        rows.append((first_id | index, *event, subject_kind, subject_id, *part))
    return rows


def record_unstamped(ctx: UnitContext, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write :func:`unstamped_rows`' rows stamped with the unit's time, one statement."""
    if rows:
        now = (ctx.now_ns,)
        ctx.executemany(_STAMPED_INSERT, [now + row for row in rows])
