"""The sandbox payout rail's records in the platform's database (a
:class:`~centime.providers.payout_sandbox.RailJournal`).

A real rail keeps its accounts and payouts on its side whatever happens to the platform's
server; the sandbox does the same here, in its own tables (``sandbox_rail_*``), so that a
restarted ``centime serve`` still knows the bank accounts it registered, answers a payout
sent again as it answered the first time, and delivers the events still due.
"""

from __future__ import annotations

import json
from typing import Any, Final

from centime.ledger.units import UnitContext
from centime.limits import SANDBOX_CHARGES_MAX
from centime.providers.payout_sandbox import RailRecords
from centime.providers.payouts import (
    PayoutAccepted,
    PayoutEvent,
    PayoutFailed,
    PayoutPaid,
    PayoutRejected,
    PayoutRequest,
    PayoutResult,
    PayoutReturned,
)

from ..context import Operation, Platform

__all__ = ["DatabaseRailJournal"]

_EVENT_KINDS: Final[dict[str, type[Any]]] = {
    "paid": PayoutPaid,
    "failed": PayoutFailed,
    "returned": PayoutReturned,
}


def _request_json(request: PayoutRequest) -> str:
    return json.dumps(
        [
            request.payout_id,
            request.merchant_id,
            request.asset,
            request.amount,
            request.account_token,
            request.instant,
        ]
    )


def _request(text: str) -> PayoutRequest:
    payout_id, merchant_id, asset, amount, token, instant = json.loads(text)
    return PayoutRequest(
        int(payout_id), int(merchant_id), str(asset), int(amount), str(token), bool(instant)
    )


def _result_json(result: PayoutResult) -> str:
    if isinstance(result, PayoutAccepted):
        return json.dumps(["accepted", result.provider_ref])
    return json.dumps(["rejected", result.code, result.message])


def _result(text: str) -> PayoutResult:
    kind, *rest = json.loads(text)
    if kind == "accepted":
        return PayoutAccepted(str(rest[0]))
    return PayoutRejected(str(rest[0]), str(rest[1]))


def _event_json(event: PayoutEvent) -> str:
    kind = type(event).__name__.removeprefix("Payout").lower()
    code = getattr(event, "code", None)
    return json.dumps(
        [kind, event.provider, event.event_id, event.payout_id, event.provider_ref, code]
    )


def _event(text: str) -> PayoutEvent:
    kind, provider, event_id, payout_id, ref, code = json.loads(text)
    made: PayoutEvent
    if kind == "paid":
        made = PayoutPaid(str(provider), str(event_id), int(payout_id), str(ref))
    else:
        made = _EVENT_KINDS[kind](str(provider), str(event_id), int(payout_id), str(ref), str(code))
    return made


class DatabaseRailJournal:
    """The rail named ``rail``'s records in the platform's database. Each record is its own
    small unit, written before the rail answers (so what it answered is never forgotten)."""

    def __init__(self, platform: Platform, rail: str) -> None:
        self._platform = platform
        self._rail = rail

    def load(self) -> RailRecords:
        """What the rail starts from (its events stay here: :meth:`due` reads them)."""
        records = RailRecords()
        with self._platform.read() as fetch:
            for token, number in fetch(
                "SELECT token, number FROM sandbox_rail_accounts WHERE rail = ?", (self._rail,)
            ):
                records.accounts[str(token)] = str(number)
            for request, result in fetch(
                "SELECT request, result FROM sandbox_rail_payouts WHERE rail = ? ORDER BY seq"
                " LIMIT ?",
                (self._rail, SANDBOX_CHARGES_MAX),
            ):
                records.payouts.append((_request(str(request)), _result(str(result))))
        return records

    def find_account(self, token: str) -> str | None:
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT number FROM sandbox_rail_accounts WHERE rail = ? AND token = ?",
                (self._rail, token),
            )
        return str(rows[0][0]) if rows else None

    def find_payout(self, payout_id: int) -> tuple[PayoutRequest, PayoutResult] | None:
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT request, result FROM sandbox_rail_payouts WHERE rail = ? AND payout_id = ?",
                (self._rail, payout_id),
            )
        return (_request(str(rows[0][0])), _result(str(rows[0][1]))) if rows else None

    def due(self, now_ns: int, limit: int) -> list[PayoutEvent]:
        """Events due by ``now_ns``, oldest first, again on every call until acknowledged."""
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT event FROM sandbox_rail_events WHERE rail = ? AND due_ns <= ?"
                " ORDER BY due_ns, event_id LIMIT ?",
                (self._rail, now_ns, limit),
            )
        return [_event(str(row[0])) for row in rows]

    def waiting(self) -> int:
        with self._platform.read() as fetch:
            rows = fetch("SELECT COUNT(*) FROM sandbox_rail_events WHERE rail = ?", (self._rail,))
        return int(rows[0][0])

    def record_account(self, token: str, number: str) -> None:
        def unit(ctx: UnitContext) -> None:
            ctx.execute(
                "DELETE FROM sandbox_rail_accounts WHERE rail = ? AND token = ?",
                (self._rail, token),
            )
            ctx.execute(
                "INSERT INTO sandbox_rail_accounts (rail, token, number) VALUES (?, ?, ?)",
                (self._rail, token, number),
            )

        self._platform.execute(Operation(unit, 0))

    def record_payout(
        self,
        request: PayoutRequest,
        result: PayoutResult,
        events: list[tuple[int, PayoutEvent]],
    ) -> None:
        rail = self._rail

        def unit(ctx: UnitContext) -> None:
            ctx.execute(
                "DELETE FROM sandbox_rail_payouts WHERE rail = ? AND payout_id = ?",
                (rail, request.payout_id),
            )
            ctx.execute(
                "INSERT INTO sandbox_rail_payouts (rail, payout_id, seq, request, result)"
                " VALUES (?, ?, ?, ?, ?)",
                (rail, request.payout_id, ctx.now_ns, _request_json(request), _result_json(result)),
            )
            # The oldest decisions beyond the bound are forgotten, as in memory.
            ctx.execute(
                "DELETE FROM sandbox_rail_payouts WHERE rail = ? AND seq <= (SELECT seq FROM"
                " sandbox_rail_payouts WHERE rail = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (rail, rail, SANDBOX_CHARGES_MAX),
            )
            ctx.executemany(
                "INSERT INTO sandbox_rail_events (rail, event_id, due_ns, event)"
                " VALUES (?, ?, ?, ?)",
                [(rail, e.event_id, due_ns, _event_json(e)) for due_ns, e in events],
            )

        self._platform.execute(Operation(unit, 0))

    def acknowledge(self, event_ids: list[str]) -> None:
        rail = self._rail

        def unit(ctx: UnitContext) -> None:
            ctx.executemany(
                "DELETE FROM sandbox_rail_events WHERE rail = ? AND event_id = ?",
                [(rail, event_id) for event_id in event_ids],
            )

        self._platform.execute(Operation(unit, 0))
