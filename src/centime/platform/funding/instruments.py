"""Funding instruments at rest: the provider's token, the last four characters and a keyed
fingerprint, never the card, bank account or phone number itself.

A top-up names an instrument as the customer gave it (a test card number in the sandbox, a
provider's token in production, a bank account, a phone number). Before anything is
recorded or screened, the provider vaults it (``FundingProvider.vault``: the token the
platform charges from then on, and the last four characters it may show), and the platform
fingerprints it: HMAC-SHA256 under the platform's instrument key, so the same instrument
always has the same fingerprint (idempotent retries, the risk screen's instrument features,
referral abuse checks) while a copy of the database cannot be matched against the few
billion card numbers of a card range, as an unkeyed hash could.

The key (:func:`instrument_key_from_env`): ``CENTIME_INSTRUMENT_KEY`` (base64 of 32 bytes),
or the file ``CENTIME_INSTRUMENT_KEY_FILE`` names, or ``<database>.instrument-key`` beside a
SQLite database (made when missing), like the webhook secrets' key; every process of a
PostgreSQL deployment needs the same one. A platform the composition root gave no key (a
test, a library user) makes a random one for its own lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from centime.keyfile import KEY_BYTES, required_key
from centime.providers.funding import FundingProvider, Method

from ..context import Platform

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "Vaulted",
    "fingerprint",
    "install_instrument_key",
    "instrument_key",
    "instrument_key_from_env",
    "vault",
]

KEY_ENV: Final = "CENTIME_INSTRUMENT_KEY"
KEY_FILE_ENV: Final = "CENTIME_INSTRUMENT_KEY_FILE"
_TOKEN_LEN_MAX: Final = 64


@dataclass(frozen=True, slots=True)
class Vaulted:
    """An instrument as the platform keeps it."""

    token: str  # the provider's: what is charged
    fingerprint: str  # fp_ + 32 hex: HMAC under the instrument key
    last4: str  # what the customer may be shown ("" when the provider does not say)


def fingerprint(key: bytes, method: Method | str, instrument: str) -> str:
    """The keyed fingerprint of an instrument (spaces ignored: ``4242 4242 ...`` is the
    card ``4242424242...``)."""
    name = method.value if isinstance(method, Method) else method
    plain = "".join(instrument.split())
    digest = hmac.new(key, f"{name}\x1f{plain}".encode(), hashlib.sha256).hexdigest()
    return f"fp_{digest[:32]}"


def instrument_key_from_env(default_key_file: Path | None = None) -> bytes:
    """The key the environment configures (see the module's docstring)."""
    try:
        return required_key(KEY_ENV, KEY_FILE_ENV, default_key_file)
    except RuntimeError as missing:
        raise RuntimeError(f"instrument fingerprints need a key: {missing}") from None


def install_instrument_key(platform: Platform, key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an instrument key is {KEY_BYTES} bytes")
    platform.providers.instrument_key = key


def instrument_key(platform: Platform) -> bytes:
    """The platform's key: the one installed, else the environment's, else a random one
    for this platform's lifetime (then kept)."""
    key = platform.providers.instrument_key
    if key is None:
        try:
            key = instrument_key_from_env()
        except RuntimeError:
            key = os.urandom(KEY_BYTES)
        install_instrument_key(platform, key)
    return key


def vault(
    platform: Platform, provider: FundingProvider, method: Method, instrument: str
) -> Vaulted:
    """The instrument vaulted by ``provider`` and fingerprinted (I/O: no unit open; raises
    the provider's ProviderUnavailable)."""
    answer = provider.vault(method, instrument)
    token = answer.token
    if type(token) is not str or not 0 < len(token) <= _TOKEN_LEN_MAX:
        raise ValueError(f"provider {provider.name} answered a malformed instrument token")
    last4 = answer.last4[-4:] if type(answer.last4) is str else ""
    return Vaulted(token, fingerprint(instrument_key(platform), method, instrument), last4)
