"""The risk screen's decision on a web sign-up, as the API's sign-ups get one
(centime.api.routes.parties, centime.platform.screening): the decision is made before the
sign-up's unit (outside the writer), and the unit creates the party through
``screening.guarded``: BLOCK refuses it (the decision recorded), REVIEW creates the party
frozen with a case open, ALLOW creates it.

The party's id is derived from the ceremony's user id (both chosen when the sign-up's
options were handed out), so the event names the party the unit will create."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from centime.platform.context import Operation, Platform
from centime.platform.decisions import decide, device_text, ip_text
from centime.platform.ids import derive_id, format_id
from centime.platform.review import ReviewPlan
from centime.platform.screening import guarded, signup_plan
from centime.risk.types import Decision, RiskEvent

__all__ = ["ScreenedSignup", "screen_signup", "signup_party_id"]

_ASSET: Final = "USD"  # a sign-up moves no money; the event names an asset anyway
_PREFIXES: Final = {"customer": "cus", "merchant": "mer"}


@dataclass(frozen=True, slots=True)
class ScreenedSignup:
    party_id: int
    event: RiskEvent
    decision: Decision
    plan: ReviewPlan

    def guard(self, operation: Operation[Any]) -> Operation[Any]:
        """The sign-up's party creation as the decision allows it."""
        return guarded(operation, self.event, self.decision, self.plan)


def signup_party_id(user_id: int) -> int:
    return derive_id("web-signup", user_id)


def screen_signup(
    platform: Platform, challenge: bytes, ip: str | None, device: str | None
) -> ScreenedSignup | None:
    """The decision on the sign-up this (unused) challenge was handed out for; None when
    it is no sign-up's (the unit refuses it then)."""
    digest = hashlib.sha256(challenge).digest()
    with platform.read() as fetch:
        rows = fetch(
            "SELECT purpose, data FROM webauthn_challenges WHERE challenge_hash = ?", (digest,)
        )
    if not rows:
        return None
    data: dict[str, Any] = json.loads(rows[0][1])
    kind = data.get("kind")
    if data.get("action") != "signup" or kind not in _PREFIXES:
        return None
    party_id = signup_party_id(int(data["user_id"]))
    event = RiskEvent(
        platform.clock.now_ns(),
        "signup",
        0,
        _ASSET,
        format_id(_PREFIXES[kind], party_id),
        "",
        device_text(device),
        ip_text(ip),
    )
    return ScreenedSignup(
        party_id, event, decide(platform.screen, event), signup_plan(kind, party_id, _ASSET)
    )
