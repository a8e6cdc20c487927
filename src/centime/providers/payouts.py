"""The payout provider port: how the platform registers a merchant's bank account and sends
it money, and what the rail reports about a payout later.

As with funding (:mod:`.funding`), a payout is asynchronous: :meth:`PayoutProvider.send`
answers at once whether the rail *accepted* the payout (it will now try to deliver it) or
*rejected* it; whether the money arrived is reported later as an event (``paid`` or
``failed``), and a paid payout can still come back days later (``returned``: the receiving
bank refused it after all). Events are delivered at least once (:class:`PayoutEventFeed`).

The contract a rail adapter keeps:

- ``PayoutRequest.payout_id`` is the idempotency key. Sending the same payout again (after a
  timeout, or by the platform's recovery after a crash) is the same payout: the rail answers
  as the first time and never pays twice. This is what makes crash recovery safe.
- A timeout, a connection failure or a 5xx is :class:`ProviderUnavailable` (the funding
  port's): whether the rail took the payout is unknown, so it must be sent again (same id).
- Bank account numbers reach the rail once, in :meth:`PayoutProvider.register_account`; the
  rail answers a token (what payouts name from then on), a fingerprint (the same number
  always has the same fingerprint, so duplicates can be found without the number) and the
  last four characters. The platform stores only those and the holder's name, never the
  number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from centime.limits import HOLDER_NAME_LEN_MAX

from .funding import ProviderUnavailable

__all__ = [
    "AccountRegistered",
    "AccountRejected",
    "PayoutAccepted",
    "PayoutEvent",
    "PayoutEventFeed",
    "PayoutFailed",
    "PayoutPaid",
    "PayoutProvider",
    "PayoutRejected",
    "PayoutRequest",
    "PayoutResult",
    "PayoutReturned",
    "ProviderUnavailable",
    "account_number_problem",
    "holder_name_problem",
    "payout_event_kind",
]

# Bank account numbers: an IBAN or a local account number, letters and digits (spaces are
# removed before the check), 6 to 34 characters (an IBAN's longest).
ACCOUNT_NUMBER_LEN_MIN: Final = 6
ACCOUNT_NUMBER_LEN_MAX: Final = 34
_ACCOUNT_NUMBER: Final = re.compile(r"[A-Z0-9]+")


def normalized_account_number(number: str) -> str:
    """The number as rails compare it: spaces removed, upper case."""
    return number.replace(" ", "").upper()


def account_number_problem(number: object) -> str | None:
    """Why ``number`` is not a bank account number (None: it has the right shape)."""
    if type(number) is not str or len(number) > 2 * ACCOUNT_NUMBER_LEN_MAX:
        return f"account_number must be text of {ACCOUNT_NUMBER_LEN_MIN}-{ACCOUNT_NUMBER_LEN_MAX}"
    plain = normalized_account_number(number)
    if not (ACCOUNT_NUMBER_LEN_MIN <= len(plain) <= ACCOUNT_NUMBER_LEN_MAX):
        return (
            f"account_number must be {ACCOUNT_NUMBER_LEN_MIN}-{ACCOUNT_NUMBER_LEN_MAX} characters"
        )
    if not plain.isascii() or not _ACCOUNT_NUMBER.fullmatch(plain):
        return "account_number is letters and digits (spaces allowed)"
    return None


def holder_name_problem(name: object) -> str | None:
    if type(name) is not str or not name.strip() or len(name) > HOLDER_NAME_LEN_MAX:
        return f"holder_name must be text of 1-{HOLDER_NAME_LEN_MAX} characters"
    if "\x00" in name:
        return "holder_name must not hold NUL"
    return None


@dataclass(frozen=True, slots=True)
class AccountRegistered:
    """The rail knows the account: payouts name it by ``token``."""

    token: str
    fingerprint: str  # the same number, the same fingerprint (hex)
    last4: str


@dataclass(frozen=True, slots=True)
class AccountRejected:
    """The rail refused the account (closed, unknown bank...): nothing was registered."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """Pay ``amount`` (in the asset's scale) to the account behind ``account_token``."""

    payout_id: int  # the idempotency key: one payout is paid once, however often it is sent
    merchant_id: int
    asset: str
    amount: int
    account_token: str
    instant: bool  # the rail's instant service (arrives within minutes) or the standard one


@dataclass(frozen=True, slots=True)
class PayoutAccepted:
    provider_ref: str


@dataclass(frozen=True, slots=True)
class PayoutRejected:
    """The rail refused the payout outright; nothing was sent."""

    code: str
    message: str


PayoutResult = PayoutAccepted | PayoutRejected


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class PayoutPaid:
    """The money arrived at the merchant's bank."""

    provider: str
    event_id: str
    payout_id: int
    provider_ref: str


@dataclass(frozen=True, slots=True)
class PayoutFailed:
    """An accepted payout could not be delivered; nothing left the rail."""

    provider: str
    event_id: str
    payout_id: int
    provider_ref: str
    code: str


@dataclass(frozen=True, slots=True)
class PayoutReturned:
    """A paid payout came back (the bank refused it after all): its whole amount."""

    provider: str
    event_id: str
    payout_id: int
    provider_ref: str
    code: str


PayoutEvent = PayoutPaid | PayoutFailed | PayoutReturned

_KINDS: Final = {PayoutPaid: "paid", PayoutFailed: "failed", PayoutReturned: "returned"}


def payout_event_kind(event: PayoutEvent) -> str:
    return _KINDS[type(event)]


class PayoutProvider(Protocol):
    """Registers accounts and sends payouts. Implementations do I/O: call them outside
    write units. Both methods raise :class:`ProviderUnavailable` when unsure."""

    @property
    def name(self) -> str: ...

    def register_account(
        self, holder_name: str, account_number: str
    ) -> AccountRegistered | AccountRejected: ...

    def send(self, request: PayoutRequest) -> PayoutResult: ...


class PayoutEventFeed(Protocol):
    """Where a rail's events wait until the platform has handled them."""

    def due_payout_events(self, now_ns: int, limit: int) -> list[PayoutEvent]:
        """Up to ``limit`` due, unacknowledged events, oldest first (again on every call
        until acknowledged)."""
        ...

    def acknowledge_payout_events(self, event_ids: Iterable[str]) -> None: ...
