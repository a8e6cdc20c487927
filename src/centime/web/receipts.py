"""Receipts: a page and a printable view for every payment, transfer between people and
top-up, for its parties only (anyone else gets the same 404 as for an unknown id), with the audit
log's proof that the ledger carried it.

- ``/receipts/{pay_...|tr_...|top_...}``: public id, the parties' names (a top-up's: how it
  was paid, and the wallet's owner), amount and fee with their
  currency, the time in the viewer's zone, and the audit proof's status (checked here
  against the operator's published keys); a button checks the proof again in the browser
  (``static/verify.js``, WebCrypto), and the page says how with the command line.
- ``/receipts/{id}/print``: the same, on a plain page to print or save.
- ``/receipts/{id}/proof.json``: the inclusion proofs of the ledger transfers that carried
  it, with the published keys; ``?part=N``: one of them alone, the document
  ``centime audit check-proof F --keys F`` reads.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get
from litestar.params import FromPath

from centime.audit import AuditReader
from centime.auth.passkeys import UserKind
from centime.platform.funding import TopUp, TopUpStatus, get_topup
from centime.platform.ids import derive_id, parse_id
from centime.platform.parties import get_customer, get_merchant
from centime.platform.payments import Carried, carried_by, proof_status, proofs_of

from .common import Viewer, page, run, viewer, web_state
from .messages import N_

__all__ = ["receipt_routes"]

NOT_FOUND: Final = N_("No such receipt.")


def _party(me: Viewer) -> tuple[Any, int]:
    return me.user.kind.value, me.user.party_id


# A top-up moved money once the provider collected it (a chargeback later takes some back).
_CREDITED: Final = (TopUpStatus.SUCCEEDED, TopUpStatus.CHARGED_BACK)


def _topup_legs(topup: TopUp) -> tuple[int, ...]:
    """The ledger transfers that brought a top-up's money in (centime.platform.funding.topups names
    them by (top-up, leg)): the credit, the bonus if one was paid, the settlement of carrier
    money if any was released; none while nothing was collected."""
    if topup.status not in _CREDITED:
        return ()
    legs = ["succeeded"]
    if topup.bonus > 0:
        legs.append("bonus")
    if topup.released > 0:
        legs.append("settled")
    return tuple(derive_id("topup", topup.id, leg) for leg in legs)


def _own_topup(platform: Any, public_id: str, me: Viewer) -> tuple[TopUp, Carried] | None:
    """The customer's own top-up and its ledger transfers (None for anyone else's)."""
    text = public_id.strip()[:40]
    topup_id = parse_id("top", text)
    if topup_id is None or me.user.kind is not UserKind.CUSTOMER:
        return None
    found = get_topup(platform, topup_id)
    if found is None or found.customer_id != me.user.party_id:
        return None
    return found, Carried(text, None, None, _topup_legs(found))


def _find(platform: Any, public_id: str, me: Viewer | None) -> tuple[Carried, TopUp | None] | None:
    """What the viewer may see behind a public id: a payment, a transfer or a top-up."""
    if me is None or me.user.kind is UserKind.OPERATOR:
        return None
    if public_id.startswith("top_"):
        own = _own_topup(platform, public_id, me)
        return None if own is None else (own[1], own[0])
    carried = carried_by(platform, public_id, *_party(me))
    return None if carried is None else (carried, None)


def _names(platform: Any, carried: Carried) -> dict[str, str]:
    def customer(customer_id: int) -> str:
        found = get_customer(platform, customer_id)
        return found.name if found else "-"

    if carried.payment is not None:
        merchant = get_merchant(platform, carried.payment.merchant_id)
        return {
            "from": customer(carried.payment.customer_id),
            "to": merchant.name if merchant else "-",
        }
    if carried.transfer is None:  # carried_by sets one of the two
        return {"from": "-", "to": "-"}
    return {
        "from": customer(carried.transfer.sender_id),
        "to": customer(carried.transfer.recipient_id),
    }


def _receipt(
    request: Request[Any, Any, Any], me: Viewer | None, public_id: str, template: str
) -> Response[str]:
    platform = web_state(request).platform
    found = _find(platform, public_id, me)
    if found is None or me is None:
        return page(request, template, me, 404, error=NOT_FOUND)
    carried, topup = found
    if topup is not None:
        moved: Any = topup
        owner = get_customer(platform, topup.customer_id)
        names = {"from": topup.method.value, "to": owner.name if owner else "-"}
    else:
        moved = carried.payment or carried.transfer
        names = _names(platform, carried)
    documents = proofs_of(platform, carried)
    return page(
        request,
        template,
        me,
        receipt=carried,
        topup=topup,
        moved=moved,
        names=names,
        fee=carried.payment.fee if carried.payment else 0,
        status=proof_status(platform, documents),
        transfer_ids=[d["transfer_id"] for d in documents],
        viewer_is_payee=me.user.kind is UserKind.MERCHANT,
    )


@get("/receipts/{public_id:str}")
async def receipt(request: Request[Any, Any, Any], public_id: FromPath[str]) -> Response[Any]:
    me = await viewer(request)
    return await run(request, lambda: _receipt(request, me, public_id, "receipt.html"))


@get("/receipts/{public_id:str}/print")
async def printable(request: Request[Any, Any, Any], public_id: FromPath[str]) -> Response[Any]:
    me = await viewer(request)
    return await run(request, lambda: _receipt(request, me, public_id, "receipt_print.html"))


@get("/receipts/{public_id:str}/proof.json")
async def proof(request: Request[Any, Any, Any], public_id: FromPath[str]) -> Response[Any]:
    """The proofs and the published keys, for the payment's parties only (404 otherwise)."""
    me = await viewer(request)
    platform = web_state(request).platform

    def load() -> dict[str, Any] | None:
        mine = _find(platform, public_id, me)
        if mine is None:
            return None
        found = mine[0]
        with platform.ledger.store.audit_reader() as fetch:
            keys = AuditReader(fetch).keyring().to_json()
        parts = proofs_of(platform, found)
        part = request.query_params.get("part", "")
        if part.isdigit() and int(part) < len(parts):
            # One part alone: what `centime audit check-proof F --keys F` reads.
            return {**parts[int(part)], **keys}
        return {"id": found.public_id, "parts": parts, **keys}

    body = await run(request, load)
    if body is None:
        return Response(
            {"code": "not_found", "detail": "no such payment"},
            status_code=404,
            media_type="application/problem+json",
        )
    return Response(body, headers={"Cache-Control": "no-store"})


receipt_routes: Final = [receipt, printable, proof]
