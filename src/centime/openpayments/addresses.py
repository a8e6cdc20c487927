"""Where things live: wallet addresses and resource URLs under the server's base URL.

Every customer wallet and every merchant's earnings, per asset, is a wallet address:
``{base}/op/wallets/cus_.../USD``. The resource server is ``{base}/op`` and the
authorization server ``{base}/op/auth``; resources are ``{base}/op/incoming-payments/{id}``,
``/quotes/{id}``, ``/outgoing-payments/{id}``. Pure: URLs in, names out; a URL that is not
exactly one of ours (scheme, host, port and path) is None, so a foreign wallet is never
mistaken for a local one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from centime.money import ASSETS
from centime.platform.ids import format_id, parse_id

__all__ = [
    "PREFIX",
    "Urls",
    "Wallet",
]

PREFIX: Final = "/op"
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_KINDS: Final = {"cus": "customer", "mer": "merchant"}
_PREFIX_OF: Final = {kind: prefix for prefix, kind in _KINDS.items()}


@dataclass(frozen=True, slots=True)
class Wallet:
    """A wallet address: a customer's wallet or a merchant's earnings in one asset."""

    kind: str  # customer, merchant
    party_id: int
    asset: str

    @property
    def path(self) -> str:
        return f"{PREFIX}/wallets/{format_id(_PREFIX_OF[self.kind], self.party_id)}/{self.asset}"


def wallet_from_parts(party: str, asset: str) -> Wallet | None:
    """The wallet the path segments name (``cus_...``, ``USD``), or None."""
    head = party.partition("_")[0]
    kind = _KINDS.get(head)
    party_id = parse_id(head, party) if kind else None
    if kind is None or party_id is None or asset not in ASSETS:
        return None
    return Wallet(kind, party_id, asset)


@dataclass(frozen=True, slots=True)
class Urls:
    """The URLs of one server (``base``: scheme, host and port, no trailing slash)."""

    base: str

    @property
    def resource_server(self) -> str:
        return f"{self.base}{PREFIX}"

    @property
    def auth_server(self) -> str:
        return f"{self.base}{PREFIX}/auth"

    def wallet(self, wallet: Wallet) -> str:
        return f"{self.base}{wallet.path}"

    def resource(self, kind: str, resource_id: str) -> str:
        return f"{self.base}{PREFIX}/{kind}/{resource_id}"

    def continue_uri(self, grant_id: str) -> str:
        return f"{self.auth_server}/continue/{grant_id}"

    def manage_uri(self, token_id: str) -> str:
        return f"{self.auth_server}/token/{token_id}"

    def interact_uri(self, interact_id: str) -> str:
        return f"{self.base}{PREFIX}/consent/{interact_id}"

    def parse_wallet(self, url: object) -> Wallet | None:
        """The local wallet ``url`` is the address of (a trailing slash tolerated)."""
        path = self._local_path(url)
        if path is None:
            return None
        parts = path.rstrip("/").split("/")
        if len(parts) != 5 or parts[:3] != ["", PREFIX[1:], "wallets"]:
            return None
        return wallet_from_parts(parts[3], parts[4])

    def parse_resource(self, url: object, kind: str) -> str | None:
        """The id of the local resource of ``kind`` (``incoming-payments``...) ``url`` names."""
        path = self._local_path(url)
        head = f"{PREFIX}/{kind}/"
        if path is None or not path.startswith(head):
            return None
        resource_id = path[len(head) :]
        return resource_id if _UUID.fullmatch(resource_id) else None

    def is_local(self, url: object) -> bool:
        return self._local_path(url) is not None

    def _local_path(self, url: object) -> str | None:
        if type(url) is not str or not url.startswith(self.base + "/") or len(url) > 1024:
            return None
        path = url[len(self.base) :]
        return None if "?" in path or "#" in path else path


def valid_uuid(text: object) -> bool:
    return type(text) is str and _UUID.fullmatch(text) is not None
