"""The creator dashboard's payouts and webhook endpoints.

Payouts: payout methods (a bank account added or removed only after a fresh confirmation
with a credential that existed before, as for a passkey change: a passkey this session
added does not count; the list shows the last four characters), the payout schedule, the instant
payout (a quote shows fee, net and expiry first; confirming needs a fresh step-up and is
screened by the risk engine, whose step-up answer asks for the passkey again) and the payout
history. Webhooks: endpoints (the secret shown once, at creation and rotation), enable and
disable, an endpoint's delivery log, and re-delivery.

Every form calls the platform's services (``centime.platform.payouts.methods``,
``payout_schedules``, ``instant_payouts``, ``payouts``, ``webhooks``), the instant payout's
confirmation its use case (``centime.usecases.pay_out``); nothing here writes to the store
itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.params import FromPath

from centime import usecases
from centime.auth.passkeys import UserKind, confirmation_refusal
from centime.money import ASSETS
from centime.platform.errors import Code, Refusal
from centime.platform.events import SUBSCRIBABLE_TYPES, webhooks
from centime.platform.ids import format_id, new_id, parse_id
from centime.platform.payouts import (
    Frequency,
    PayoutAsk,
    PayoutSchedule,
    add_payout_method,
    remove_payout_method,
    set_schedule,
)
from centime.platform.payouts import instant as instant_payouts

from .common import Viewer, done, page, page_for, posted, run, web_state
from .dashboard import dashboard_page
from .messages import N_
from .wallet import form_money, parse_money

__all__ = ["payout_routes"]

DELIVERIES_SHOWN_MAX: Final = 50
FIELD_LEN_MAX: Final = 200


def _again(
    request: Request[Any, Any, Any], me: Viewer, status_code: int, **context: Any
) -> Response[str]:
    return dashboard_page(request, me, status_code, **context)


async def _refused(
    request: Request[Any, Any, Any], me: Viewer, refusal: Refusal, **context: Any
) -> Response[Any]:
    """The dashboard again with the refusal; a step-up refusal asks for the passkey (401)."""
    step_up = refusal.code is Code.STEP_UP_REQUIRED
    status = 401 if step_up else 404 if refusal.code.value.endswith("not_found") else 422
    return await run(
        request, lambda: _again(request, me, status, error=refusal, need_stepup=step_up, **context)
    )


def _step_up(what: str) -> Refusal:
    return Refusal(Code.STEP_UP_REQUIRED, f"Confirm with your passkey to {what}.")


def _attempt_id(fields: dict[str, str]) -> int:
    """The id the form carried (drawn with the page): a double submit acts once."""
    text = fields.get("attempt", "")[:20]
    value = int(text) if text.isdigit() else 0
    return value if 0 < value < 2**63 else new_id()


def _client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client is not None else None


# ------------------------------------------------------------------ payout methods


@post("/dashboard/payout-methods")
async def add_method(request: Request[Any, Any, Any]) -> Response[Any]:
    """Add a bank account: a fresh passkey confirmation first (it locks payouts a while)."""
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    if not me.confirmed:
        return await _refused(request, me, _step_up("add a bank account"))
    holder = fields.get("holder_name", "").strip()[:FIELD_LEN_MAX]
    number = fields.get("account_number", "").strip()[:FIELD_LEN_MAX]
    method_id = _attempt_id(fields)
    # The rail is called outside any unit (add_payout_method does so), off the event loop.
    result = await run(
        request, lambda: add_payout_method(platform, me.user.party_id, holder, number, method_id)
    )
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return done("/dashboard", "method_added")


@post("/dashboard/payout-methods/{method_id:str}/remove")
async def remove_method(request: Request[Any, Any, Any], method_id: FromPath[str]) -> Response[Any]:
    _, me, platform = await posted(request, UserKind.MERCHANT)
    if not me.confirmed:
        return await _refused(request, me, _step_up("remove a bank account"))
    op = remove_payout_method(platform, me.user.party_id, parse_id("pm", method_id) or 0).then(
        lambda ctx, inner: confirmation_refusal(ctx, me.user.id, me.session.id_hash) or inner(ctx)
    )  # checked again in the unit: the confirmation may have lapsed meanwhile
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return done("/dashboard", "method_removed")


# ------------------------------------------------------------------ schedule


def _small_int(text: str, default: int) -> int:
    text = text.strip()[:4]
    return int(text) if text.isdigit() else default


@post("/dashboard/payout-schedule")
async def schedule(request: Request[Any, Any, Any]) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    asset = fields.get("asset", "USD")
    minimum_text = fields.get("minimum", "").strip()
    minimum: int | Refusal = 0
    if minimum_text not in ("", "0"):
        parsed = parse_money(asset, minimum_text)
        minimum = parsed if isinstance(parsed, Refusal) else parsed[1]
    try:
        frequency = Frequency(fields.get("frequency", ""))
    except ValueError:
        return await _refused(
            request, me, Refusal(Code.INVALID_REQUEST, "the frequency is daily, weekly or monthly")
        )
    if isinstance(minimum, Refusal):
        return await _refused(request, me, minimum)
    asked = PayoutSchedule(
        me.user.party_id,
        asset if asset in ASSETS else "",
        frequency,
        weekday=_small_int(fields.get("weekday", ""), 0),
        month_day=_small_int(fields.get("month_day", ""), 1),
        minimum_amount=minimum,
    )
    op = set_schedule(platform, asked)
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return done("/dashboard", "schedule_saved")


# ------------------------------------------------------------------ instant payout


@post("/dashboard/payouts/quote")
async def quote(request: Request[Any, Any, Any]) -> Response[Any]:
    """Price an instant payout: the page shows fee, net and expiry before confirming."""
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    money = form_money(fields)
    if isinstance(money, Refusal):
        return await _refused(request, me, money)
    ask = PayoutAsk(me.user.party_id, money[0], money[1])
    op = instant_payouts.quote_instant_payout(platform, ask, quote_id=_attempt_id(fields))
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return await run(request, lambda: _again(request, me, 200, quote=result))


@post("/dashboard/payouts/confirm")
async def confirm(request: Request[Any, Any, Any]) -> Response[Any]:
    """Pay the quote out now: a fresh step-up, then the risk screen (in the service)."""
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    quote_id = parse_id("quo", fields.get("quote", "").strip()) or 0
    found = await run(
        request, lambda: instant_payouts.get_quote(platform, quote_id, me.user.party_id)
    )
    if found is None:
        return await _refused(request, me, Refusal(Code.QUOTE_NOT_FOUND, "no such quote"))
    if not me.fresh:
        return await _refused(request, me, _step_up("pay out now"), quote=found)
    result = await run(
        request,
        lambda: usecases.pay_out(
            platform,
            usecases.InstantPayoutRequest(me.user.party_id, quote_id),
            usecases.Origin(ip=_client_ip(request), stepped_up_at_ns=me.session.stepped_up_ns),
        ),
    )
    if isinstance(result, Refusal):
        return await _refused(request, me, result, quote=found)
    return done("/dashboard", f"payout_{result.status.value}")


# ------------------------------------------------------------------ webhooks


@post("/dashboard/webhooks")
async def new_endpoint(request: Request[Any, Any, Any]) -> Response[Any]:
    """A new endpoint; its signing secret is shown this once."""
    form = await request.form()
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    types = [
        v for v in form.getall("event_type", [])[: len(SUBSCRIBABLE_TYPES)] if isinstance(v, str)
    ]
    description = fields.get("description", "").strip()[:FIELD_LEN_MAX] or None
    op = webhooks.create_endpoint(
        platform,
        me.user.party_id,
        fields.get("url", "").strip()[:2048],
        types,
        description,
        endpoint_id=_attempt_id(fields),
    )
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return await run(
        request,
        lambda: _again(
            request,
            me,
            200,
            new_secret=result.secret,
            secret_for=format_id("we", result.endpoint.id),
        ),
    )


@post("/dashboard/webhooks/{endpoint_id:str}/{action:str}")
async def change_endpoint(
    request: Request[Any, Any, Any], endpoint_id: FromPath[str], action: FromPath[str]
) -> Response[Any]:
    """enable, disable or rotate (the new secret is shown once; the old one signs on for
    the rotation's overlap)."""
    _, me, platform = await posted(request, UserKind.MERCHANT)
    parsed = parse_id("we", endpoint_id) or 0
    if action == "rotate":
        rotated = await run(
            request,
            lambda: platform.execute(webhooks.rotate_secret(platform, me.user.party_id, parsed)),
        )
        if isinstance(rotated, Refusal):
            return await _refused(request, me, rotated)
        return await run(
            request,
            lambda: _again(request, me, 200, new_secret=rotated.secret, secret_for=endpoint_id),
        )
    if action not in ("enable", "disable"):
        return await _refused(request, me, Refusal(Code.INVALID_REQUEST, "no such action"))
    result = await run(
        request,
        lambda: platform.execute(
            webhooks.update_endpoint(platform, me.user.party_id, parsed, enabled=action == "enable")
        ),
    )
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return done("/dashboard", f"endpoint_{action}d")


def _deliveries_page(
    request: Request[Any, Any, Any],
    me: Viewer,
    endpoint_id: str,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    platform = web_state(request).platform
    parsed = parse_id("we", endpoint_id) or 0
    endpoint = webhooks.get_endpoint(platform, parsed, me.user.party_id)
    if endpoint is None:
        return page(request, "deliveries.html", me, 404, error=N_("No such webhook endpoint."))
    deliveries = _with_event_types(
        platform, webhooks.list_deliveries(platform, parsed, None, DELIVERIES_SHOWN_MAX).items
    )
    # An attempt names its delivery; the page names the event it carried.
    events = {d.id: f"{d.event_type} {format_id('evt', d.event_id)}" for d in deliveries}
    return page(
        request,
        "deliveries.html",
        me,
        status_code,
        endpoint=endpoint,
        endpoint_ref=endpoint_id,
        deliveries=deliveries,
        events=events,
        attempts=webhooks.list_attempts(platform, parsed, None, DELIVERIES_SHOWN_MAX).items,
        ok=request.query_params.get("ok"),
        format_id=format_id,
        **context,
    )


def _with_event_types(platform: Any, deliveries: list[Any]) -> list[Any]:
    """The deliveries with their events' types (one read for the page's deliveries)."""
    ids = sorted({d.event_id for d in deliveries})
    if not ids:
        return deliveries
    with platform.read() as fetch:
        marks = ", ".join("?" * len(ids))  # at most DELIVERIES_SHOWN_MAX
        rows = fetch(f"SELECT id, type FROM outbox_events WHERE id IN ({marks})", tuple(ids))
    types = {int(event_id): str(kind) for event_id, kind in rows}
    return [
        dataclasses.replace(d, event_type=d.event_type or types.get(d.event_id, ""))
        for d in deliveries
    ]


@get("/dashboard/webhooks/{endpoint_id:str}")
async def deliveries(request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> Response[Any]:
    """An endpoint's delivery log: its deliveries and their attempts, newest first."""
    return await page_for(
        request, UserKind.MERCHANT, lambda me: _deliveries_page(request, me, endpoint_id)
    )


@post("/dashboard/deliveries/{delivery_id:str}/redeliver")
async def redeliver(request: Request[Any, Any, Any], delivery_id: FromPath[str]) -> Response[Any]:
    _, me, platform = await posted(request, UserKind.MERCHANT)
    parsed = parse_id("wd", delivery_id) or 0
    result = await run(
        request, lambda: platform.execute(webhooks.redeliver(platform, me.user.party_id, parsed))
    )
    if isinstance(result, Refusal):
        return await _refused(request, me, result)
    return done(f"/dashboard/webhooks/{format_id('we', result.endpoint_id)}", "redelivering")


payout_routes: Final = [
    add_method,
    remove_method,
    schedule,
    quote,
    confirm,
    new_endpoint,
    change_endpoint,
    deliveries,
    redeliver,
]
