"""The risk engine's port: what the platform asks, and what it is answered.

Every money movement (and sign-ups, payout-method changes) is described as a
:class:`RiskEvent` and handed to a :class:`Screen` before the money moves; the screen answers
a :class:`Decision`. Outcomes the platform learns later (a provider's decline, a payout paid)
are told to the screen with :meth:`Screen.observe`, so features include them.

``RiskEvent`` is also the row of the labelled transaction file that ``centime risk backtest``
replays (docs/risk.md): timestamp, type, amount, asset, payer, payee, device, ip, instrument,
label. Amounts are integers in the asset's scale.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = ["EVENT_TYPES", "Action", "Decision", "LabelSink", "RiskEvent", "RiskLabel", "Screen"]

# What a RiskEvent's ``type`` may be, and what payer and payee name for it.
EVENT_TYPES = {
    "signup": "payer: the new customer or merchant; payee: the referrer, or empty",
    "topup": "payer: the customer; payee: the customer; instrument: card, bank or phone",
    "topup_carrier": "a top-up billed to a phone (carrier billing); as topup",
    "topup_declined": "a provider declined a top-up (an outcome, observed); as topup",
    "payment": "payer: the customer; payee: the merchant",
    "transfer": "payer: the sending customer; payee: the receiving customer",
    "payout": "payer: the merchant; payee: the payout account (bank details' fingerprint)",
    "payout_instant": "an instant payout; as payout",
    "payout_method_change": "payer: the merchant; payee: the new payout account",
}


class Action(enum.StrEnum):
    """What happens to the movement. Ordered by severity: a combination takes the worst."""

    ALLOW = "allow"
    REVIEW = "review"  # the money is held until an analyst decides
    STEP_UP = "step_up"  # the person must confirm with a fresh passkey assertion
    BLOCK = "block"


class RiskEvent(NamedTuple):
    timestamp_ns: int
    type: str
    amount: int  # in the asset's scale; 0 for signup and payout_method_change
    asset: str
    payer: str  # public ids (cus_..., mer_...) or any stable string in an external file
    payee: str
    device: str | None = None
    ip: str | None = None
    instrument: str | None = None  # a card's fingerprint, a phone number's hash, a bank account's


class Decision(NamedTuple):
    action: Action
    score: int  # 0-99, calibrated: higher is riskier
    reasons: tuple[str, ...]  # reason codes a person can read, worst first
    model_version: str | None  # None when the model was not used (missing, corrupt)
    rules_version: str


class Screen(Protocol):
    def decide(self, event: RiskEvent) -> Decision:
        """The decision on ``event``, from what was known before it; the event then counts
        in the features (an attempt counts even when blocked). Never raises: an internal
        failure answers BLOCK with a reason saying so (fail closed)."""
        ...

    def decide_many(self, events: Sequence[RiskEvent]) -> list[Decision]:
        """``decide`` for each event in order (a batch of payments: up to 8189), as if one
        after the other, with the model called once on all rows: a batch must not cost a
        model call per payment."""
        ...

    def observe(self, event: RiskEvent) -> None:
        """An outcome that needs no decision (a decline, a chargeback) joins the features."""
        ...


class RiskLabel(NamedTuple):
    """What became known about an earlier event: fraud or not, and when it became known.

    ``arrived_ns`` is when the label reached the platform (an analyst's decision, a
    chargeback, a dispute, an import), not when its event happened: features count a label
    from its arrival only, so a decision never sees a label that came after it."""

    event_ns: int
    payer: str
    payee: str
    fraud: bool
    arrived_ns: int
    source: str  # analyst | chargeback | dispute | import


class LabelSink(Protocol):
    """A screen that learns from labels (the risk engine): told each label as it arrives."""

    def label(self, label: RiskLabel) -> None:
        """Count ``label`` in the label-feedback features from now on. Never raises."""
        ...
