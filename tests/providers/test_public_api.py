"""The providers package's public API, pinned: a change to it is a deliberate edit here."""

from __future__ import annotations

import centime.providers


def test_all_is_pinned_and_every_name_exists() -> None:
    assert sorted(centime.providers.__all__) == [
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
    for name in centime.providers.__all__:
        assert getattr(centime.providers, name) is not None
