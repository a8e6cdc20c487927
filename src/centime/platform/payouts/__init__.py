"""Payouts: merchants' payout methods, schedules, standard and instant payouts, and the sandbox
rail that settles them in development. A payout a person asks for goes through its use case
(centime.usecases.payouts: validated once, an instant one screened)."""

from .instant import (
    Quote,
    confirm_quote,
    get_quote,
    instant_payout_id,
    payout_account,
    quote_instant_payout,
)
from .methods import PayoutMethod, add_payout_method, list_payout_methods, remove_payout_method
from .sandbox_rail import DatabaseRailJournal
from .schedules import (
    Frequency,
    PayoutSchedule,
    get_schedule,
    run_scheduled_payouts,
    set_schedule,
)
from .service import (
    Payout,
    PayoutAsk,
    PayoutStatus,
    check_payout_request,
    get_payout,
    list_payouts,
    process_payout_events,
    recover_payouts,
    request_payout,
    send_requested,
)

__all__ = [
    "DatabaseRailJournal",
    "Frequency",
    "Payout",
    "PayoutAsk",
    "PayoutMethod",
    "PayoutSchedule",
    "PayoutStatus",
    "Quote",
    "add_payout_method",
    "check_payout_request",
    "confirm_quote",
    "get_payout",
    "get_quote",
    "get_schedule",
    "instant_payout_id",
    "list_payout_methods",
    "list_payouts",
    "payout_account",
    "process_payout_events",
    "quote_instant_payout",
    "recover_payouts",
    "remove_payout_method",
    "request_payout",
    "run_scheduled_payouts",
    "send_requested",
    "set_schedule",
]
