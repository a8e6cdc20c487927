"""From a payment's or transfer's public id to the ledger transfers that carried it, and to
their audit inclusion proofs, for the parties of that payment only.

``/v1/audit/inclusion-proof`` takes a ledger transfer id; people know their ``pay_...`` or
``tr_...`` id. A payment is carried by its wallet part and its restricted part (direct
payments: ``wallet_transfer_id`` / ``restricted_transfer_id``, which may carry the other
payments of the same unit too, as one sum; a hold's capture: the posts that resolved the
hold's reserves); a transfer between people by its one ledger leg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from centime.audit import NotFoundError, ProofError
from centime.audit.service import check_proof, export_document, inclusion_document, keyring_of

from ..context import Platform
from ..ids import derive_id, parse_id
from .p2p import P2PTransfer, get_p2p_transfer
from .service import Payment, get_payment

__all__ = ["Carried", "ProofStatus", "carried_by", "proof_status", "proofs_of"]

PartyKind = Literal["customer", "merchant", "operator"]


@dataclass(frozen=True, slots=True)
class Carried:
    """A payment or transfer a party may see, and the ledger transfers that carried it."""

    public_id: str
    payment: Payment | None
    transfer: P2PTransfer | None
    ledger_ids: tuple[int, ...]


def _payment_legs(payment: Payment) -> tuple[int, ...]:
    if payment.hold_id is not None:
        wallet = payment.amount - payment.restricted_amount
        named = (("restricted", payment.restricted_amount), ("wallet", wallet))
        return tuple(
            derive_id("hold", payment.hold_id, "resolve", name) for name, part in named if part > 0
        )
    ids = (payment.restricted_transfer_id, payment.wallet_transfer_id)
    return tuple(i for i in ids if i is not None) or (payment.id,)


def carried_by(
    platform: Platform, public_id: str, kind: PartyKind, party_id: int
) -> Carried | None:
    """The payment (``pay_...``) or transfer (``tr_...``) when the party is one of its
    parties (the operator sees all); None otherwise, as for an unknown id."""
    text = public_id.strip()[:40]
    if text.startswith("pay_"):
        payment_id = parse_id("pay", text)
        if payment_id is None:
            return None
        payment = get_payment(
            platform,
            payment_id,
            merchant_id=party_id if kind == "merchant" else None,
            customer_id=party_id if kind == "customer" else None,
        )
        return None if payment is None else Carried(text, payment, None, _payment_legs(payment))
    if text.startswith("tr_") and kind != "merchant":
        transfer_id = parse_id("tr", text)
        if transfer_id is None:
            return None
        sent = get_p2p_transfer(
            platform, transfer_id, customer_id=party_id if kind == "customer" else None
        )
        if sent is None:
            return None
        return Carried(text, None, sent, (derive_id("tr", sent.id, "send"),))
    return None


def proofs_of(platform: Platform, carried: Carried) -> list[dict[str, Any]]:
    """Per ledger transfer: ``{"transfer_id", "head", "proof"}`` (the inclusion proof in the
    latest signed tree), or ``{"transfer_id", "pending": why}`` while no signed head covers
    it yet (the next one will)."""
    documents: list[dict[str, Any]] = []
    for transfer_id in carried.ledger_ids:
        try:
            document = inclusion_document(platform.ledger.store, transfer_id, None)
        except (NotFoundError, ProofError) as error:
            documents.append({"transfer_id": str(transfer_id), "pending": str(error)[:200]})
            continue
        documents.append({"transfer_id": str(transfer_id), **document})
    return documents


@dataclass(frozen=True, slots=True)
class ProofStatus:
    """What the receipt says about the audit log: every part proven in a signed head
    (checked here against the published keys), some not yet covered, or a failure."""

    state: Literal["verified", "pending", "failed", "off"]
    tree_size: int | None = None


def proof_status(platform: Platform, documents: list[dict[str, Any]]) -> ProofStatus:
    if not documents:
        return ProofStatus("off")
    if any("pending" in d for d in documents):
        return ProofStatus("pending")
    try:
        keyring = keyring_of([export_document(platform.ledger.store)])
    except NotFoundError:
        return ProofStatus("pending")
    sizes = []
    for document in documents:
        if document.get("head") is None:
            return ProofStatus("pending")
        checked = check_proof(document, keyring)
        if not checked.ok:
            return ProofStatus("failed")
        sizes.append(int(document["proof"]["tree_size"]))
    return ProofStatus("verified", max(sizes))
