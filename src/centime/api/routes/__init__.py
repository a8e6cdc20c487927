"""The /v1 routes, one module per resource; ``api_routes`` is what the app mounts (behind
the authentication guard). A new resource: a module here, its list added below."""

from .holds import hold_routes
from .keys import key_routes
from .mandates import mandate_routes
from .parties import party_routes
from .payments import payment_routes
from .payouts import payout_routes
from .pricing import pricing_routes
from .refunds import refund_routes
from .reports import report_routes
from .risk import risk_routes
from .topups import topup_routes
from .transfers import transfer_routes
from .webhooks import webhook_routes

__all__ = ["api_routes"]

api_routes = [
    *party_routes,
    *key_routes,
    *payment_routes,
    *refund_routes,
    *mandate_routes,
    *hold_routes,
    *transfer_routes,
    *topup_routes,
    *risk_routes,
    *pricing_routes,
    *payout_routes,
]
api_routes += [*webhook_routes, *report_routes]  # webhooks and reports (issue 4)
