"""Payouts: merchants' payout methods, schedules, standard and instant payouts, and the sandbox
rail that settles them in development."""

from .instant import confirm_instant_payout, quote_instant_payout
from .methods import PayoutMethod, add_payout_method, list_payout_methods, remove_payout_method
from .sandbox_rail import DatabaseRailJournal
from .schedules import Frequency, get_schedule, run_scheduled_payouts, set_schedule
from .service import (
    Payout,
    PayoutStatus,
    get_payout,
    list_payouts,
    process_payout_events,
    recover_payouts,
)

__all__ = [
    "DatabaseRailJournal",
    "Frequency",
    "Payout",
    "PayoutMethod",
    "PayoutStatus",
    "add_payout_method",
    "confirm_instant_payout",
    "get_payout",
    "get_schedule",
    "list_payout_methods",
    "list_payouts",
    "process_payout_events",
    "quote_instant_payout",
    "recover_payouts",
    "remove_payout_method",
    "run_scheduled_payouts",
    "set_schedule",
]
