"""The access a grant asks for, checked: types, actions, identifiers and limits (pure).

``incoming-payment`` and ``quote`` access is granted without interaction (it moves no
money); ``outgoing-payment`` access spends a customer's money, so it needs the customer's
consent (an interactive grant) and names the customer's wallet address. Limits are kept as
the client sent them (they are echoed back as granted) and read again by the resource
server when a payment is made (:func:`limits_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .addresses import Urls, Wallet
from .amounts import parse_amount_for
from .errors import OpError
from .intervals import Interval, parse_interval

__all__ = ["Limits", "check_access", "limits_of", "needs_interaction", "wallet_of_access"]

ACTIONS: Final = {
    "incoming-payment": {"create", "complete", "read", "read-all", "list", "list-all"},
    "quote": {"create", "read", "read-all"},
    "outgoing-payment": {"create", "read", "read-all", "list", "list-all"},
}
ACCESS_ITEMS_MAX: Final = 3
_ITEM_KEYS: Final = {"type", "actions", "identifier", "limits"}
_LIMIT_KEYS: Final = {"receiver", "interval", "debitAmount", "receiveAmount"}


@dataclass(frozen=True, slots=True)
class Limits:
    debit: int | None
    receive: int | None
    interval: Interval | None
    receiver: str | None  # an incoming payment URL


def _bad(detail: str) -> OpError:
    return OpError(400, "invalid_request", detail)


def check_access(urls: Urls, access: object) -> list[dict[str, Any]]:
    """The access items, checked (400 ``invalid_request`` naming what is wrong)."""
    if not isinstance(access, list) or not 1 <= len(access) <= ACCESS_ITEMS_MAX:
        raise _bad(f"access_token.access: 1 to {ACCESS_ITEMS_MAX} items")
    seen: set[str] = set()
    for item in access:
        if not isinstance(item, dict) or not set(item) <= _ITEM_KEYS:
            raise _bad("access: an item has type, actions, identifier and limits only")
        kind, actions = item.get("type"), item.get("actions")
        if kind not in ACTIONS or kind in seen:
            raise _bad("access: each type (incoming-payment, quote, outgoing-payment) once")
        seen.add(kind)
        if (
            not isinstance(actions, list)
            or not actions
            or len(set(map(str, actions))) != len(actions)
            or not set(actions) <= ACTIONS[kind]
        ):
            raise _bad(f"access: the actions of {kind} are {sorted(ACTIONS[kind])}, unique")
        _check_item(urls, kind, item)
    return list(access)


def _check_item(urls: Urls, kind: str, item: dict[str, Any]) -> None:
    identifier = item.get("identifier")
    wallet = urls.parse_wallet(identifier) if identifier is not None else None
    if identifier is not None and wallet is None:
        raise _bad("access: identifier is a wallet address of this server")
    if kind == "quote" and identifier is not None:
        raise _bad("access: quote access has no identifier")
    if kind != "outgoing-payment" and {"read-all", "list-all"} & set(item["actions"]):
        # Without the owner's consent a client sees only what it made itself: read-all and
        # list-all would show any wallet's payments and metadata to anyone.
        raise _bad("access: read-all and list-all are offered for outgoing-payment grants only")
    if kind != "outgoing-payment":
        if "limits" in item:
            raise _bad("access: limits are for outgoing-payment access")
        return
    if wallet is None or wallet.kind != "customer":
        raise _bad("access: outgoing-payment access names a customer's wallet address")
    limits_of(urls, item, wallet.asset)


def limits_of(urls: Urls, item: dict[str, Any], asset: str) -> Limits:
    raw = item.get("limits")
    if raw is None:
        return Limits(None, None, None, None)
    if not isinstance(raw, dict) or not set(raw) <= _LIMIT_KEYS:
        raise _bad("limits: receiver, interval, debitAmount or receiveAmount")
    if "debitAmount" in raw and "receiveAmount" in raw:
        raise _bad("limits: debitAmount or receiveAmount, not both")
    debit = (
        parse_amount_for(raw["debitAmount"], "limits.debitAmount", asset)
        if ("debitAmount" in raw)
        else None
    )
    receive = (
        parse_amount_for(raw["receiveAmount"], "limits.receiveAmount", asset)
        if ("receiveAmount" in raw)
        else None
    )
    interval = None
    if "interval" in raw:
        interval = parse_interval(raw["interval"])
        if interval is None:
            raise _bad("limits.interval: R[n]/<start>/<duration or end>, with a time zone")
    receiver = raw.get("receiver")
    if receiver is not None and urls.parse_resource(receiver, "incoming-payments") is None:
        raise _bad("limits.receiver: an incoming payment of this server")
    return Limits(debit, receive, interval, receiver)


def needs_interaction(access: list[dict[str, Any]]) -> bool:
    return any(item["type"] == "outgoing-payment" for item in access)


def wallet_of_access(urls: Urls, access: list[dict[str, Any]]) -> Wallet | None:
    """The customer wallet an outgoing-payment grant spends from (None: none)."""
    for item in access:
        if item["type"] == "outgoing-payment":
            return urls.parse_wallet(item["identifier"])
    return None
