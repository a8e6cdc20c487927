"""Reports: the daily reconciliation of providers against the ledger, and the CSV export of
a merchant's operations.

**Reconciliation** of one UTC day (:func:`reconcile`): what a funding provider's statement
says it collected (``succeeded``) and took back (``charged_back``) that day, against what
the platform booked that day: the top-up's ledger transfers (their ids are derived from the
top-up, so each is found by id) and the top-up's row. Every difference is listed:

- ``missing_on_platform``: the provider moved money the platform has not booked (an event
  not handled yet, or lost), ``status_differs`` when the top-up's row exists but is not in
  the state the provider's line implies;
- ``missing_at_provider``: the platform booked money the provider does not report;
- ``amount_differs``: both sides have it, with different amounts;
- ``ledger_differs``: the top-up's row and its ledger transfers disagree.

Booking lags the provider (the worker handles its events every few seconds), so a movement
near midnight can fall on two different days: run the report for a day once the next has
begun, and read a lone ``missing_*`` at the day's edge in that light. At most
REPORT_ROWS_MAX top-ups are compared (``truncated`` says when there were more). Payout
providers join the same way once they have a statement (the payouts service).

**Export** (:func:`export_operations`): a merchant's payments and refunds created in a
period, oldest first, as CSV rows: money as integer strings in the asset's scale plus a
formatted decimal column, times in RFC 3339. At most EXPORT_PERIOD_MAX_DAYS per export and
EXPORT_ROWS_MAX rows (a longer one is refused before anything is written). Text fields that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are quoted with a
leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from centime.limits import EXPORT_PAGE_ROWS, EXPORT_PERIOD_MAX_DAYS, EXPORT_ROWS_MAX, ID_MAX
from centime.money import ASSETS
from centime.providers.funding import Statement, StatementLine

from ..config import NS_PER_DAY
from ..context import Platform
from ..csv_cells import cell
from ..errors import Code, Refusal
from ..ids import derive_id, format_id

__all__ = [
    "EXPORT_COLUMNS",
    "REPORT_ROWS_MAX",
    "Difference",
    "Reconciliation",
    "check_day",
    "day_bounds",
    "export_operations",
    "reconcile",
]

REPORT_ROWS_MAX: Final = 100_000
NS_PER_S: Final = 1_000_000_000
_CHARGEBACK_LEGS: Final = ("chargeback.first", "chargeback.second", "chargeback.loss")


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # missing_on_platform, missing_at_provider, amount_differs, status_differs,
    #            ledger_differs
    movement: str  # succeeded, charged_back
    topup_id: int
    asset: str
    provider_amount: int | None
    platform_amount: int | None
    detail: str


@dataclass(slots=True)
class Reconciliation:
    day: dt.date
    provider: str
    provider_lines: int = 0
    platform_lines: int = 0
    differences: list[Difference] = field(default_factory=list)
    truncated: bool = False


def day_bounds(day: dt.date) -> tuple[int, int]:
    """``[start, end)`` of a UTC day, in nanoseconds."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    start_ns = int(start.timestamp()) * NS_PER_S
    return start_ns, start_ns + NS_PER_DAY


def check_day(day: dt.date) -> Refusal | None:
    """None for a day the engine's clock can name (1970-01-01 to 2262-04-10)."""
    start_ns, end_ns = day_bounds(day)
    if not 0 <= start_ns < end_ns <= ID_MAX:
        return Refusal(Code.INVALID_PERIOD, "a day from 1970-01-01 to 2262-04-10")
    return None


@dataclass(frozen=True, slots=True)
class _Booked:
    """A top-up's movement of the day as the platform booked it: the ledger's amount, which
    the provider's line is compared with, and the top-up row's, compared with the ledger's
    (``ledger_differs``)."""

    topup_id: int
    movement: str
    asset: str
    amount: int  # as the ledger has it
    row_amount: int  # as the top-up's row has it
    status: str


def _booked(
    platform: Platform, provider: str, start_ns: int, end_ns: int
) -> tuple[dict[tuple[int, str], _Booked], dict[int, str], bool]:
    """The platform's movements of the day (keyed by (top-up, movement)), every candidate
    top-up's status, and whether candidates were cut at REPORT_ROWS_MAX."""
    with platform.read() as fetch:
        rows = fetch(
            "SELECT id, asset, amount, status, charged_back FROM topups"
            " WHERE provider = ? AND updated_ns >= ? AND created_ns < ? ORDER BY id LIMIT ?",
            (provider, start_ns, end_ns, REPORT_ROWS_MAX + 1),
        )
    truncated = len(rows) > REPORT_ROWS_MAX
    rows = rows[:REPORT_ROWS_MAX]
    statuses = {int(r[0]): str(r[3]) for r in rows}
    wanted = []
    for row in rows:
        topup_id = int(row[0])
        wanted.append(derive_id("topup", topup_id, "succeeded"))
        wanted.extend(derive_id("topup", topup_id, leg) for leg in _CHARGEBACK_LEGS)
    transfers = {}
    for start in range(0, len(wanted), 8000):
        for transfer in platform.ledger.lookup_transfers(wanted[start : start + 8000]):
            transfers[transfer.id] = transfer
    booked: dict[tuple[int, str], _Booked] = {}
    for topup_id, asset, amount, status, charged_back in rows:
        credit = transfers.get(derive_id("topup", topup_id, "succeeded"))
        if credit is not None and start_ns <= credit.timestamp < end_ns:
            booked[topup_id, "succeeded"] = _Booked(
                topup_id, "succeeded", asset, credit.amount, int(amount), status
            )
        legs = [transfers.get(derive_id("topup", topup_id, leg)) for leg in _CHARGEBACK_LEGS]
        taken = [t for t in legs if t is not None]
        if taken and start_ns <= taken[0].timestamp < end_ns:
            booked[topup_id, "charged_back"] = _Booked(
                topup_id,
                "charged_back",
                asset,
                sum(t.amount for t in taken),
                int(charged_back),
                status,
            )
    return booked, statuses, truncated


_IMPLIED: Final = {"succeeded": ("succeeded", "charged_back"), "charged_back": ("charged_back",)}


def reconcile(platform: Platform, provider: Statement, day: dt.date) -> Reconciliation:
    """Every difference between ``provider``'s statement of ``day`` and the platform's
    books of that day (see the module's docstring). ``day`` passes :func:`check_day`."""
    refusal = check_day(day)
    if refusal is not None:
        raise ValueError(refusal.detail)
    start_ns, end_ns = day_bounds(day)
    lines = provider.statement(start_ns, end_ns)
    report = Reconciliation(day, provider.name, provider_lines=len(lines))
    booked, statuses, report.truncated = _booked(platform, provider.name, start_ns, end_ns)
    report.platform_lines = len(booked)
    reported: dict[tuple[int, str], StatementLine] = {}
    for line in lines[:REPORT_ROWS_MAX]:
        reported[line.topup_id, line.kind] = line
    report.truncated = report.truncated or len(lines) > REPORT_ROWS_MAX
    found = report.differences
    for key, line in sorted(reported.items()):
        mine = booked.get(key)
        if mine is None:
            status = statuses.get(line.topup_id) or _status_of(platform, line.topup_id)
            kind = "missing_on_platform" if status is None else "status_differs"
            detail = "no such top-up" if status is None else f"the top-up is {status}"
            if status in _IMPLIED[line.kind]:
                kind, detail = "missing_on_platform", f"the top-up is {status}, booked another day"
            found.append(
                Difference(kind, line.kind, line.topup_id, line.asset, line.amount, None, detail)
            )
        elif mine.amount != line.amount:
            found.append(
                Difference(
                    "amount_differs",
                    line.kind,
                    line.topup_id,
                    line.asset,
                    line.amount,
                    mine.amount,
                    "the amounts differ",
                )
            )
    for key, mine in sorted(booked.items()):
        if key not in reported:
            found.append(
                Difference(
                    "missing_at_provider",
                    mine.movement,
                    mine.topup_id,
                    mine.asset,
                    None,
                    mine.amount,
                    "the provider does not report it",
                )
            )
        if mine.amount != mine.row_amount:
            found.append(
                Difference(
                    "ledger_differs",
                    mine.movement,
                    mine.topup_id,
                    mine.asset,
                    mine.row_amount,
                    mine.amount,
                    "its row and its ledger transfers disagree",
                )
            )
    return report


def _status_of(platform: Platform, topup_id: int) -> str | None:
    with platform.read() as fetch:
        rows = fetch("SELECT status FROM topups WHERE id = ?", (topup_id,))
    return str(rows[0][0]) if rows else None


# ------------------------------------------------------------------ CSV export


EXPORT_COLUMNS: Final = (
    "type",
    "id",
    "created_at",
    "payment_id",
    "customer_id",
    "asset",
    "scale",
    "amount",
    "amount_decimal",
    "fee",
    "fee_decimal",
    "reference",
    "description",
)


def _rfc3339(ns: int) -> str:
    seconds, rest = divmod(ns, NS_PER_S)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


def check_period(from_ns: int, to_ns: int) -> Refusal | None:
    if not 0 <= from_ns < to_ns <= ID_MAX:  # within what a BIGINT column holds
        return Refusal(Code.INVALID_PERIOD, "the period is from 1970 to 2262, start before end")
    if to_ns - from_ns > EXPORT_PERIOD_MAX_DAYS * NS_PER_DAY:
        return Refusal(Code.INVALID_PERIOD, f"a period is at most {EXPORT_PERIOD_MAX_DAYS} days")
    return None


def _rows(
    platform: Platform, table: str, columns: str, merchant_id: int, from_ns: int, to_ns: int
) -> Iterator[tuple[Any, ...]]:
    """The table's rows of the merchant in ``[from_ns, to_ns)``, oldest first, a page of
    EXPORT_PAGE_ROWS per read (keyset on (created_ns, id))."""
    after = (from_ns - 1, 2**63 - 1)
    while True:
        with platform.read() as fetch:
            page = fetch(
                f"SELECT created_ns, id, {columns} FROM {table} WHERE merchant_id = ?"
                " AND created_ns < ? AND (created_ns > ? OR (created_ns = ? AND id > ?))"
                " ORDER BY created_ns, id LIMIT ?",
                (merchant_id, to_ns, after[0], after[0], after[1], EXPORT_PAGE_ROWS),
            )
        yield from page
        if len(page) < EXPORT_PAGE_ROWS:
            return
        after = (int(page[-1][0]), int(page[-1][1]))


def export_operations(
    platform: Platform, merchant_id: int, from_ns: int, to_ns: int
) -> Iterator[str] | Refusal:
    """The CSV text of the merchant's payments and refunds created in ``[from_ns, to_ns)``,
    in chunks (a header, then a chunk per row), oldest first; or the refusal of the period."""
    refusal = check_period(from_ns, to_ns)
    if refusal is not None:
        return refusal
    with platform.read() as fetch:
        count = sum(
            int(
                fetch(
                    f"SELECT COUNT(*) FROM {table} WHERE merchant_id = ? AND created_ns >= ?"
                    " AND created_ns < ?",
                    (merchant_id, from_ns, to_ns),
                )[0][0]
            )
            for table in ("payments", "refunds")
        )
    if count > EXPORT_ROWS_MAX:
        return Refusal(
            Code.INVALID_PERIOD,
            f"{count} rows: an export holds at most {EXPORT_ROWS_MAX}; shorten it",
        )
    return _csv(platform, merchant_id, from_ns, to_ns)


def _csv(platform: Platform, merchant_id: int, from_ns: int, to_ns: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(EXPORT_COLUMNS))
    payments = _rows(
        platform,
        "payments",
        "customer_id, asset, amount, fee, reference, description",
        merchant_id,
        from_ns,
        to_ns,
    )
    refunds = _rows(
        platform,
        "refunds",
        "payment_id, customer_id, asset, amount, fee_returned, reason",
        merchant_id,
        from_ns,
        to_ns,
    )
    tagged = heapq.merge(
        (("payment", r) for r in payments),
        (("refund", r) for r in refunds),
        key=lambda item: (item[1][0], item[1][1]),
    )
    for kind, row in tagged:
        if kind == "payment":
            created_ns, pay_id, customer, asset_code, amount, fee, reference, description = row
            ids = (format_id("pay", pay_id), "")
        else:
            created_ns, ref_id, pay_id, customer, asset_code, amount, fee, description = row
            reference = None
            ids = (format_id("ref", ref_id), format_id("pay", pay_id))
        asset = ASSETS[asset_code]
        yield line(
            [
                kind,
                ids[0],
                _rfc3339(int(created_ns)),
                ids[1],
                format_id("cus", int(customer)),
                asset.code,
                str(asset.scale),
                str(int(amount)),
                asset.format(int(amount)),
                str(int(fee)),
                asset.format(int(fee)),
                cell(reference),
                cell(description),
            ]
        )
