"""Events for the outside world, written in the same transaction as the change they describe.

Call :func:`emit` inside a write unit, after the change succeeded: the event row commits with
the change or not at all (the transactional outbox). The webhook worker delivers outbox rows
to the endpoints that subscribed to their type, at least once.

Event data is JSON built from ``str`` and ``int`` values, money as a :func:`money` object
(integer strings, as on the API's wire): no float ever enters an event.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Final

from centime.ledger.units import UnitContext
from centime.limits import ID_MAX
from centime.money import Asset

from ..ids import format_id, new_id

__all__ = [
    "CUSTOMER_ONLY_TYPES",
    "EVENT_TYPES",
    "SUBSCRIBABLE_TYPES",
    "OutboxEvent",
    "emit",
    "emit_encoded",
    "emit_many",
    "money",
]

# Every event type the platform emits, and when. Add new types here (webhook endpoints can
# subscribe only to these).
EVENT_TYPES: Final = {
    "payment.created": "a customer paid a merchant",
    "payment.refunded": "a merchant refunded (part of) a payment",
    "topup.succeeded": "money arrived in a customer's wallet",
    "topup.failed": "a top-up was declined or failed",
    "topup.charged_back": "the provider took a top-up's money back",
    "hold.created": "money was reserved for a merchant",
    "hold.captured": "a merchant captured (part of) a hold",
    "hold.released": "a hold's money went back to the customer",
    "hold.expired": "a hold ran out before it was captured",
    "transfer.created": "a customer sent money to another customer",
    "mandate.created": "a customer allowed a merchant to charge it",
    "mandate.revoked": "a customer withdrew that consent",
    "payout.requested": "a merchant's payout was requested",
    "payout.pending": "a payout's money is reserved and sent to the rail",
    "payout.paid": "a payout arrived at the merchant's bank",
    "payout.failed": "a payout failed; its money is back in the earnings",
    "payout.returned": "a paid payout came back; its money is back in the earnings",
    "referral.rewarded": "a referral qualified and was rewarded",
    "review.opened": "the risk screen held a movement (or a sign-up) for an analyst",
    "review.approved": "an analyst approved a held movement; it went ahead",
    "review.declined": "an analyst declined a held movement; its money is back",
    # webhooks: a test event an endpoint's owner asked for; sent to that endpoint only.
    "webhook.test": "a test event sent to one endpoint on request",
    # The owner's own notices (centime.platform.events.notices): never sent to webhooks.
    "account.credential_changed": "a passkey, recovery codes or a bank account changed",
    "account.notice": "an email-shaped notice to the party (to, subject, body)",
}

# Events whose owner is always a customer (its wallet's top-ups, its transfers to people):
# a merchant's endpoint would never receive them.
CUSTOMER_ONLY_TYPES: Final = frozenset(
    {"topup.succeeded", "topup.failed", "topup.charged_back", "transfer.created"}
)
# The types a (merchant's) webhook endpoint may subscribe to: every type but the customers'
# own, the test event (which goes only to the endpoint it was asked for) and the owner's
# notices (for its inbox only).
SUBSCRIBABLE_TYPES: Final = (
    frozenset(EVENT_TYPES)
    - {"webhook.test", "account.credential_changed", "account.notice"}
    - CUSTOMER_ONLY_TYPES
)

_JSON_MAX_BYTES: Final = 16 * 1024  # an event is a summary, not a document


def money(amount: int, asset: Asset) -> dict[str, object]:
    """Money as the API writes it: ``{"value": "125", "asset": "USD", "scale": 6}``."""
    return {"value": str(amount), "asset": asset.code, "scale": asset.scale}


class OutboxEvent:
    """One outbox row as read back."""

    __slots__ = ("created_ns", "data", "id", "owner_id", "type")

    def __init__(self, id: int, type: str, owner_id: int, created_ns: int, data: str) -> None:
        self.id = id
        self.type = type
        self.owner_id = owner_id
        self.created_ns = created_ns
        self.data = data

    @property
    def public_id(self) -> str:
        return format_id("evt", self.id)


_INSERT: Final = (
    "INSERT INTO outbox_events (id, type, owner_id, created_ns, data) VALUES (?, ?, ?, ?, ?)"
)


def emit(ctx: UnitContext, event_type: str, owner_id: int, data: Mapping[str, object]) -> int:
    """Write one event for ``owner_id`` (a merchant's or customer's id) in the unit's
    transaction; its id. Unknown types and oversized or float-bearing data are bugs: raise.

    ``created_ns`` is the unit's group timestamp (``UnitContext.group_timestamp``): the
    engine's clock in nanoseconds, made unique per group and increasing in commit order, so
    a reader walking the outbox in ``(created_ns, id)`` order never finds a row committed
    later behind its cursor (the clock's own reading is shared by groups when it stands
    still, and PostgreSQL writers may read it before they queue for the clock's lock)."""
    return emit_many(ctx, event_type, owner_id, [data])[0]


def emit_many(
    ctx: UnitContext, event_type: str, owner_id: int, datas: Sequence[Mapping[str, object]]
) -> list[int]:
    """:func:`emit` for several events of one type and owner, in one statement; their ids."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    rows = []
    for data in datas:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True, default=_refuse)
        if len(text) > _JSON_MAX_BYTES:
            raise ValueError(f"event data of {len(text)} bytes passes {_JSON_MAX_BYTES}")
        _check_no_float(data)
        rows.append((new_id(), event_type, owner_id, text))
    if rows:
        _insert(ctx, rows)
    return [row[0] for row in rows]


def _insert(ctx: UnitContext, rows: list[tuple[int, str, int, str]]) -> None:
    """Insert (id, type, owner, data) rows stamped with the group's timestamp, once it is
    known (at once, or at the end of a group that overlaps other processes')."""

    def write(created_ns: int) -> None:
        ctx.executemany(
            _INSERT, [(i, kind, owner, created_ns, text) for i, kind, owner, text in rows]
        )

    ctx.after_timestamps(write)


def emit_encoded(
    ctx: UnitContext, event_type: str, owner_id: int, texts: Sequence[str]
) -> list[int]:
    """:func:`emit_many` for data the caller encoded itself: JSON objects built from ids and
    integers formatted with ``str()`` and texts encoded by ``json.dumps``, so no float can
    enter (the hot batch path: 4088 events cost a few ms this way, against ~0.3 s through
    dicts, ``json.dumps`` and the float check). Their ids are consecutive from a random
    base (one random draw per call; keyed inserts refuse a collision, never merge)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    count = len(texts)
    if not count:
        return []
    if any(len(text) > _JSON_MAX_BYTES or text[:1] != "{" for text in texts):
        raise ValueError("encoded event data is a JSON object within the size bound")
    base = secrets.randbelow(ID_MAX - count) + 1
    ids = list(range(base, base + count))
    _insert(ctx, [(i, event_type, owner_id, text) for i, text in zip(ids, texts, strict=True)])
    return ids


def _refuse(value: object) -> object:
    raise TypeError(f"event data holds a {type(value).__name__}; use str and int")


def _check_no_float(value: object) -> None:
    if isinstance(value, float):
        raise TypeError("event data holds a float; money is integers in the asset's scale")
    if isinstance(value, Mapping):
        for item in value.values():
            _check_no_float(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_no_float(item)
