"""The risk screen in the API: what a request tells the screen, the decision in a worker
thread, and the ``202 in_review`` answer.

- Device: the ``Centime-Device`` header (printable text, at most RISK_DEVICE_LEN_MAX), from
  the app the person uses.
- IP: for the operator's keys (the platform's own apps, which act for people), the
  ``Centime-Client-Ip`` header the app forwards, else the connection's address. For a
  merchant's key none: its server's address says nothing about the customer it charges.
- Step-up: the API takes no passkey assertion; a STEP_UP decision answers ``403
  step_up_required`` (the web app, which verifies passkeys, passes ``stepped_up_at_ns``
  to centime.usecases itself).

Decisions are CPU work: they run in a worker thread (``to_thread``), never on the event
loop nor on the ledger's writer thread. Single decisions asked while others are being made
wait and are then made together, in arrival order, by one ``decide_many`` call in one worker
thread (centime.api.screen_queue), as the ledger's writer groups units into one commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
from anyio import to_thread
from litestar import Request
from litestar.openapi.datastructures import ResponseSpec

from centime import usecases, wire
from centime.auth import Principal
from centime.platform import review
from centime.platform.context import Operation
from centime.platform.ids import format_id
from centime.platform.review import InReview, decide_many, device_text, ip_text
from centime.risk.types import Decision, RiskEvent

from .state import api_state, principal_of

__all__ = [
    "DEVICE_HEADER",
    "IN_REVIEW",
    "in_review_body",
    "in_review_out",
    "origin",
    "screen_many",
    "screen_one",
    "screened_operation",
    "screened_request",
    "screened_signup",
]

DEVICE_HEADER: Final = "centime-device"
CLIENT_IP_HEADER: Final = "centime-client-ip"
_PREFIX: Final = review.ID_PREFIXES

# The 202 a screened route declares (merged with its problems()).
IN_REVIEW: Final = {
    202: ResponseSpec(
        data_container=wire.InReview,
        description="Held for review by the risk screen (`status: in_review`): nothing is"
        " refused, nothing happened yet; the case decides.",
        generate_examples=False,
    )
}


def origin(request: Request[Any, Any, Any], principal: Principal) -> tuple[str | None, str | None]:
    """(device, ip) of the person behind the request (see the module's note)."""
    device = device_text(request.headers.get(DEVICE_HEADER))
    if not principal.is_operator:
        return device, None
    forwarded = ip_text(request.headers.get(CLIENT_IP_HEADER))
    client = request.client
    return device, forwarded or (ip_text(client.host) if client is not None else None)


async def screen_one(request: Request[Any, Any, Any], event: RiskEvent) -> Decision:
    return await api_state(request).screens.decide(event)


async def screened_operation(
    request: Request[Any, Any, Any],
    use_case: usecases.PaymentRequest | usecases.TransferRequest | usecases.HoldRequest,
) -> Operation[Any]:
    """The use case's operation behind the gate, the decision made in a worker thread
    (a malformed request: its refusal, the screen not asked)."""
    platform = api_state(request).platform
    refused = usecases.refusal(use_case, platform.config)
    if refused is not None:
        return Operation(lambda ctx: refused, 0)
    device, ip = origin(request, principal_of(request))
    event = usecases.risk_event(use_case, platform.clock.now_ns(), usecases.Origin(device, ip))
    decision = await screen_one(request, event)
    return usecases.guarded(platform, use_case, usecases.Screened(event, decision))


async def screened_request(
    request: Request[Any, Any, Any], use_case: usecases.PaymentRequest
) -> usecases.Screened:
    """The screen's answer on a well-formed request (its decision made in a worker
    thread, grouped with other requests' by centime.api.screen_queue)."""
    platform = api_state(request).platform
    device, ip = origin(request, principal_of(request))
    event = usecases.risk_event(use_case, platform.clock.now_ns(), usecases.Origin(device, ip))
    return usecases.Screened(event, await screen_one(request, event))


async def screened_signup(
    request: Request[Any, Any, Any], use_case: usecases.SignupRequest, create: Operation[Any]
) -> Operation[Any]:
    """A sign-up's party creation behind the gate (a REVIEW creates the party frozen)."""
    platform = api_state(request).platform
    device, ip = origin(request, principal_of(request))
    event = usecases.risk_event(use_case, platform.clock.now_ns(), usecases.Origin(device, ip))
    decision = await screen_one(request, event)
    return usecases.guarded(platform, use_case, usecases.Screened(event, decision), create)


async def screen_many(
    request: Request[Any, Any, Any], events: Sequence[RiskEvent]
) -> list[Decision]:
    screen = api_state(request).platform.screen
    return await to_thread.run_sync(decide_many, screen, events)


def in_review_out(held: InReview) -> wire.InReview:
    return wire.InReview(
        case_id=format_id("case", held.case_id),
        object=held.subject.kind,
        id=format_id(_PREFIX[held.subject.kind], held.subject.id),
        amount=wire.money(held.amount, held.asset),
        reasons=list(held.reasons),
        created_at=wire.rfc3339(held.created_ns),
    )


def in_review_body(held: InReview) -> tuple[int, bytes]:
    return 202, msgspec.json.encode(in_review_out(held))
