"""Pricing rules, promotion codes, the promotions budget and referrals.

- ``POST /v1/pricing/rules`` (operator, ``admin``): publish a new version (validated: a
  rule set that could create money is a 422 ``pricing_rules_invalid`` naming the field);
  ``GET /v1/pricing/rules`` and ``GET /v1/pricing/rules/{version}`` (operator, ``read``).
- ``POST /v1/promo-codes`` (operator, ``admin``), ``GET /v1/promo-codes`` and
  ``GET /v1/promo-codes/{promo_code_id}`` (operator, ``read``).
- ``POST /v1/promotions/fundings`` (operator, ``admin``; ``Idempotency-Key`` required, the
  funding's id derived from it) and ``GET /v1/promotions`` (operator, ``read``).
- Referrals: ``GET /v1/merchants/me/referral-code`` (a merchant's own code),
  ``GET /v1/customers/{customer_id}/referral-code``, ``GET|POST
  /v1/customers/{customer_id}/referral`` (operator: the customer apps act for customers),
  ``POST /v1/referrals/rewards`` (operator, ``admin``: one pass of the reward job, which the
  worker also runs).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, Parameter

from centime import wire
from centime.http.problems import ApiCode, ProblemError, problems
from centime.money import ASSETS
from centime.platform import referrals
from centime.platform.errors import Code
from centime.platform.ids import format_id
from centime.platform.pricing import budget, promos, store
from centime.wire import pricing as pw

from ..execute import execute
from ..idempotency import IdempotencyKey, check_key, required_key_of
from ..pagination import API_PAGE_SIZE_DEFAULT, LimitParam
from ..params import must_find, path_id
from ..state import api_state, principal_of
from .acting import operation_id
from .declare import OPERATOR_ADMIN, OPERATOR_READ, READ, reads, writes
from .listings import finds, lists
from .render import converter

__all__ = ["pricing_routes"]

NS_PER_S: Final = 1_000_000_000

# ------------------------------------------------------------------ rule sets


def rules_out(published: store.PublishedRules) -> pw.RuleSetVersion:
    return pw.RuleSetVersion(
        version=published.version,
        rules=published.document,
        note=published.note,
        published_at=wire.rfc3339(published.published_ns),
    )


@writes("/pricing/rules", OPERATOR_ADMIN, status_code=201)
async def publish_rules(
    request: Request[Any, Any, Any], data: JSONBody[pw.RuleSetPublish]
) -> Response[pw.RuleSetVersion]:
    """Publish the next version of the pricing rules, in force from now."""
    operation = store.publish_rules(api_state(request).platform, data.rules, data.note)
    return await execute(request, operation, rules_out, status_code=201)


VersionCursor = Annotated[
    str | None,
    Parameter(pattern=r"^[1-9][0-9]{0,18}$", description="next_cursor of the previous page"),
]


@reads("/pricing/rules", OPERATOR_READ)
def list_rules(
    request: Request[Any, Any, Any],
    limit: LimitParam = API_PAGE_SIZE_DEFAULT,
    cursor: VersionCursor = None,
) -> pw.RuleSetPage:
    """Published versions, newest first (the first is the one in force)."""
    before = None if cursor is None else int(cursor)
    items, more = store.list_rules(api_state(request).platform, before, limit)
    return pw.RuleSetPage(
        data=[rules_out(r) for r in items], next_cursor=None if more is None else str(more)
    )


@reads("/pricing/rules/{version:int}", OPERATOR_READ, 404)
def get_rules(request: Request[Any, Any, Any], version: FromPath[int]) -> pw.RuleSetVersion:
    found = store.get_rules(api_state(request).platform, version)
    return rules_out(
        must_find(found, Code.PRICING_VERSION_NOT_FOUND, "no such pricing rules version")
    )


# ------------------------------------------------------------------ promotion codes


promo_out: Final = converter(promos.PromoCode, pw.PromoCode, "promo")


def _same_asset(asset: str, other: wire.Money | None, field: str) -> int:
    if other is None:
        return 0
    other_asset, amount = wire.parse_money(other, field)
    if other_asset != asset:
        raise wire.WireError("invalid_amount", f"{field}.asset", f"the code's asset is {asset}")
    return amount


@writes("/promo-codes", OPERATOR_ADMIN, status_code=201)
async def create_promo_code(
    request: Request[Any, Any, Any], data: JSONBody[pw.PromoCodeCreate]
) -> Response[pw.PromoCode]:
    """A promotion code: a discount on payments, paid by the promotions budget."""
    platform = api_state(request).platform
    asset, discount_max = wire.parse_money(data.discount_max, "discount_max", allow_zero=False)
    budget_amount = _same_asset(asset, data.budget, "budget")
    min_amount = _same_asset(asset, data.min_amount, "min_amount")
    expires_ns = platform.clock.now_ns() + data.expires_in_s * NS_PER_S
    operation = promos.create_promo_code(
        platform,
        data.code,
        asset,
        data.discount_bp,
        discount_max,
        budget_amount,
        expires_ns,
        data.uses_max,
        data.per_customer_max,
        min_amount,
    )
    return await execute(request, operation, promo_out, status_code=201)


list_promo_codes = lists(
    "/promo-codes",
    OPERATOR_READ,
    pw.PromoCodePage,
    promos.list_promo_codes,
    promo_out,
    name="list_promo_codes",
    doc="Promotion codes, newest first.",
)
get_promo_code = finds(
    "/promo-codes/{promo_code_id:str}",
    OPERATOR_READ,
    pw.PromoCode,
    "promo",
    promos.get_promo_code,
    promo_out,
    Code.PROMO_CODE_NOT_FOUND,
    name="get_promo_code",
    detail="no such promotion code",
)


# ------------------------------------------------------------------ the promotions budget


@writes("/promotions/fundings", OPERATOR_ADMIN, status_code=201, key_required=True)
async def fund_promotions(
    request: Request[Any, Any, Any], data: JSONBody[pw.PromotionsFundingCreate]
) -> Response[pw.PromotionsFunding]:
    """Add the operator's money to the promotions budget (bonuses, discounts, rewards)."""
    asset, amount = wire.parse_money(data.amount, "amount", allow_zero=False)
    key = required_key_of(request)
    funding_id = operation_id("promotions-funding", principal_of(request), key)
    operation = budget.fund_promotions(api_state(request).platform, asset, amount, funding_id)

    def out(f: budget.Funding) -> pw.PromotionsFunding:
        return pw.PromotionsFunding(
            amount=wire.money(f.amount, f.asset), available=wire.money(f.available, f.asset)
        )

    return await execute(request, operation, out, status_code=201)


@reads("/promotions", OPERATOR_READ)
def promotions(request: Request[Any, Any, Any]) -> pw.PromotionsBudget:
    """What the promotions budget holds, per asset."""
    platform = api_state(request).platform
    return pw.PromotionsBudget(
        data=[wire.money(budget.promotions_balance(platform, a), a) for a in sorted(ASSETS)]
    )


# ------------------------------------------------------------------ referrals


def _code_out(result: str) -> pw.ReferralCode:
    return pw.ReferralCode(code=result)


async def _code(request: Request[Any, Any, Any], party: referrals.Party) -> Response[Any]:
    operation = referrals.referral_code(api_state(request).platform, party)
    return await execute(request, operation, _code_out, keyed=False)


@get("/merchants/me/referral-code", guards=READ, responses=problems(404))
async def my_referral_code(request: Request[Any, Any, Any]) -> Response[pw.ReferralCode]:
    """The calling merchant's referral code (created on first ask)."""
    principal = principal_of(request)
    if principal.is_operator:
        raise ProblemError(ApiCode.FORBIDDEN, "an operator key has no merchant of its own")
    return await _code(request, ("merchant", principal.owner_id))


@get("/customers/{customer_id:str}/referral-code", guards=OPERATOR_READ, responses=problems(404))
async def customer_referral_code(
    request: Request[Any, Any, Any], customer_id: FromPath[str]
) -> Response[pw.ReferralCode]:
    """A customer's referral code (created on first ask)."""
    customer = path_id("cus", customer_id, Code.CUSTOMER_NOT_FOUND)
    return await _code(request, ("customer", customer))


def referral_out(r: referrals.Referral) -> pw.ReferralStatus:
    prefix = {"customer": "cus", "merchant": "mer"}
    asset = r.asset
    return pw.ReferralStatus(
        referred=format_id(prefix[r.referred[0]], r.referred[1]),
        referrer=format_id(prefix[r.referrer[0]], r.referrer[1]),
        status=r.status,
        referrer_reward=None if asset is None else wire.money(r.referrer_reward, asset),
        referred_reward=None if asset is None else wire.money(r.referred_reward, asset),
        detail=r.detail,
        pricing_version=r.pricing_version,
        created_at=wire.rfc3339(r.created_ns),
        decided_at=None if r.decided_ns is None else wire.rfc3339(r.decided_ns),
    )


@writes("/customers/{customer_id:str}/referral", OPERATOR_ADMIN, 404, status_code=201)
async def claim_referral(
    request: Request[Any, Any, Any], customer_id: FromPath[str], data: JSONBody[pw.ReferralClaim]
) -> Response[pw.ReferralStatus]:
    """Name the customer's referrer after sign-up (within 30 days; not its own code)."""
    customer = path_id("cus", customer_id, Code.CUSTOMER_NOT_FOUND)
    operation = referrals.claim_referral(
        api_state(request).platform, ("customer", customer), data.code, data.device_id
    )
    return await execute(request, operation, referral_out, status_code=201)


@reads("/customers/{customer_id:str}/referral", OPERATOR_READ, 404)
def get_referral(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> pw.ReferralStatus:
    """Who referred the customer, and whether the referral was rewarded."""
    customer = path_id("cus", customer_id, Code.CUSTOMER_NOT_FOUND)
    found = referrals.get_referral(api_state(request).platform, ("customer", customer))
    return referral_out(
        must_find(found, Code.CUSTOMER_NOT_FOUND, "no referral recorded for this customer")
    )


@post("/referrals/rewards", guards=OPERATOR_ADMIN, responses=problems())
async def reward_referrals(
    request: Request[Any, Any, Any], idempotency_key: IdempotencyKey = None
) -> Response[pw.ReferralRewardRun]:
    """Run one pass of the reward job now (the worker runs it periodically). A pass is
    idempotent by itself (each reward's transfers have derived ids and a rewarded referral
    is never looked at again), so a repeated request pays nothing twice; the key is
    accepted as on every POST and checked for shape only."""
    check_key(idempotency_key, required=False)
    platform = api_state(request).platform
    run = await to_thread.run_sync(referrals.run_reward_pass, platform)
    body = pw.ReferralRewardRun(looked_at=run.looked_at, rewarded=run.rewarded, closed=run.closed)
    return Response(body)


pricing_routes: Final = [
    publish_rules,
    list_rules,
    get_rules,
    create_promo_code,
    list_promo_codes,
    get_promo_code,
    fund_promotions,
    promotions,
    my_referral_code,
    customer_referral_code,
    claim_referral,
    get_referral,
    reward_referrals,
]
