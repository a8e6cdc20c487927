"""Funding: top-ups from cards and banks into wallets, the restricted (unsettled) part of a
balance, and the vaulted instruments they are paid with."""

from .instruments import (
    Vaulted,
    fingerprint,
    install_instrument_key,
    instrument_key,
    instrument_key_from_env,
    vault,
)
from .topups import (
    TopUp,
    TopUpStatus,
    check_request,
    create_topup,
    get_topup,
    list_topups,
    process_provider_events,
)

__all__ = [
    "TopUp",
    "TopUpStatus",
    "Vaulted",
    "check_request",
    "create_topup",
    "fingerprint",
    "get_topup",
    "install_instrument_key",
    "instrument_key",
    "instrument_key_from_env",
    "list_topups",
    "process_provider_events",
    "vault",
]
