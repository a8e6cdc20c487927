"""The creator dashboard (earnings, chart, API keys, payment links) and the operator console
(parties, ledger health, the audit log's head, metrics; roles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.params import FromPath

from centime.audit.reader import AuditReader
from centime.audit.verify import verify_log
from centime.auth import Scope, create_key, revoke_key
from centime.auth.passkeys import UserKind
from centime.ledger.port import LedgerStore
from centime.platform.context import Operation
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id, parse_id
from centime.platform.parties import (
    Status,
    list_customers,
    list_merchants,
    set_customer,
    set_merchant,
)
from centime.platform.payments import links

from .chart import earnings_chart
from .common import (
    Viewer,
    check_csrf,
    done,
    formats_of,
    locale_of,
    page,
    page_for,
    posted,
    require,
    run,
    web_state,
)
from .dashboard import MERCHANT_KEY_SCOPES, daily_earnings, dashboard_page
from .i18n import translations
from .messages import N_
from .review_pages import case_party_names, count_bars, decision_counts, open_cases
from .wallet import form_money

__all__ = ["console_routes"]

ADMIN_ONLY: Final = N_("Your role cannot do this; an admin can.")


@get("/dashboard")
async def dashboard(request: Request[Any, Any, Any]) -> Response[Any]:
    return await page_for(request, UserKind.MERCHANT, lambda me: dashboard_page(request, me))


@post("/dashboard/keys")
async def new_key(request: Request[Any, Any, Any]) -> Response[Any]:
    """A new API key: a fresh passkey confirmation (step-up) first; shown this once."""
    form = await request.form()
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    if not me.fresh:
        return await run(
            request,
            lambda: dashboard_page(
                request,
                me,
                401,
                error=Refusal(Code.STEP_UP_REQUIRED, "step up first"),
                need_stepup=True,
            ),
        )
    chosen = frozenset(
        Scope(v) for v in form.getall("scope", []) if v in {s.value for s in MERCHANT_KEY_SCOPES}
    )
    op = create_key(platform, "merchant", me.user.party_id, fields.get("name", "")[:200], chosen)
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await run(request, lambda: dashboard_page(request, me, 422, error=result))
    return await run(request, lambda: dashboard_page(request, me, new_token=result.token))


@post("/dashboard/keys/{key_id:str}/revoke")
async def revoke(request: Request[Any, Any, Any], key_id: FromPath[str]) -> Response[Any]:
    await check_csrf(request)
    me = await require(request, UserKind.MERCHANT)
    state = web_state(request)
    parsed = parse_id("key", key_id) or 0
    op = revoke_key(state.platform, parsed, ("merchant", me.user.party_id))
    result = await run(request, lambda: state.platform.execute(op))
    if isinstance(result, Refusal):
        return await run(request, lambda: dashboard_page(request, me, 404, error=result))
    api = request.app.state.get("api")
    if api is not None:
        api.verifier.forget(parsed)
    return done("/dashboard", "key_revoked")


@post("/dashboard/links")
async def new_link(request: Request[Any, Any, Any]) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.MERCHANT)
    money = form_money(fields)
    if isinstance(money, Refusal):
        return await run(request, lambda: dashboard_page(request, me, 400, error=money))
    op = links.create_link(
        platform,
        me.user.party_id,
        money[0],
        money[1],
        fields.get("description", ""),
        fields.get("single_use") == "on",
    )
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await run(request, lambda: dashboard_page(request, me, 400, error=result))
    return done("/dashboard", "link_created")


@post("/dashboard/links/{link_id:str}/disable")
async def disable(request: Request[Any, Any, Any], link_id: FromPath[str]) -> Response[Any]:
    _, me, platform = await posted(request, UserKind.MERCHANT)
    op = links.disable_link(platform, parse_id("plink", link_id) or 0, me.user.party_id)
    result = await run(request, lambda: platform.execute(op))
    if isinstance(result, Refusal):
        return await run(request, lambda: dashboard_page(request, me, 404, error=result))
    return done("/dashboard", "link_disabled")


# ------------------------------------------------------------------ operator console


def _console(
    request: Request[Any, Any, Any], me: Viewer, status_code: int = 200, **context: Any
) -> Response[str]:
    platform = web_state(request).platform
    with platform.read() as fetch:
        counts = {
            name: int(fetch(f"SELECT count(*) FROM {table}", ())[0][0])
            for name, table in (
                ("customers", "customers"),
                ("merchants", "merchants"),
                ("payments", "payments"),
                ("transfers", "p2p_transfers"),
                ("top-ups", "topups"),
            )
        }
    with platform.ledger.store.audit_reader() as fetch:
        head = AuditReader(fetch).latest_head()
    decisions = decision_counts(platform)
    cases = open_cases(platform)
    return page(
        request,
        "console.html",
        me,
        status_code,
        customers=list_customers(platform, None, 50).items,
        merchants=list_merchants(platform, None, 50).items,
        counts=counts,
        head=head.to_json() if head else None,
        chart=earnings_chart(
            daily_earnings(platform, None, "USD"),
            "USD",
            formats_of(request),
            translations(locale_of(request)),
        ),
        tiers=sorted(platform.config.tiers),
        cases=cases,
        party_names=case_party_names(platform, cases),
        decisions=decisions,
        decision_bars=count_bars(decisions),
        ok=request.query_params.get("ok"),
        format_id=format_id,
        **context,
    )


@get("/console")
async def console(request: Request[Any, Any, Any]) -> Response[Any]:
    return await page_for(request, UserKind.OPERATOR, lambda me: _console(request, me))


def _forbidden(request: Request[Any, Any, Any], me: Viewer, what: str) -> Response[str]:
    del what  # the sentence is the same for every admin-only change
    return _console(request, me, 403, error=ADMIN_ONLY)


def _status_and_tier(fields: dict[str, str]) -> tuple[Status | None, int | None]:
    """A party form's asked status (freeze, unfreeze) and KYC tier; None: unchanged."""
    status = {"freeze": Status.FROZEN, "unfreeze": Status.ACTIVE}.get(fields.get("action", ""))
    tier = int(fields["tier"]) if fields.get("tier", "").isdigit() else None
    return status, tier


async def _change(
    request: Request[Any, Any, Any], me: Viewer, op: Operation[Any], notice: str
) -> Response[Any]:
    """Run a party's change: the console with the refusal (422), else back with ``notice``."""
    result = await run(request, lambda: web_state(request).platform.execute(op))
    if isinstance(result, Refusal):
        return await run(request, lambda: _console(request, me, 422, error=result))
    return done("/console", notice)


@post("/console/customers/{customer_id:str}")
async def change_customer(
    request: Request[Any, Any, Any], customer_id: FromPath[str]
) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.OPERATOR)
    if not me.is_admin:
        return await run(request, lambda: _forbidden(request, me, "freeze or change customers"))
    op = set_customer(platform, parse_id("cus", customer_id) or 0, *_status_and_tier(fields))
    return await _change(request, me, op, "customer_changed")


@post("/console/merchants/{merchant_id:str}")
async def change_merchant(
    request: Request[Any, Any, Any], merchant_id: FromPath[str]
) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.OPERATOR)
    fee_bp = int(fields["fee_bp"]) if fields.get("fee_bp", "").isdigit() else None
    if not me.is_admin:
        what = "change pricing" if fee_bp is not None else "freeze or change merchants"
        return await run(request, lambda: _forbidden(request, me, what))
    status, tier = _status_and_tier(fields)
    op = set_merchant(platform, parse_id("mer", merchant_id) or 0, status, tier, fee_bp)
    return await _change(request, me, op, "merchant_changed")


def _ledger_violations(store: LedgerStore) -> list[str]:
    found = []
    for violation in store.check():
        found.append(str(violation)[:300])
        if len(found) >= 20:
            break
    return found


def _audit_problems(store: LedgerStore) -> list[str]:
    with store.audit_reader() as fetch:
        report = verify_log(fetch, problems_max=20)
    return [str(p) for p in report.problems] if not report.ok else []


async def _checked(
    request: Request[Any, Any, Any], check: Callable[[LedgerStore], list[str]], shown_as: str
) -> Response[Any]:
    """Run a check of the store off the event loop; the console shows what it found."""
    _, me, platform = await posted(request, UserKind.OPERATOR)
    found = await run(request, lambda: check(platform.ledger.store))
    return await run(request, lambda: _console(request, me, 200, **{shown_as: found}))


@post("/console/ledger-check")
async def ledger_check(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _checked(request, _ledger_violations, "ledger")


@post("/console/audit-verify")
async def audit_verify(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _checked(request, _audit_problems, "audit")


@get("/console/metrics")
async def console_metrics(request: Request[Any, Any, Any]) -> Response[Any]:
    """The Prometheus exposition for a signed-in operator (the API's ``/metrics`` wants an
    operator's key: the figures describe every tenant's traffic)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from centime.http.metrics import metrics_of

    await require(request, UserKind.OPERATOR)
    return Response(metrics_of(request).exposition(), media_type=CONTENT_TYPE_LATEST)


console_routes: Final = [
    dashboard,
    new_key,
    revoke,
    new_link,
    disable,
    console,
    change_customer,
    change_merchant,
    ledger_check,
    audit_verify,
    console_metrics,
]
