"""Reports: statements and exports of a party's or the operator's activity."""

from .service import Reconciliation, check_day, export_operations, reconcile

__all__ = [
    "Reconciliation",
    "check_day",
    "export_operations",
    "reconcile",
]
