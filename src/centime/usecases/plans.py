"""A request's review plan, and the typed, versioned encoding of the request it stores.

When the screen answers REVIEW, the request is kept with its case (``risk_cases.request``)
until an analyst decides; approving it decodes the same request type and runs it.

Encoding version 1 is the JSON object the cases have stored since migration 0010 (keys
sorted; top-ups keep the vaulted instrument since 0012): a version 1 row carries no ``v``
key, so the rows are unchanged. A later version writes ``"v": 2`` and keeps decoding 1.
A row that does not decode to its kind's request (a missing or mistyped field, an unknown
version) raises :class:`PlanError`: it is never half-read into a movement of money.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final, get_type_hints

import msgspec

from centime.platform.funding import Vaulted
from centime.platform.review import ReviewPlan, Subject

from .requests import (
    HoldRequest,
    MoneyRequest,
    PaymentRequest,
    SignupRequest,
    TopUpRequest,
    TransferRequest,
)

__all__ = ["ENCODING_VERSION", "PlanError", "decode", "encode", "review_plan", "subject"]

ENCODING_VERSION: Final = 1


class PlanError(ValueError):
    """A stored request that does not decode to its kind's request."""


# The requests stored by their fields as they are (a top-up's instrument is rebuilt).
_Stored = PaymentRequest | TransferRequest | HoldRequest


def _stored_form(request_type: type[_Stored]) -> type[msgspec.Struct]:
    """The stored form of a request kept by its fields (the ones :func:`encode` writes):
    each field with its type, optional where the request defaults it to None, required
    otherwise (a stored row always names its id and flags), plus the version."""
    hints = get_type_hints(request_type)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (f.name, hints[f.name], None) if f.default is None else (f.name, hints[f.name])
        for f in dataclasses.fields(request_type)
    ]
    return msgspec.defstruct(
        f"_Stored{request_type.__name__}",
        [*fields, ("v", int, 1)],
        kw_only=True,
        forbid_unknown_fields=True,
    )


class _TopUp(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: int
    asset: str
    amount: int
    method: str
    instrument: str
    topup_id: int
    instrument_fingerprint: str | None = None  # None: a plan older than 0012 (raw instrument)
    instrument_last4: str = ""
    v: int = 1


_REQUESTS: Final[dict[str, type[_Stored]]] = {
    "payment": PaymentRequest,
    "transfer": TransferRequest,
    "hold": HoldRequest,
}
_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    **{kind: _stored_form(request_type) for kind, request_type in _REQUESTS.items()},
    "topup": _TopUp,
}


def subject(request: MoneyRequest | SignupRequest) -> Subject:
    """What the request is about: its kind and id, and the party whose money it is."""
    match request:
        case PaymentRequest():
            return Subject("payment", request.payment_id, "customer", request.customer_id)
        case TransferRequest():
            return Subject("transfer", request.transfer_id, "customer", request.sender_id)
        case HoldRequest():
            return Subject("hold", request.hold_id, "customer", request.customer_id)
        case TopUpRequest():
            return Subject("topup", request.topup_id, "customer", request.customer_id)
        case SignupRequest():
            return Subject(request.kind, request.party_id, request.kind, request.party_id)


def review_plan(request: MoneyRequest | SignupRequest) -> ReviewPlan:
    """What a REVIEW holds (the amount of the asset; a sign-up holds none) and keeps."""
    if isinstance(request, SignupRequest):
        return ReviewPlan(subject(request), request.asset, 0, "{}")
    return ReviewPlan(subject(request), request.asset, request.amount, encode(request))


def _fields(request: MoneyRequest) -> dict[str, Any]:
    """The request's fields by name (a payment's ``promo_code`` only when given: the rows
    stored before promotion codes have none)."""
    if isinstance(request, TopUpRequest):
        return _topup_fields(request)
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    if isinstance(request, PaymentRequest) and request.promo_code is None:
        del fields["promo_code"]
    return fields


def _topup_fields(request: TopUpRequest) -> dict[str, Any]:
    """The vaulted instrument only: the plan is stored (and shown to analysts)."""
    vaulted = request.instrument
    if not isinstance(vaulted, Vaulted):
        raise PlanError("a top-up's plan keeps its instrument vaulted, never as given")
    return {
        "customer_id": request.customer_id,
        "asset": request.asset,
        "amount": request.amount,
        "method": request.method,
        "instrument": vaulted.token,
        "instrument_fingerprint": vaulted.fingerprint,
        "instrument_last4": vaulted.last4,
        "topup_id": request.topup_id,
    }


def encode(request: MoneyRequest) -> str:
    """The request as its case stores it (version :data:`ENCODING_VERSION`)."""
    return json.dumps(_fields(request), sort_keys=True)


def decode(kind: str, text: str | bytes) -> MoneyRequest:
    """The request a case of ``kind`` stored (:class:`PlanError` when it is not one)."""
    struct_type = _TYPES.get(kind)
    if struct_type is None:
        raise PlanError(f"no request is held for a {kind}")
    try:
        stored = msgspec.json.decode(text, type=struct_type)
    except msgspec.ValidationError as error:
        raise PlanError(f"the {kind}'s stored request: {error}") from None
    except msgspec.DecodeError as error:
        raise PlanError(f"the {kind}'s stored request is not JSON: {error}") from None
    version = getattr(stored, "v", None)
    if version != ENCODING_VERSION:
        raise PlanError(f"the {kind}'s stored request has version {version}")
    return _request(kind, stored)


def _request(kind: str, stored: msgspec.Struct) -> MoneyRequest:
    if isinstance(stored, _TopUp):
        return _topup_request(stored)
    request_type = _REQUESTS.get(kind)
    if request_type is None:
        raise PlanError(f"not a stored request: {type(stored).__name__}")
    fields = msgspec.structs.asdict(stored)
    del fields["v"]
    return request_type(**fields)


def _topup_request(stored: _TopUp) -> TopUpRequest:
    instrument: str | Vaulted = (
        stored.instrument
        if stored.instrument_fingerprint is None
        else Vaulted(stored.instrument, stored.instrument_fingerprint, stored.instrument_last4)
    )
    return TopUpRequest(
        stored.customer_id,
        stored.asset,
        stored.amount,
        stored.method,
        instrument,
        stored.topup_id,
    )
