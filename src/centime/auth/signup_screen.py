"""The risk screen's decision on a web sign-up, as the API's sign-ups get one
(centime.api.routes.parties, centime.usecases): the decision is made before the
sign-up's unit (outside the writer), and the unit creates the party through the
sign-up use case (centime.usecases): BLOCK refuses it (the decision recorded), REVIEW
creates the party frozen with a case open, ALLOW creates it.

The party's id is derived from the ceremony's user id (both chosen when the sign-up's
options were handed out), so the event names the party the unit will create."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from centime import usecases
from centime.platform.context import Operation, Platform
from centime.platform.ids import derive_id

__all__ = ["ScreenedSignup", "screen_signup", "signup_party_id"]

_ASSET: Final = "USD"  # a sign-up moves no money; the event names an asset anyway
_PREFIXES: Final = {"customer": "cus", "merchant": "mer"}


@dataclass(frozen=True, slots=True)
class ScreenedSignup:
    platform: Platform
    request: usecases.SignupRequest
    answer: usecases.Screened

    @property
    def party_id(self) -> int:
        return self.request.party_id

    def guard(self, operation: Operation[Any]) -> Operation[Any]:
        """The sign-up's party creation as the decision allows it."""
        return usecases.guarded(self.platform, self.request, self.answer, operation)


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
    request = usecases.SignupRequest(
        "customer" if kind == "customer" else "merchant",
        signup_party_id(int(data["user_id"])),
        _ASSET,
    )
    answer = usecases.screen(platform, request, usecases.Origin(device, ip))
    return ScreenedSignup(platform, request, answer)
