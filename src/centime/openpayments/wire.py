"""The resources as the specification shows them (JSON-ready dicts; amounts as strings)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from .addresses import Urls, Wallet
from .amounts import amount_json
from .incoming import IncomingPayment
from .outgoing import OutgoingPayment, Spent
from .quotes import Quote

__all__ = ["incoming_json", "outgoing_json", "public_incoming_json", "quote_json", "rfc3339"]


def rfc3339(ns: int) -> str:
    """``2026-12-06T19:31:26.123Z``: UTC, milliseconds (integer arithmetic)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1_000_000:03d}Z"


def _metadata(text: str | None) -> dict[str, Any]:
    return {} if text is None else {"metadata": json.loads(text)}


def incoming_json(
    urls: Urls, payment: IncomingPayment, now_ns: int, *, methods: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": urls.resource("incoming-payments", payment.id),
        "walletAddress": urls.wallet(payment.wallet),
        "completed": payment.completed,
        "receivedAmount": amount_json(payment.received, payment.asset),
        "expiresAt": rfc3339(payment.expires_ns),
        "createdAt": rfc3339(payment.created_ns),
        **_metadata(payment.metadata),
    }
    if payment.incoming_amount is not None:
        body["incomingAmount"] = amount_json(payment.incoming_amount, payment.asset)
    if methods:
        # No Interledger (STREAM) endpoint: money reaches it only from centime wallets.
        body["methods"] = []
    return body


def public_incoming_json(urls: Urls, payment: IncomingPayment) -> dict[str, Any]:
    return {
        "receivedAmount": amount_json(payment.received, payment.asset),
        "authServer": urls.auth_server,
    }


def quote_json(urls: Urls, quote: Quote) -> dict[str, Any]:
    return {
        "id": urls.resource("quotes", quote.id),
        "walletAddress": urls.wallet(quote.wallet),
        "receiver": urls.resource("incoming-payments", quote.receiver),
        "debitAmount": amount_json(quote.debit, quote.asset),
        "receiveAmount": amount_json(quote.receive, quote.asset),
        "method": "ilp",
        "createdAt": rfc3339(quote.created_ns),
        "expiresAt": rfc3339(quote.expires_ns),
    }


def outgoing_json(
    urls: Urls, payment: OutgoingPayment, spent: Spent | None = None
) -> dict[str, Any]:
    wallet = Wallet(payment.party_kind, payment.party_id, payment.asset)
    body: dict[str, Any] = {
        "id": urls.resource("outgoing-payments", payment.id),
        "walletAddress": urls.wallet(wallet),
        "failed": payment.failed,
        "receiver": urls.resource("incoming-payments", payment.receiver),
        "debitAmount": amount_json(payment.debit, payment.asset),
        "receiveAmount": amount_json(payment.receive, payment.asset),
        "sentAmount": amount_json(payment.sent, payment.asset),
        "createdAt": rfc3339(payment.created_ns),
        **_metadata(payment.metadata),
    }
    if payment.quote_id is not None:
        body["quoteId"] = urls.resource("quotes", payment.quote_id)
    if spent is not None:
        body["grantSpentDebitAmount"] = amount_json(spent.debit, payment.asset)
        body["grantSpentReceiveAmount"] = amount_json(spent.receive, payment.asset)
    return body
