"""Reports over HTTP: the operator's daily reconciliation, a merchant's CSV export.

- ``GET /v1/reports/reconciliation?date=YYYY-MM-DD`` (the operator's ``read`` keys): every
  difference between each funding provider's statement of that UTC day and the books.
- ``GET /v1/merchants/me/export.csv?from=...&to=...`` (a merchant's ``read`` keys): its
  payments and refunds created in ``[from, to)``, streamed as CSV. ``from`` and ``to`` are
  dates (``2027-01-15``: midnight UTC) or RFC 3339 times; at most
  ``EXPORT_PERIOD_MAX_DAYS`` apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from litestar import Request
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from centime import wire
from centime.http.problems import ApiCode, ProblemError
from centime.platform import reports
from centime.platform.errors import Refusal
from centime.platform.ids import format_id
from centime.providers.funding import Statement

from ..state import api_state, principal_of
from .declare import OPERATOR_READ, READ, reads

__all__ = ["parse_instant", "report_routes"]

NS_PER_S: Final = 1_000_000_000

DateParam = Annotated[str, Parameter(pattern=r"^\d{4}-\d{2}-\d{2}$", description="A UTC day.")]


def parse_instant(text: str, field: str) -> int:
    """Nanoseconds of a date (midnight UTC) or an RFC 3339 time with its offset."""
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no offset")
        whole = int(moment.replace(microsecond=0).timestamp())
    except (ValueError, OverflowError):
        raise ProblemError(
            ApiCode.INVALID_REQUEST,
            f"{field}: a date (YYYY-MM-DD) or an RFC 3339 time",
            errors=[wire.FieldError(field=field, detail="not a date or an RFC 3339 time")],
        ) from None
    return whole * NS_PER_S + moment.microsecond * 1000


def statements(providers: dict[str, Any]) -> list[Statement]:
    """The registered providers that give statements."""
    return [p for p in providers.values() if callable(getattr(p, "statement", None))]


def _out(report: reports.Reconciliation) -> wire.ProviderReconciliation:
    def money(amount: int | None, asset: str) -> wire.Money | None:
        return None if amount is None else wire.money(amount, asset)

    return wire.ProviderReconciliation(
        provider=report.provider,
        provider_lines=report.provider_lines,
        platform_lines=report.platform_lines,
        truncated=report.truncated,
        differences=[
            wire.ReconciliationDifference(
                kind=d.kind,
                movement=d.movement,
                topup_id=format_id("top", d.topup_id),
                provider_amount=money(d.provider_amount, d.asset),
                platform_amount=money(d.platform_amount, d.asset),
                detail=d.detail,
            )
            for d in report.differences
        ],
    )


@reads("/reports/reconciliation", OPERATOR_READ)
def reconciliation(request: Request[Any, Any, Any], date: DateParam) -> wire.Reconciliation:
    """What each funding provider reports for the day against the ledger and the top-ups,
    every difference listed."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ProblemError(ApiCode.INVALID_REQUEST, "date: not a date") from None
    refusal = reports.check_day(day)
    if refusal is not None:
        raise ProblemError(refusal.code, refusal.detail)
    platform = api_state(request).platform
    done = [
        _out(reports.reconcile(platform, p, day)) for p in statements(platform.providers.parties())
    ]
    count = sum(len(p.differences) for p in done)
    return wire.Reconciliation(date=day.isoformat(), differences=count, providers=done)


@reads("/merchants/me/export.csv", READ, media_type="text/csv")
def export_csv(
    request: Request[Any, Any, Any],
    from_: Annotated[
        str,
        QueryParameter(
            name="from", max_length=40, description="Start (included): date or RFC 3339."
        ),
    ],
    to: Annotated[
        str, QueryParameter(max_length=40, description="End (excluded): date or RFC 3339.")
    ],
) -> Stream:
    """The calling merchant's payments and refunds of the period as CSV: money as integer
    strings in the asset's scale and as decimals; oldest first; streamed."""
    principal = principal_of(request)
    if principal.is_operator:
        raise ProblemError(ApiCode.FORBIDDEN, "an operator key has no merchant of its own")
    made = reports.export_operations(
        api_state(request).platform,
        principal.owner_id,
        parse_instant(from_, "from"),
        parse_instant(to, "to"),
    )
    if isinstance(made, Refusal):
        raise ProblemError(made.code, made.detail)
    return Stream(
        made,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="operations.csv"'},
    )


report_routes: Final = [reconciliation, export_csv]
