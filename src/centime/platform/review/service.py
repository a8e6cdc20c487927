"""Money held for review, the cases an analyst decides, and their evidence.

When the risk screen answers REVIEW, the movement does not happen and is not refused: the
money it would move is HELD on the ledger until an analyst decides, and a case records
what to do then. Each step is one write unit (ledger chain, rows, outbox event together):

- hold (:func:`hold_for_review`, run by centime.platform.review.screening in the operation's
  place): the payer's money is reserved by PENDING transfers (no timeout: they never
  expire) into the operator's RISK_HELD account: payments and holds reserve restricted
  (carrier-billed) money first, then the wallet, as a payment would spend it; transfers
  between people reserve the wallet only (restricted money is never sent). The case row,
  the decision (with the case's id) and ``review.opened`` are written in the same unit.
  A top-up under review reserves nothing and is not charged: the card, bank or phone is
  charged only once approved, so nothing is collected that could be spent. A sign-up
  under review creates the party FROZEN.
- approve (centime.usecases.review.approve_case, which decodes the held request, then
  :func:`approve_held`): the reserves are voided and the operation the request
  asked for runs, in the same unit, with the id it would have had (so the payment, hold or
  transfer is the one the caller was told about); the service checks everything again
  (balances, limits, mandates, the parties' status). Should it refuse now, the unit is
  undone whole (nothing voided, the case stays open) and the refusal is answered; the
  analyst may decline instead. A top-up is created and charged (idempotent by its id), then
  the case is marked approved; a frozen sign-up is made active.
- decline (:func:`decline_case`): the reserves are voided (the money is the payer's
  again), the case is declined; a sign-up's party is closed.

Approving an approved case, or declining a declined one, answers the case as it is
(retries are safe without an idempotency key); the other way round is CASE_NOT_OPEN.

Money is conserved at every step: a reserve and its void move nothing posted, and the
approved operation is exactly the one that would have run (tests/platform/test_review.py).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final

from centime.ledger import Transfer, TransferFlags
from centime.ledger.units import UnitContext
from centime.limits import RISK_EVIDENCE_ROWS_MAX, RISK_EXPORT_PAGE_ROWS
from centime.money import ASSETS
from centime.risk.simulate import CSV_COLUMNS
from centime.risk.types import Decision, RiskEvent

from ..chart import OPERATOR, AccountKind, account_for, account_id, ensure_accounts
from ..context import Operation, Platform
from ..csv_cells import cell
from ..errors import Code, Refusal
from ..events.outbox import emit
from ..events.outbox import money as event_money
from ..ids import derive_id, format_id, new_id, valid_id
from ..pages import Cursor, Page, fetch_by_id, fetch_page
from ..parties.service import Status, active_customer, set_customer, set_merchant
from ..payments.service import require_created, split_restricted_first
from ..risk_labels import LabelIn, record_labels
from ..rows import row_by_id
from .decisions import (
    DECISION_COLUMNS,
    DecisionRecord,
    Subject,
    decision_from_row,
    record_decision,
)

log = logging.getLogger(__name__)

__all__ = [
    "REVIEW_EVENTS_MAX",
    "Case",
    "CaseEvidence",
    "CaseStatus",
    "InReview",
    "Label",
    "ReviewPlan",
    "approve_held",
    "case_for_subject",
    "decline_case",
    "export_labels",
    "freeze_case_party",
    "get_case",
    "hold_for_review",
    "label_case",
    "list_cases",
    "mark_approved",
    "read_case",
    "settled_answer",
]


class CaseStatus:
    OPEN: Final = "open"
    APPROVED: Final = "approved"
    DECLINED: Final = "declined"
    ALL: Final = ("open", "approved", "declined")


class Label:
    FRAUD: Final = "fraud"
    NOT_FRAUD: Final = "not_fraud"
    ALL: Final = ("fraud", "not_fraud")


class ReviewLeg:
    """Ledger codes of the reserves (600-699): payer -> RISK_HELD, pending, no timeout."""

    RESERVE: Final = 600


# What a hold for review submits at most: two reserves and the RISK_HELD account.
REVIEW_EVENTS_MAX: Final = 2 + 1
_PENDING: Final = int(TransferFlags.PENDING)
_VOID: Final = int(TransferFlags.VOID_PENDING)
_LINKED: Final = int(TransferFlags.LINKED)

# How each kind of subject holds its money: a customer's restricted money first then its
# wallet, its wallet only, nothing (a top-up is not charged yet), or a frozen party (a
# sign-up).
_RESERVES: Final = {
    "payment": "spendable",
    "hold": "spendable",
    "transfer": "wallet",
    "topup": "none",
    "customer": "party",
    "merchant": "party",
}
ID_PREFIXES: Final = {
    "payment": "pay",
    "hold": "hold",
    "transfer": "tr",
    "topup": "top",
    "customer": "cus",
    "merchant": "mer",
}
SUBJECT_TABLES: Final = {
    "payment": "payments",
    "hold": "holds",
    "transfer": "p2p_transfers",
    "topup": "topups",
}


@dataclass(frozen=True, slots=True)
class ReviewPlan:
    """What a REVIEW holds and what approval runs: ``request`` is the held request in its
    stored encoding (centime.usecases.plans: typed, versioned), ids included."""

    subject: Subject
    asset: str
    amount: int
    request: str


@dataclass(frozen=True, slots=True)
class InReview:
    """The answer to an operation held for review (the API: 202, status ``in_review``)."""

    case_id: int
    subject: Subject
    asset: str
    amount: int
    reasons: tuple[str, ...]
    created_ns: int


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    decision_id: int
    status: str
    subject: Subject
    asset: str
    amount: int
    reserved: list[tuple[str, int, int]]  # (leg, transfer id, amount)
    request: str  # the held request, encoded (centime.usecases.plans)
    label: str | None
    created_ns: int
    resolved_ns: int | None
    resolved_by: str | None
    labelled_ns: int | None

    @property
    def subject_text(self) -> str:
        return format_id(ID_PREFIXES[self.subject.kind], self.subject.id)


@dataclass(frozen=True, slots=True)
class CaseEvidence:
    """A case with what an analyst needs to decide it."""

    case: Case
    decision: DecisionRecord | None
    recent: list[DecisionRecord]  # the payer's latest decisions, newest first
    related: list[str]  # other payers seen with its devices, IPs or instruments


_CASE_COLUMNS: Final = (
    "id, decision_id, status, subject_kind, subject_id, party_kind, party_id, asset, amount,"
    " reserved, request, label, created_ns, resolved_ns, resolved_by, labelled_ns"
)


def _case(row: Sequence[Any]) -> Case:
    return Case(
        int(row[0]),
        int(row[1]),
        row[2],
        Subject(row[3], int(row[4]), row[5], int(row[6])),
        row[7],
        int(row[8]),
        [tuple(leg) for leg in json.loads(row[9])],
        str(row[10]),
        row[11],
        int(row[12]),
        None if row[13] is None else int(row[13]),
        row[14],
        None if row[15] is None else int(row[15]),
    )


def _load(ctx: UnitContext, case_id: int) -> Case | None:
    return row_by_id(ctx.fetch, "risk_cases", _CASE_COLUMNS, case_id, _case)


def case_for_subject(ctx: UnitContext, subject: Subject) -> Case | None:
    rows = ctx.fetch(
        f"SELECT {_CASE_COLUMNS} FROM risk_cases WHERE subject_kind = ? AND subject_id = ?",
        (subject.kind, subject.id),
    )
    return _case(rows[0]) if rows else None


def in_review(case: Case, reasons: tuple[str, ...]) -> InReview:
    return InReview(case.id, case.subject, case.asset, case.amount, reasons, case.created_ns)


# ------------------------------------------------------------------ holding


def _reserve_legs(ctx: UnitContext, plan: ReviewPlan) -> list[tuple[str, int, int]] | Refusal:
    """(leg, debit account, amount) of the reserves, or why the money cannot be held."""
    how = _RESERVES[plan.subject.kind]
    if how in ("none", "party"):
        return []
    customer = active_customer(ctx, plan.subject.party_id)
    if isinstance(customer, Refusal):
        return customer
    owner, asset = plan.subject.party_id, plan.asset
    restricted_id = account_id(AccountKind.CUSTOMER_RESTRICTED, owner, asset)
    wallet_id = account_id(AccountKind.CUSTOMER_WALLET, owner, asset)
    found = ctx.accounts([restricted_id, wallet_id])
    restricted = found[restricted_id].available if restricted_id in found else 0
    wallet = found[wallet_id].available if wallet_id in found else 0
    if how == "wallet":
        if wallet < plan.amount:
            if wallet + restricted >= plan.amount:
                return Refusal(Code.RESTRICTED_FUNDS, "carrier-billed money cannot be sent yet")
            return Refusal(Code.INSUFFICIENT_FUNDS, "the sender's wallet is short")
        parts = [("wallet", wallet_id, plan.amount)]
    else:
        split = split_restricted_first(plan.amount, restricted, wallet)
        if split is None:
            return Refusal(Code.INSUFFICIENT_FUNDS, "the customer's balance is short")
        parts = [("restricted", restricted_id, split[0]), ("wallet", wallet_id, split[1])]
    return [part for part in parts if part[2] > 0]


def hold_for_review(
    ctx: UnitContext,
    plan: ReviewPlan,
    event: RiskEvent,
    decision: Decision,
    operation: Operation[Any] | None = None,
) -> InReview | Refusal:
    """In the operation's place: hold its money (or create the party frozen, for a sign-up:
    ``operation`` is then the sign-up), open the case, record the decision and the event.
    A refusal (the money is not there, the party cannot move money) is recorded and
    answered with nothing held."""
    subject = plan.subject
    legs = _reserve_legs(ctx, plan)
    if isinstance(legs, Refusal):
        record_decision(ctx, event, decision, subject)
        return legs
    if _RESERVES[subject.kind] == "party" and operation is not None:
        created = operation.unit(ctx)
        if isinstance(created, Refusal):
            record_decision(ctx, event, decision, subject)
            return created
        table = "customers" if subject.kind == "customer" else "merchants"
        ctx.execute(
            f"UPDATE {table} SET status = ? WHERE id = ?", (Status.FROZEN.value, subject.id)
        )
    case_id = new_id()
    reserved = _reserve(ctx, case_id, plan.asset, legs) if legs else []
    decision_id = record_decision(ctx, event, decision, subject, case_id=case_id)
    ctx.execute(
        f"INSERT INTO risk_cases ({_CASE_COLUMNS}) VALUES ({', '.join('?' * 16)})",
        (
            case_id,
            decision_id,
            CaseStatus.OPEN,
            subject.kind,
            subject.id,
            subject.party_kind,
            subject.party_id,
            plan.asset,
            plan.amount,
            json.dumps(reserved),
            plan.request,
            None,
            ctx.now_ns,
            None,
            None,
            None,
        ),
    )
    case = _load(ctx, case_id)
    if case is None:
        raise RuntimeError(f"case {case_id} vanished in its own unit")
    _emit(ctx, "review.opened", case, decision.reasons)
    return in_review(case, decision.reasons)


def _reserve(
    ctx: UnitContext, case_id: int, asset: str, legs: list[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """The case's pending reserves into RISK_HELD (linked, no timeout): (leg, transfer id,
    amount) of each."""
    held = account_for(AccountKind.RISK_HELD, OPERATOR, asset)
    ensure_accounts(ctx, [held])
    transfers = [
        Transfer(
            derive_id("review", case_id, leg),
            debit,
            held.id,
            amount,
            asset,
            ReviewLeg.RESERVE,
            _PENDING | (_LINKED if i < len(legs) - 1 else 0),
            0,
            0,
            case_id,
        )
        for i, (leg, debit, amount) in enumerate(legs)
    ]
    require_created(ctx.create_transfers(transfers), "hold for review")
    return [(leg, t.id, t.amount) for (leg, _, _), t in zip(legs, transfers, strict=True)]


def _emit(ctx: UnitContext, event_type: str, case: Case, reasons: tuple[str, ...] = ()) -> None:
    data: dict[str, object] = {
        "case_id": format_id("case", case.id),
        "subject_kind": case.subject.kind,
        "subject_id": case.subject_text,
        "amount": event_money(case.amount, ASSETS[case.asset]),
        "status": case.status,
    }
    if reasons:
        data["reasons"] = list(reasons)
    emit(ctx, event_type, case.subject.party_id, data)


# ------------------------------------------------------------------ deciding


class _UndoError(Exception):
    """Raised in an approval's unit to undo all of it: the approved operation refused."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _voids(case: Case) -> list[Transfer]:
    voids = [
        Transfer(
            derive_id("review", case.id, "void", leg),
            0,
            0,
            0,
            case.asset,
            ReviewLeg.RESERVE,
            _VOID,
            transfer_id,
            0,
            case.id,
        )
        for leg, transfer_id, _ in case.reserved
    ]
    linked = [v._replace(flags=v.flags | _LINKED) for v in voids[:-1]]
    return [*linked, *voids[-1:]]


def _resolve(ctx: UnitContext, case: Case, status: str, analyst: str) -> Case:
    ctx.execute(
        "UPDATE risk_cases SET status = ?, resolved_ns = ?, resolved_by = ? WHERE id = ?",
        (status, ctx.now_ns, analyst[:64], case.id),
    )
    resolved = _load(ctx, case.id)
    if resolved is None:
        raise RuntimeError(f"case {case.id} vanished in its own unit")
    _emit(ctx, f"review.{status}", resolved)
    return resolved


def _settled(case: Case | None, wanted: str) -> Case | Refusal | None:
    """The answer when the case is not open: itself (decided as asked) or a refusal."""
    if case is None:
        return Refusal(Code.CASE_NOT_FOUND, "no such case")
    if case.status == wanted:
        return case
    if case.status != CaseStatus.OPEN:
        return Refusal(Code.CASE_NOT_OPEN, f"the case is {case.status}")
    return None


def read_case(platform: Platform, case_id: int) -> Case | None:
    return fetch_by_id(platform, "risk_cases", _CASE_COLUMNS, case_id, _case)


def approve_held(
    platform: Platform, case: Case, operation: Operation[Any] | None, analyst: str
) -> Case | Refusal:
    """Approve: the held ``operation`` (the request's, decoded by centime.usecases.review;
    None for a sign-up, whose party becomes active) goes ahead, one unit (see the
    module's note)."""

    def unit(ctx: UnitContext) -> Case | Refusal:
        current = _load(ctx, case.id)
        done = _settled(current, CaseStatus.APPROVED)
        if done is not None or current is None:
            return done or Refusal(Code.CASE_NOT_FOUND, "no such case")
        if operation is None:  # a sign-up: the party becomes active
            table = "customers" if current.subject.kind == "customer" else "merchants"
            ctx.execute(
                f"UPDATE {table} SET status = ? WHERE id = ? AND status = ?",
                (Status.ACTIVE.value, current.subject.id, Status.FROZEN.value),
            )
        else:
            require_created(ctx.create_transfers(_voids(current)), "releasing a review hold")
            result = operation.unit(ctx)
            if isinstance(result, Refusal):
                raise _UndoError(result)
        return _resolve(ctx, current, CaseStatus.APPROVED, analyst)

    events = len(case.reserved) + (operation.events_max if operation is not None else 0)
    try:
        return platform.execute(Operation(unit, events))
    except _UndoError as undone:
        return undone.refusal


def settled_answer(case: Case) -> Case | Refusal | None:
    """An approval's answer when the case is not open (itself, or a refusal), else None."""
    return _settled(case, CaseStatus.APPROVED)


def mark_approved(platform: Platform, case: Case, analyst: str) -> Case | Refusal:
    """The case approved, once what it held was done in units of its own (a top-up:
    created and charged before the case is marked, so a crash in between leaves an open
    case whose approval finds the top-up and completes)."""

    def unit(ctx: UnitContext) -> Case | Refusal:
        current = _load(ctx, case.id)
        settled = _settled(current, CaseStatus.APPROVED)
        if settled is not None or current is None:
            return settled or Refusal(Code.CASE_NOT_FOUND, "no such case")
        return _resolve(ctx, current, CaseStatus.APPROVED, analyst)

    return platform.execute(Operation(unit, 0))


def decline_case(platform: Platform, case_id: int, analyst: str) -> Case | Refusal:
    """Decline: the held money is the payer's again (a sign-up's party is closed)."""
    if not valid_id(case_id):
        return Refusal(Code.CASE_NOT_FOUND, "no such case")

    def unit(ctx: UnitContext) -> Case | Refusal:
        current = _load(ctx, case_id)
        done = _settled(current, CaseStatus.DECLINED)
        if done is not None or current is None:
            return done or Refusal(Code.CASE_NOT_FOUND, "no such case")
        if current.reserved:
            require_created(ctx.create_transfers(_voids(current)), "releasing a review hold")
        if current.subject.kind in ("customer", "merchant"):
            table = "customers" if current.subject.kind == "customer" else "merchants"
            ctx.execute(
                f"UPDATE {table} SET status = ? WHERE id = ? AND status = ?",
                (Status.CLOSED.value, current.subject.id, Status.FROZEN.value),
            )
        return _resolve(ctx, current, CaseStatus.DECLINED, analyst)

    return platform.execute(Operation(unit, REVIEW_EVENTS_MAX))


def freeze_case_party(platform: Platform, case_id: int) -> Case | Refusal:
    """Freeze the case's party (the customer or merchant whose money it is) with the
    parties' own freeze; the case is left as it is."""
    case = read_case(platform, case_id)
    if case is None:
        return Refusal(Code.CASE_NOT_FOUND, "no such case")
    party = case.subject
    if party.party_kind == "merchant":
        frozen: Any = platform.execute(set_merchant(platform, party.party_id, Status.FROZEN))
    else:
        frozen = platform.execute(set_customer(platform, party.party_id, Status.FROZEN))
    return frozen if isinstance(frozen, Refusal) else case


def label_case(platform: Platform, case_id: int, label: str) -> Case | Refusal:
    """Label the case fraud or not_fraud (for training; any status; a new label replaces
    the old one). The label also joins the label store (source ``analyst``, arrived now):
    the risk engine counts a fraud label in its payer's and payee's features from now on."""
    labelled = _label_case_row(platform, case_id, label)
    if isinstance(labelled, Refusal):
        return labelled
    with platform.read() as fetch:
        rows = fetch(
            "SELECT event_ns, payer, payee FROM risk_decisions WHERE id = ?",
            (labelled.decision_id,),
        )
    if rows:
        event_ns, payer, payee = int(rows[0][0]), str(rows[0][1]), str(rows[0][2] or "")
        stored = record_labels(
            platform, [LabelIn("analyst", f"case:{case_id}:{label}", event_ns, payer, payee, label)]
        )
        if isinstance(stored, Refusal):
            log.warning("case %s labelled, its label not stored: %s", case_id, stored.detail)
    return labelled


def _label_case_row(platform: Platform, case_id: int, label: str) -> Case | Refusal:
    if label not in Label.ALL:
        return Refusal(Code.INVALID_REQUEST, f"label is one of {', '.join(Label.ALL)}")
    if not valid_id(case_id):
        return Refusal(Code.CASE_NOT_FOUND, "no such case")

    def unit(ctx: UnitContext) -> Case | Refusal:
        changed = ctx.execute(
            "UPDATE risk_cases SET label = ?, labelled_ns = ? WHERE id = ?",
            (label, ctx.now_ns, case_id),
        )
        found = _load(ctx, case_id) if changed else None
        return found or Refusal(Code.CASE_NOT_FOUND, "no such case")

    return platform.execute(Operation(unit, 0))


# ------------------------------------------------------------------ reads


def get_case(platform: Platform, case_id: int) -> CaseEvidence | None:
    """The case with its evidence: its decision (event, features, reasons, score), the
    payer's recent decisions and the other payers seen on its devices, IPs and
    instruments (each list at most RISK_EVIDENCE_ROWS_MAX)."""
    case = read_case(platform, case_id)
    if case is None:
        return None
    limit = RISK_EVIDENCE_ROWS_MAX
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {DECISION_COLUMNS} FROM risk_decisions WHERE id = ?", (case.decision_id,)
        )
        decision = decision_from_row(rows[0]) if rows else None
        if decision is None:
            return CaseEvidence(case, None, [], [])
        event = decision.event
        recent = [
            decision_from_row(row)
            for row in fetch(
                f"SELECT {DECISION_COLUMNS} FROM risk_decisions WHERE payer = ?"
                " ORDER BY created_ns DESC, id DESC LIMIT ?",
                (event.payer, limit),
            )
        ]
        related: list[str] = []
        for column in ("device", "ip", "instrument"):
            values = sorted({getattr(d.event, column) for d in recent} - {None})[:limit]
            if not values or len(related) >= limit:
                continue
            marks = ", ".join("?" * len(values))
            found = fetch(
                f"SELECT DISTINCT payer FROM risk_decisions WHERE {column} IN ({marks})"
                " AND payer <> ? ORDER BY payer LIMIT ?",
                (*values, event.payer, limit),
            )
            related.extend(str(row[0]) for row in found if row[0] not in related)
    return CaseEvidence(case, decision, recent, related[:limit])


def list_cases(
    platform: Platform,
    status: str | None = CaseStatus.OPEN,
    cursor: Cursor | None = None,
    limit: int = 20,
) -> Page[Case]:
    """Cases newest first, of one status (None: all)."""
    filters: list[tuple[str, Any]] = [] if status is None else [("status", status)]
    return fetch_page(platform, "risk_cases", _CASE_COLUMNS, filters, cursor, limit, _case)


# ------------------------------------------------------------------ labels for training

# The simulator's labelled-events columns: an export reads like a simulated data set.
EXPORT_HEADER: Final = CSV_COLUMNS


def labelled_events(platform: Platform) -> Iterator[tuple[RiskEvent, int]]:
    """Every labelled case's event and its label (1 fraud, 0 not), in time order, read in
    pages of RISK_EXPORT_PAGE_ROWS."""
    after: tuple[int, int] = (-1, 0)
    while True:
        with platform.read() as fetch:
            rows = fetch(
                "SELECT d.event_ns, d.id, d.event_type, d.amount, d.asset, d.payer, d.payee,"
                " d.device, d.ip, d.instrument, c.label FROM risk_cases c"
                " JOIN risk_decisions d ON d.id = c.decision_id WHERE c.label IS NOT NULL"
                " AND (d.event_ns > ? OR (d.event_ns = ? AND d.id > ?))"
                " ORDER BY d.event_ns, d.id LIMIT ?",
                (after[0], after[0], after[1], RISK_EXPORT_PAGE_ROWS),
            )
        for row in rows:
            event = RiskEvent(
                int(row[0]), row[2], int(row[3]), row[4], row[5], row[6], row[7], row[8], row[9]
            )
            yield event, 1 if row[10] == Label.FRAUD else 0
        if len(rows) < RISK_EXPORT_PAGE_ROWS:
            return
        after = (int(rows[-1][0]), int(rows[-1][1]))


def write_labelled_csv(out: IO[str], rows: Iterator[tuple[RiskEvent, int]]) -> int:
    """The labelled-events CSV (docs/risk-operations.md): timestamp (ns), type, amount (in
    the asset's scale), asset, payer, payee, device, ip, instrument, label (1/0). Text
    cells that a spreadsheet would run as a formula are quoted (:mod:`.csv_cells`): the
    device and IP come from request headers, anyone's to choose."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    count = 0
    for event, label in rows:
        writer.writerow(
            [
                event.timestamp_ns,
                cell(event.type),
                event.amount,
                cell(event.asset),
                cell(event.payer),
                cell(event.payee),
                cell(event.device),
                cell(event.ip),
                cell(event.instrument),
                label,
            ]
        )
        count += 1
    return count


def export_labels(platform: Platform, out: IO[str]) -> int:
    """Write every labelled case as a CSV row; how many."""
    return write_labelled_csv(out, labelled_events(platform))
