"""Receipts: a page and a printable view for every payment and transfer between people,
for its parties only (anyone else gets the same 404 as for an unknown id), with the audit
log's proof that the ledger carried it.

- ``/receipts/{pay_...|tr_...}``: public id, the parties' names, amount and fee with their
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
from centime.platform.parties import get_customer, get_merchant
from centime.platform.proofs import Carried, carried_by, proof_status, proofs_of

from .common import Viewer, page, run, viewer, web_state
from .messages import N_

__all__ = ["receipt_routes"]

NOT_FOUND: Final = N_("No such receipt.")


def _party(me: Viewer) -> tuple[Any, int]:
    return me.user.kind.value, me.user.party_id


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
    if me is None or me.user.kind is UserKind.OPERATOR:
        carried = None
    else:
        kind, party_id = _party(me)
        carried = carried_by(platform, public_id, kind, party_id)
    moved = carried and (carried.payment or carried.transfer)
    if me is None or carried is None or moved is None:
        return page(request, template, me, 404, error=NOT_FOUND)
    documents = proofs_of(platform, carried)
    return page(
        request,
        template,
        me,
        receipt=carried,
        moved=moved,
        names=_names(platform, carried),
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
        if me is None or me.user.kind is UserKind.OPERATOR:
            return None
        found = carried_by(platform, public_id, *_party(me))
        if found is None:
            return None
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
