"""The funding provider port: how the platform charges a customer's card, bank account or
phone bill, and what the provider reports about the charge later.

A charge is asynchronous, as with every real provider: :meth:`FundingProvider.charge`
answers at once whether the provider *accepted* the request (it will now try to collect the
money) or *declined* it; whether the money arrived is reported later as an event. Events are
delivered at least once (:class:`EventFeed`): a handler must be idempotent, and it
acknowledges an event only once what the event changed is durable.

The contract a provider adapter keeps:

- ``ChargeRequest.topup_id`` is the idempotency key. Sending the same request again (after a
  timeout, say) is the same charge: the provider answers with the same ``provider_ref`` and
  never collects twice.
- A timeout, a connection failure or a 5xx is :class:`ProviderUnavailable`: the caller cannot
  know whether the provider accepted the charge, so it must be able to send it again (same
  key), and the provider's later events must name the top-up (``topup_id``) so that a charge
  accepted behind a timeout is still matched.
- Every event names the provider, its own event id, the top-up and the provider's reference
  for the charge.

Instruments (what is charged) are opaque text per method; :func:`instrument_problem` says
what shape each method's instrument must have. :meth:`FundingProvider.vault` exchanges the
instrument a customer gives (a card number, a bank account, a phone number, or a token the
provider made in the customer's browser) for the provider's token, which is what the
platform stores and charges from then on (``ChargeRequest.instrument``), and its last four
characters: the platform never keeps the number (centime.platform.funding.instruments).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from centime.limits import INSTRUMENT_LEN_MAX

__all__ = [
    "Accepted",
    "ChargeFailed",
    "ChargeRequest",
    "ChargeResult",
    "ChargeSettled",
    "ChargeSucceeded",
    "ChargedBack",
    "Declined",
    "EventFeed",
    "FundingProvider",
    "InstrumentToken",
    "Method",
    "ProviderEvent",
    "ProviderUnavailable",
    "Statement",
    "StatementLine",
    "event_kind",
    "instrument_problem",
]


class Method(enum.Enum):
    """How a top-up is paid. The value is the wire name."""

    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CARRIER = "carrier"  # the customer's phone bill; settled by the carrier weeks later


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """Collect ``amount`` (in the asset's scale) from the customer's instrument."""

    topup_id: int  # the idempotency key: one top-up is one charge, however often it is sent
    customer_id: int
    asset: str
    amount: int
    method: Method
    instrument: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the charge on; its outcome comes later as an event."""

    provider_ref: str


@dataclass(frozen=True, slots=True)
class Declined:
    """The provider refused the charge outright; nothing was collected."""

    code: str  # the provider's machine-readable reason (card_declined, insufficient_funds...)
    message: str


ChargeResult = Accepted | Declined


@dataclass(frozen=True, slots=True)
class InstrumentToken:
    """What a provider answers for a vaulted instrument: the token to charge (never the
    number itself) and the last four characters of the number, for display."""

    token: str
    last4: str


class ProviderUnavailable(Exception):  # noqa: N818 (the port's name for the condition)
    """The provider could not be reached or did not answer in time (timeout, 5xx). Whether
    it accepted the charge is unknown; the same request may be sent again."""


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ChargeSucceeded:
    """The money was collected (card captured, bank transfer received, carrier billed)."""

    provider: str
    event_id: str
    topup_id: int
    provider_ref: str


@dataclass(frozen=True, slots=True)
class ChargeFailed:
    """An accepted charge could not be collected after all."""

    provider: str
    event_id: str
    topup_id: int
    provider_ref: str
    code: str


@dataclass(frozen=True, slots=True)
class ChargeSettled:
    """The carrier paid the provider for a carrier-billed charge (only carrier charges)."""

    provider: str
    event_id: str
    topup_id: int
    provider_ref: str


@dataclass(frozen=True, slots=True)
class ChargedBack:
    """The payer disputed the charge and the provider took ``amount`` back (at most the
    charge's amount; one chargeback per charge)."""

    provider: str
    event_id: str
    topup_id: int
    provider_ref: str
    amount: int


ProviderEvent = ChargeSucceeded | ChargeFailed | ChargeSettled | ChargedBack

_KINDS: Final = {
    ChargeSucceeded: "succeeded",
    ChargeFailed: "failed",
    ChargeSettled: "settled",
    ChargedBack: "chargeback",
}


def event_kind(event: ProviderEvent) -> str:
    """The event's kind as text: succeeded, failed, settled or chargeback."""
    return _KINDS[type(event)]


# ---------------------------------------------------------------------------- ports


class FundingProvider(Protocol):
    """Charges instruments. Implementations do I/O: call them outside write units."""

    @property
    def name(self) -> str: ...

    def vault(self, method: Method, instrument: str) -> InstrumentToken:
        """The provider's token for the instrument (the same instrument, the same token; a
        token of the provider's own is answered as it is). Raises ProviderUnavailable."""
        ...

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Accept or decline the charge; raise :class:`ProviderUnavailable` when unsure."""
        ...


class EventFeed(Protocol):
    """Where a provider's events wait until the platform has handled them (webhooks in
    production, an in-process queue in the sandbox)."""

    def due_events(self, now_ns: int, limit: int) -> list[ProviderEvent]:
        """Up to ``limit`` events due at ``now_ns`` and not acknowledged, oldest first. An
        event is handed out again on every call until it is acknowledged."""
        ...

    def acknowledge(self, event_ids: Iterable[str]) -> None:
        """The platform has durably handled these events: do not deliver them again."""
        ...


# ---------------------------------------------------------------------------- instruments

_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]+")
_PHONE: Final = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164


def instrument_problem(method: Method, instrument: object) -> str | None:
    """Why ``instrument`` cannot be charged by ``method`` (None: it has the right shape).

    card: the provider's token (letters, digits, ``_`` and ``-``); bank_transfer: a bank
    account reference or mandate token (same alphabet); carrier: an E.164 phone number.
    """
    if type(instrument) is not str or not 0 < len(instrument) <= INSTRUMENT_LEN_MAX:
        return f"instrument must be text of 1-{INSTRUMENT_LEN_MAX} characters"
    if method is Method.CARRIER:
        if not _PHONE.fullmatch(instrument):
            return "a carrier instrument is a phone number in E.164 form (+15555550100)"
    elif not _TOKEN.fullmatch(instrument):
        return f"a {method.value} instrument is letters, digits, '_' and '-'"
    return None


# ---------------------------------------------------------------------------- statements
# What the provider says happened, for the daily reconciliation (centime.platform.reports.service).


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One money movement as the provider reports it: a charge collected (``succeeded``)
    or taken back (``charged_back``), its amount, and when the provider did it."""

    provider: str
    kind: str  # "succeeded" or "charged_back"
    topup_id: int
    provider_ref: str
    amount: int
    asset: str
    at_ns: int


class Statement(Protocol):
    """A provider's statement of a period."""

    @property
    def name(self) -> str: ...

    def statement(self, start_ns: int, end_ns: int) -> list[StatementLine]:
        """The lines with ``start_ns <= at_ns < end_ns`` (and not in the future)."""
        ...
