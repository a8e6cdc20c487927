"""The operator's daily reconciliation (centime.api.routes.reports)."""

from __future__ import annotations

from .common import (
    Money,
    Output,
)

__all__ = [
    "ProviderReconciliation",
    "Reconciliation",
    "ReconciliationDifference",
]

# ------------------------------------------------------------------ reports
# The operator's daily reconciliation (centime.api.routes.reports).


class ReconciliationDifference(Output):
    kind: str
    movement: str
    topup_id: str
    provider_amount: Money | None
    platform_amount: Money | None
    detail: str


class ProviderReconciliation(Output):
    provider: str
    provider_lines: int
    platform_lines: int
    truncated: bool
    differences: list[ReconciliationDifference]


class Reconciliation(Output):
    date: str
    differences: int  # over every provider: 0 means the books agree
    providers: list[ProviderReconciliation]
