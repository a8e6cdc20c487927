"""The creator dashboard's page: balances, the earnings chart, keys, payment links, the
referral card and the payout and webhook sections. The console's forms and the payout and
webhook forms (:mod:`.payout_pages`) render it again with their answer."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response

from centime.auth import Scope, list_keys
from centime.clock import NS_PER_DAY
from centime.platform.events import SUBSCRIBABLE_TYPES, webhooks
from centime.platform.ids import format_id, new_id
from centime.platform.parties import merchant_balances
from centime.platform.payments import links
from centime.platform.payouts import (
    Frequency,
    PayoutStatus,
    get_schedule,
    list_payout_methods,
    list_payouts,
)
from centime.providers.payout_sandbox import (
    ACCOUNT_FAILS,
    ACCOUNT_REFUSED,
    ACCOUNT_REJECTS_PAYOUTS,
    ACCOUNT_RETURNS,
    ACCOUNT_SUCCEEDS,
)

from .chart import earnings_chart
from .common import Viewer, formats_of, locale_of, page, web_state
from .i18n import plain_amount, translations
from .wallet import referral_card

__all__ = [
    "MERCHANT_KEY_SCOPES",
    "daily_earnings",
    "dashboard_page",
    "lock_left_s",
    "merchant_sections",
    "payouts_in_flight",
]

# What a merchant's own key may be given: never admin (the operator's) nor review (the
# analysts' queue: a merchant has no use for it).
MERCHANT_KEY_SCOPES: Final = (Scope.READ, Scope.PAYMENTS, Scope.REFUNDS, Scope.PAYOUTS)
CHART_DAYS: Final = 14
CHART_ROWS_MAX: Final = 20_000
PAYOUT_HISTORY_MAX: Final = 20
ENDPOINTS_SHOWN_MAX: Final = 20
IN_FLIGHT: Final = (PayoutStatus.REQUESTED.value, PayoutStatus.PENDING.value)
# The sandbox payout rail's test account numbers (centime.providers.payout_sandbox).
SANDBOX_ACCOUNTS: Final = (
    (ACCOUNT_SUCCEEDS, "paid"),
    (ACCOUNT_FAILS, "fails"),
    (ACCOUNT_RETURNS, "returned"),
    (ACCOUNT_REJECTS_PAYOUTS, "rejected"),
    (ACCOUNT_REFUSED, "refused"),
)  # the page words each outcome


def payouts_in_flight(platform: Any, merchant_id: int) -> dict[str, int]:
    """Per asset, what the merchant's payouts not yet paid nor failed take from its
    earnings (requested or pending: the money is reserved, on its way)."""
    with platform.read() as fetch:
        rows = fetch(
            "SELECT asset, SUM(amount) FROM payouts WHERE merchant_id = ? AND status IN (?, ?)"
            " GROUP BY asset",
            (merchant_id, *IN_FLIGHT),
        )
    return {str(asset): int(total) for asset, total in rows if total is not None}


def lock_left_s(platform: Any, merchant_id: int) -> int:
    """Seconds payouts stay paused after the merchant's last bank-account change (0: none)."""
    with platform.read() as fetch:
        rows = fetch(
            "SELECT locked_until_ns FROM payout_locks WHERE merchant_id = ?", (merchant_id,)
        )
    left_ns = (int(rows[0][0]) if rows else 0) - int(platform.clock.now_ns())
    return max(0, -(-left_ns // 1_000_000_000))


def merchant_sections(platform: Any, merchant_id: int) -> dict[str, Any]:
    """What the dashboard's payout and webhook sections show."""
    return {
        "lock_left_s": lock_left_s(platform, merchant_id),
        "lock_s": platform.config.payouts.payout_method_lock_s,
        "methods": list_payout_methods(platform, merchant_id),
        "schedule": get_schedule(platform, merchant_id, "USD"),
        "payouts": list_payouts(platform, merchant_id, None, PAYOUT_HISTORY_MAX).items,
        "in_flight": payouts_in_flight(platform, merchant_id),
        "endpoints": webhooks.list_endpoints(
            platform, merchant_id, None, ENDPOINTS_SHOWN_MAX
        ).items,
        "event_types": sorted(SUBSCRIBABLE_TYPES),
        "sandbox_accounts": SANDBOX_ACCOUNTS,
        "frequencies": [f.value for f in Frequency],
        "attempt": new_id(),
    }


def daily_earnings(platform: Any, merchant_id: int | None, asset: str) -> list[int]:
    """Net earnings (amount - fee) per UTC day of a merchant (None: the platform's payment
    volume, gross), the last CHART_DAYS days, oldest first; at most CHART_ROWS_MAX
    payments are read (the newest days of a busier platform are then partial)."""
    now = platform.clock.now_ns()
    start = now - now % NS_PER_DAY - (CHART_DAYS - 1) * NS_PER_DAY
    with platform.read() as fetch:
        if merchant_id is None:
            rows = fetch(
                "SELECT created_ns, amount FROM payments WHERE asset = ? AND created_ns >= ?"
                f" ORDER BY created_ns LIMIT {CHART_ROWS_MAX}",
                (asset, start),
            )
        else:
            rows = fetch(
                "SELECT created_ns, amount - fee FROM payments WHERE merchant_id = ?"
                f" AND asset = ? AND created_ns >= ? ORDER BY created_ns LIMIT {CHART_ROWS_MAX}",
                (merchant_id, asset, start),
            )
    days = [0] * CHART_DAYS
    for created_ns, net in rows:
        days[min(CHART_DAYS - 1, (int(created_ns) - start) // NS_PER_DAY)] += int(net)
    return days


def _payout_default(balances: list[Any]) -> str:
    """The instant payout form's amount: what is available in dollars (a newcomer's first
    try is then one that can go through), else 1.00."""
    usd = next((b.available for b in balances if b.asset == "USD" and b.available > 0), None)
    return "1.00" if usd is None else plain_amount(usd, "USD")


def dashboard_page(
    request: Request[Any, Any, Any], me: Viewer, status_code: int = 200, **context: Any
) -> Response[str]:
    platform = web_state(request).platform
    merchant_id = me.user.party_id
    balances = merchant_balances(platform, merchant_id)
    return page(
        request,
        "dashboard.html",
        me,
        status_code,
        merchant_id=format_id("mer", merchant_id),
        balances=balances,
        payout_default=_payout_default(balances),
        chart=earnings_chart(
            daily_earnings(platform, merchant_id, "USD"),
            "USD",
            formats_of(request),
            translations(locale_of(request)),
        ),
        keys=list_keys(platform, "merchant", merchant_id, None, 50).items,
        links=links.list_links(platform, merchant_id).items,
        referral=referral_card(platform, "merchant", merchant_id),
        scopes=[s.value for s in MERCHANT_KEY_SCOPES],
        origin=web_state(request).origin or str(request.base_url).rstrip("/"),
        ok=request.query_params.get("ok"),
        format_id=format_id,
        **{**merchant_sections(platform, merchant_id), **context},
    )
