"""Funding and payout rails: the provider port (:mod:`.funding`) and the in-process sandbox
provider (:mod:`.sandbox`). The public API is re-exported here; ``tests/providers`` pins
``__all__``."""

from .funding import (
    Accepted,
    ChargedBack,
    ChargeFailed,
    ChargeRequest,
    ChargeResult,
    ChargeSettled,
    ChargeSucceeded,
    Declined,
    EventFeed,
    FundingProvider,
    Method,
    ProviderEvent,
    ProviderUnavailable,
    event_kind,
    instrument_problem,
)
from .payout_sandbox import SandboxPayoutConfig, SandboxPayoutRail
from .payouts import PayoutEventFeed, PayoutProvider, PayoutRequest
from .sandbox import Outage, SandboxConfig, SandboxProvider

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
    "Method",
    "Outage",
    "PayoutEventFeed",
    "PayoutProvider",
    "PayoutRequest",
    "ProviderEvent",
    "ProviderUnavailable",
    "SandboxConfig",
    "SandboxPayoutConfig",
    "SandboxPayoutRail",
    "SandboxProvider",
    "event_kind",
    "instrument_problem",
]
