"""The customer wallet and the hosted checkout (payment links, the pay button, budgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from centime import usecases
from centime.auth.passkeys import UserKind
from centime.money import ASSETS
from centime.platform import referrals
from centime.platform.errors import Code, Refusal
from centime.platform.funding import list_topups
from centime.platform.ids import format_id, new_id, parse_id
from centime.platform.parties import customer_balances, get_customer, get_merchant
from centime.platform.payments import links, list_p2p_transfers, list_payments
from centime.platform.review import InReview
from centime.providers import Method

from .common import (
    Viewer,
    check_csrf,
    done,
    page,
    page_for,
    posted,
    refused,
    require,
    run,
    viewer,
    web_state,
)
from .messages import N_

__all__ = ["wallet_routes"]

HISTORY_READ_MAX: Final = 100  # of each kind, newest first, before filtering
SEARCH_LEN_MAX: Final = 100
SANDBOX_CARD: Final = "4242424242424242"
BUDGET_TIMEOUT_S: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the wallet's history (the page words it in the reader's language)."""

    kind: str  # topup, payment, sent, received
    created_ns: int
    asset: str
    amount: int  # signed: money in is positive
    who: str  # the merchant or the other person, by name
    detail: str  # a top-up's method, a payment's description, a transfer's note
    status: str
    ref: str | None = None  # the public id a receipt is for (top-ups, payments, transfers)


class _Names:
    """Party names read once per page."""

    def __init__(self, platform: Any) -> None:
        self._platform = platform
        self._found: dict[tuple[str, int], str] = {}

    def merchant(self, merchant_id: int) -> str:
        if ("mer", merchant_id) not in self._found:
            found = get_merchant(self._platform, merchant_id)
            self._found["mer", merchant_id] = found.name if found else "-"
        return self._found["mer", merchant_id]

    def customer(self, customer_id: int) -> str:
        if ("cus", customer_id) not in self._found:
            found = get_customer(self._platform, customer_id)
            self._found["cus", customer_id] = found.name if found else "-"
        return self._found["cus", customer_id]


def _history(platform: Any, customer_id: int, kind: str, query: str) -> list[Entry]:
    entries: list[Entry] = []
    names = _Names(platform)
    if kind in ("", "topup"):
        for t in list_topups(platform, customer_id, None, HISTORY_READ_MAX).items:
            entries.append(
                Entry(
                    "topup",
                    t.created_ns,
                    t.asset,
                    t.amount,
                    "",
                    t.method.value,
                    t.status.value,
                    format_id("top", t.id),
                )
            )
    if kind in ("", "payment"):
        for p in list_payments(platform, None, customer_id, None, HISTORY_READ_MAX).items:
            entries.append(
                Entry(
                    "payment",
                    p.created_ns,
                    p.asset,
                    -p.amount,
                    names.merchant(p.merchant_id),
                    p.description or "",
                    "refunded" if p.refunded else "paid",
                    format_id("pay", p.id),
                )
            )
    if kind in ("", "sent", "received"):
        for tr in list_p2p_transfers(platform, customer_id, None, HISTORY_READ_MAX).items:
            outgoing = tr.sender_id == customer_id
            if kind and (kind == "sent") != outgoing:
                continue
            other = names.customer(tr.recipient_id if outgoing else tr.sender_id)
            entries.append(
                Entry(
                    "sent" if outgoing else "received",
                    tr.created_ns,
                    tr.asset,
                    -tr.amount if outgoing else tr.amount,
                    other,
                    tr.note or "",
                    "done",
                    format_id("tr", tr.id),
                )
            )
    needle = query.strip().lower()[:SEARCH_LEN_MAX]
    if needle:
        entries = [e for e in entries if needle in f"{e.who} {e.detail} {e.ref}".lower()]
    return sorted(entries, key=lambda e: e.created_ns, reverse=True)[:HISTORY_READ_MAX]


def _wallet_page(
    request: Request[Any, Any, Any], me: Viewer, status_code: int = 200, **context: Any
) -> Response[str]:
    platform = web_state(request).platform
    kind = request.query_params.get("kind", "")
    kind = kind if kind in ("topup", "payment", "sent", "received") else ""
    query = request.query_params.get("q", "")[:SEARCH_LEN_MAX]
    return page(
        request,
        "wallet.html",
        me,
        status_code,
        customer_id=format_id("cus", me.user.party_id),
        balances=customer_balances(platform, me.user.party_id),
        history=_history(platform, me.user.party_id, kind, query),
        kind=kind,
        q=query,
        budgets=links.list_budgets(platform, me.user.party_id),
        referral=referral_card(platform, "customer", me.user.party_id),
        step_up_above=web_state(request).step_up_transfer_above["USD"],
        assets=sorted(ASSETS),
        ok=request.query_params.get("ok"),
        attempt=new_id(),
        **context,
    )


def referral_card(platform: Any, kind: str, party_id: int) -> dict[str, Any]:
    """The party's code to share (made on first ask) and who referred it, if anyone."""
    party: Any = (kind, party_id)
    code = platform.execute(referrals.referral_code(platform, party))
    found = referrals.get_referral(platform, party)
    return {"code": None if isinstance(code, Refusal) else code, "referred": found}


def parse_money(asset: str, text: str) -> tuple[str, int] | Refusal:
    found = ASSETS.get(asset)
    if found is None:
        return Refusal(Code.UNKNOWN_ASSET, f"unknown asset {asset[:12]!r}")
    try:
        amount = found.parse(text.strip()[:40], allow_zero=False)
    except (ValueError, TypeError):
        return Refusal(Code.INVALID_AMOUNT, "write the amount as a number, like 2.50")
    return asset, amount


def form_money(fields: dict[str, str]) -> tuple[str, int] | Refusal:
    """The money a form posts: its ``amount`` in its ``asset`` (USD when it names none)."""
    return parse_money(fields.get("asset", "USD"), fields.get("amount", ""))


@get("/wallet")
async def wallet(request: Request[Any, Any, Any]) -> Response[Any]:
    return await page_for(request, UserKind.CUSTOMER, lambda me: _wallet_page(request, me))


@post("/wallet/topup")
async def topup(request: Request[Any, Any, Any]) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.CUSTOMER)
    money = form_money(fields)
    provider = platform.providers.funding.get("sandbox")
    if isinstance(money, Refusal) or provider is None:
        refusal = (
            money
            if isinstance(money, Refusal)
            else Refusal(Code.PROVIDER_UNAVAILABLE, "no funding provider is configured")
        )
        return await run(
            request, lambda: _wallet_page(request, me, 400, error=refusal, topup_form=fields)
        )
    asset, amount = money
    # Screened by the risk engine first, as the API's top-ups are.
    result = await run(
        request,
        lambda: usecases.topup(
            platform,
            provider,
            usecases.TopUpRequest(
                me.user.party_id, asset, amount, Method.CARD.value, SANDBOX_CARD, new_id()
            ),
            _origin(request, me),
        ),
    )
    if isinstance(result, Refusal):
        # The top-up form keeps its amount; the send form stays empty.
        return await _refused_page(request, me, result, topup_form=fields)
    if isinstance(result, InReview):
        return done("/wallet", "in_review")
    return done("/wallet", f"topup_{result.status.value}")


def _origin(request: Request[Any, Any, Any], me: Viewer) -> usecases.Origin:
    """The person behind the page, as the risk screen sees them."""
    ip = request.client.host if request.client is not None else None
    return usecases.Origin(None, ip, me.session.stepped_up_ns)


async def _refused_page(
    request: Request[Any, Any, Any], me: Viewer, refusal: Refusal, **forms: dict[str, str]
) -> Response[Any]:
    """The wallet again with the refusal in words; the risk engine's step-up asks for the
    passkey (401, as the page's own step-up does). ``forms``: the form that was sent, with
    what it carried (``form``: send money, ``topup_form``: top up)."""
    step_up = refusal.code is Code.STEP_UP_REQUIRED
    return await run(
        request,
        lambda: _wallet_page(
            request, me, 401 if step_up else 422, error=refusal, need_stepup=step_up, **forms
        ),
    )


@post("/wallet/send")
async def send_money(request: Request[Any, Any, Any]) -> Response[Any]:
    fields = await check_csrf(request)
    me = await require(request, UserKind.CUSTOMER)
    state = web_state(request)
    platform = state.platform
    money = form_money(fields)
    recipient = parse_id("cus", fields.get("recipient", "").strip())
    refusal: Refusal | None = money if isinstance(money, Refusal) else None
    if refusal is None and recipient is None:
        refusal = Refusal(Code.CUSTOMER_NOT_FOUND, "the recipient is a customer id: cus_...")
    if (
        refusal is None
        and not isinstance(money, Refusal)
        and money[1] > state.step_up_transfer_above[money[0]]
        and not me.fresh
    ):
        refusal = Refusal(Code.STEP_UP_REQUIRED, "confirm this transfer with your passkey")
    if refusal is not None or isinstance(money, Refusal) or recipient is None:
        final = refusal or Refusal(Code.INVALID_REQUEST, "check the form")
        return await run(
            request,
            lambda: _wallet_page(
                request,
                me,
                401 if final.code is Code.STEP_UP_REQUIRED else 400,
                error=final,
                need_stepup=final.code is Code.STEP_UP_REQUIRED,
                form=fields,
            ),
        )
    note = fields.get("note", "").strip()[:200] or None
    result = await run(
        request,
        lambda: usecases.send(
            platform,
            usecases.TransferRequest(
                me.user.party_id,
                recipient,
                money[0],
                money[1],
                _attempt_id(fields),  # a double submit sends once
                note,
            ),
            _origin(request, me),
        ),
    )
    if isinstance(result, Refusal):
        return await _refused_page(request, me, result, form=fields)
    if isinstance(result, InReview):
        return done("/wallet", "in_review")
    return done("/wallet", "sent")


@post("/referral/claim")
async def claim(request: Request[Any, Any, Any]) -> Response[Any]:
    """Name who referred you, within the claim window after signing up."""
    fields = await check_csrf(request)
    me = await viewer(request)
    if me is None or me.user.kind is UserKind.OPERATOR:
        return Redirect("/app?signin=1", status_code=303)
    platform = web_state(request).platform
    party: Any = (me.user.kind.value, me.user.party_id)
    op = referrals.claim_referral(platform, party, fields.get("code", "").strip()[:40])
    result = await run(request, lambda: platform.execute(op))
    home = "/wallet" if me.user.kind is UserKind.CUSTOMER else "/dashboard"
    if isinstance(result, Refusal):
        return Redirect(f"{home}?ok=referral_refused", status_code=303)
    return done(home, "referral_claimed")


@post("/wallet/budgets/{budget_id:int}/settle")
async def settle(request: Request[Any, Any, Any], budget_id: FromPath[int]) -> Response[Any]:
    _, me, platform = await posted(request, UserKind.CUSTOMER)
    result = await run(
        request,
        lambda: platform.execute(links.settle_budget(platform, budget_id, me.user.party_id)),
    )
    if isinstance(result, Refusal):
        return await run(request, lambda: _wallet_page(request, me, 404, error=result))
    return done("/wallet", "budget_closed")


# ------------------------------------------------------------------ hosted checkout


@get("/pay/link/{link_id:str}")
async def link_page(request: Request[Any, Any, Any], link_id: FromPath[str]) -> Response[Any]:
    platform = web_state(request).platform
    me = await viewer(request)
    link = await run(request, lambda: links.get_link(platform, _link_id(link_id)))
    if link is None:
        return page(
            request, "checkout.html", me, 404, error=N_("This payment link does not exist.")
        )
    merchant = await run(request, lambda: get_merchant(platform, link.merchant_id))
    return page(
        request,
        "checkout.html",
        me,
        link=link,
        link_id=link_id,
        attempt=new_id(),
        merchant=merchant,
        paid=request.query_params.get("ok") == "paid",
    )


def _link_id(text: str) -> int:
    return parse_id("plink", text) or 0


@post("/pay/link/{link_id:str}")
async def pay_link(request: Request[Any, Any, Any], link_id: FromPath[str]) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.CUSTOMER)
    pay_id = _attempt_id(fields)
    result = await run(
        request,
        lambda: platform.execute(
            links.pay_link(platform, _link_id(link_id), me.user.party_id, pay_id)
        ),
    )
    if isinstance(result, Refusal):
        link = await run(request, lambda: links.get_link(platform, _link_id(link_id)))
        return refused(
            request,
            "checkout.html",
            me,
            result,
            link=link,
            link_id=link_id,
            attempt=new_id(),
            merchant=link and get_merchant(platform, link.merchant_id),
        )
    return Redirect(f"/pay/link/{link_id}?ok=paid", status_code=303)


def _attempt_id(fields: dict[str, str]) -> int:
    """The payment id the form carried (drawn when the page was drawn): a double submit
    pays once."""
    try:
        value = int(fields.get("attempt", "0")[:20])
    except ValueError:
        value = 0
    return value if 0 < value < 2**63 else new_id()


@get("/pay/button")
async def button_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The hosted page the pay button opens: pay once, or in one click within a budget."""
    me = await viewer(request)
    platform = web_state(request).platform
    merchant_id = parse_id("mer", request.query_params.get("merchant", ""))
    money = parse_money(
        request.query_params.get("asset", "USD"), request.query_params.get("amount", "")
    )
    merchant = None
    if merchant_id is not None:
        merchant = await run(request, lambda: get_merchant(platform, merchant_id))
    description = request.query_params.get("description", "")[:200]
    if not merchant or isinstance(money, Refusal):
        return page(request, "button.html", me, 400, error=N_("This pay button is misconfigured."))
    budget = None
    if me is not None and me.user.kind is UserKind.CUSTOMER:
        budget = await run(
            request, lambda: links.open_budget(platform, me.user.party_id, merchant.id, money[0])
        )
    return page(
        request,
        "button.html",
        me,
        merchant=merchant,
        asset=money[0],
        amount=money[1],
        amount_text=request.query_params.get("amount", ""),
        description=description,
        budget=budget,
        attempt=new_id(),
        ok=request.query_params.get("ok"),
        merchant_ref=format_id("mer", merchant.id),
        back=_back(
            request, str(request.query_params.get("back") or request.headers.get("referer", ""))
        ),
    )


BACK_LEN_MAX: Final = 500


def _back(request: Request[Any, Any, Any], url: str) -> str:
    """The merchant's page to go back to (the button passes it; else the referrer): an
    http(s) URL only (never ``javascript:``), and never this platform's own pay pages (a
    second payment is not "the site")."""
    url = url.strip()
    if not url.startswith(("https://", "http://")) or len(url) > BACK_LEN_MAX:
        return ""
    own = str(request.base_url).rstrip("/")
    if url.startswith((f"{own}/pay/", f"{own}/app", f"{own}/stepup")):
        return ""
    return url


async def _button_result(
    request: Request[Any, Any, Any],
    me: Viewer,
    fields: dict[str, str],
    merchant_id: int,
    asset: str,
    amount: int,
    description: str | None,
) -> Any:
    """What the button's mode does: approve a budget then spend from it, spend from the
    budget (one click), or pay once (screened)."""
    platform = web_state(request).platform
    mode = fields.get("mode", "once")
    result: Any = Refusal(Code.INVALID_REQUEST, "the button pays once, by budget or by one click")
    if mode == "budget":
        budget_amount = parse_money(asset, fields.get("budget", ""))
        if isinstance(budget_amount, Refusal):
            result = budget_amount
        else:
            result = await run(
                request,
                lambda: platform.execute(
                    links.approve_budget(
                        platform,
                        me.user.party_id,
                        merchant_id,
                        asset,
                        budget_amount[1],
                        BUDGET_TIMEOUT_S,
                    )
                ),
            )
        if not isinstance(result, Refusal):
            mode = "oneclick"
    if mode == "oneclick":
        result = await run(
            request,
            lambda: platform.execute(
                links.spend_budget(platform, me.user.party_id, merchant_id, asset, amount)
            ),
        )
    elif mode == "once":
        # Screened by the risk engine, as the API's payments are (a review holds the money).
        pay_id = _attempt_id(fields)
        return await run(
            request,
            lambda: usecases.pay(
                platform,
                usecases.PaymentRequest(
                    me.user.party_id, merchant_id, asset, amount, pay_id, description
                ),
                _origin(request, me),
            ),
        )
    return result


@post("/pay/button")
async def button_pay(request: Request[Any, Any, Any]) -> Response[Any]:
    fields, me, platform = await posted(request, UserKind.CUSTOMER)
    merchant_id = parse_id("mer", fields.get("merchant", "")) or 0
    money = form_money(fields)
    if isinstance(money, Refusal):
        return page(request, "button.html", me, 400, error=money)
    asset, amount = money
    description = fields.get("description", "")[:200] or None
    result = await _button_result(request, me, fields, merchant_id, asset, amount, description)
    back = _back(request, fields.get("back", ""))
    if isinstance(result, Refusal) and result.code is Code.STEP_UP_REQUIRED:
        # The risk engine asks for a passkey: confirm it, then back to this pay page.
        again = (
            f"/pay/button?merchant={format_id('mer', merchant_id)}&asset={asset}"
            f"&amount={quote(fields.get('amount', '')[:40])}"
            f"&description={quote((description or '')[:40])}&back={quote(back)}"
        )
        return Redirect(f"/stepup?next={quote(again[:1000])}", status_code=303)
    if isinstance(result, Refusal):
        # The pay page again, with the refusal in words and the way back to the site.
        refusal: Refusal = result
        merchant = await run(request, lambda: get_merchant(platform, merchant_id))
        return page(
            request,
            "button.html",
            me,
            402 if refusal.code in (Code.INSUFFICIENT_FUNDS, Code.BUDGET_EXCEEDED) else 422,
            error=refusal,
            merchant=merchant,
            asset=asset,
            amount=amount,
            amount_text=fields.get("amount", "")[:40],
            description=description or "",
            attempt=new_id(),
            merchant_ref=format_id("mer", merchant_id),
            back=back,
            ok="refused",
        )
    outcome = "in_review" if isinstance(result, InReview) else "paid"
    query = (
        f"merchant={format_id('mer', merchant_id)}&asset={asset}"
        f"&amount={quote(fields.get('amount', '')[:40])}&ok={outcome}&back={quote(back)}"
    )
    return Redirect(f"/pay/button?{query}", status_code=303)


@get("/pay/button.js")
async def button_script(request: Request[Any, Any, Any]) -> Response[Any]:
    """The script a merchant embeds: it draws a "Pay 0.05" button that opens the hosted
    page on this platform (the customer confirms there, or pays in one click). The origin
    written into it is the configured one (CENTIME_WEB_ORIGIN, which passkeys are bound
    to), never the request's Host header: the answer is cacheable, and a forged Host would
    otherwise poison caches with a script that sends customers elsewhere."""
    from .common import STATIC

    origin = web_state(request).rp.origins[0].rstrip("/")
    text = (STATIC / "button.js").read_text().replace("__ORIGIN__", origin)
    return Response(
        text, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"}
    )


wallet_routes: Final = [
    wallet,
    topup,
    send_money,
    settle,
    claim,
    link_page,
    pay_link,
    button_page,
    button_pay,
    button_script,
]
