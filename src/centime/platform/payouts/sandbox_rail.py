"""The sandbox payout rail's records in the platform's database (a
:class:`~centime.providers.payout_sandbox.RailJournal`).

A real rail keeps its accounts and payouts on its side whatever happens to the platform's
server; the sandbox does the same here, in its own tables (``sandbox_rail_*``), so that a
restarted ``centime serve`` still knows the bank accounts it registered, answers a payout
sent again as it answered the first time, and delivers the events still due.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

from centime.ledger.units import UnitContext
from centime.limits import SANDBOX_CHARGES_MAX
from centime.providers import payouts as port
from centime.providers.payout_sandbox import RailRecords

from ..context import Operation, Platform

__all__ = ["DatabaseRailJournal"]

# A rail's answer or event is stored as JSON: its kind (its type's name less ``Payout``,
# in lower case) and then its fields, in order; a request as its fields.
_KINDS: Final[dict[str, type[Any]]] = {
    kind.__name__.removeprefix("Payout").lower(): kind
    for kind in (
        port.PayoutAccepted,
        port.PayoutRejected,
        port.PayoutPaid,
        port.PayoutFailed,
        port.PayoutReturned,
    )
}


def _request_json(request: port.PayoutRequest) -> str:
    return json.dumps(dataclasses.astuple(request))


def _request(text: str) -> port.PayoutRequest:
    return port.PayoutRequest(*json.loads(text))


def _record_json(record: port.PayoutResult | port.PayoutEvent) -> str:
    kind = type(record).__name__.removeprefix("Payout").lower()
    values = [kind, *dataclasses.astuple(record)]
    if isinstance(record, port.PayoutPaid):
        # Every event is stored in one shape (..., provider_ref, code): a paid event has no
        # code and writes a null there, so a process of an earlier version (a rolling
        # deploy, a rollback) still reads what this one writes.
        values.append(None)
    return json.dumps(values)


def _record(text: str) -> Any:
    """The answer or event of :func:`_record_json`. A paid event ends with a null ``code``,
    past its fields: it is left out."""
    kind, *values = json.loads(text)
    made = _KINDS[kind]
    return made(*values[: len(dataclasses.fields(made))])


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
                records.payouts.append((_request(str(request)), _record(str(result))))
        return records

    def find_account(self, token: str) -> str | None:
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT number FROM sandbox_rail_accounts WHERE rail = ? AND token = ?",
                (self._rail, token),
            )
        return str(rows[0][0]) if rows else None

    def find_payout(self, payout_id: int) -> tuple[port.PayoutRequest, port.PayoutResult] | None:
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT request, result FROM sandbox_rail_payouts WHERE rail = ? AND payout_id = ?",
                (self._rail, payout_id),
            )
        return (_request(str(rows[0][0])), _record(str(rows[0][1]))) if rows else None

    def due(self, now_ns: int, limit: int) -> list[port.PayoutEvent]:
        """Events due by ``now_ns``, oldest first, again on every call until acknowledged."""
        with self._platform.read() as fetch:
            rows = fetch(
                "SELECT event FROM sandbox_rail_events WHERE rail = ? AND due_ns <= ?"
                " ORDER BY due_ns, event_id LIMIT ?",
                (self._rail, now_ns, limit),
            )
        return [_record(str(row[0])) for row in rows]

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
        request: port.PayoutRequest,
        result: port.PayoutResult,
        events: list[tuple[int, port.PayoutEvent]],
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
                (rail, request.payout_id, ctx.now_ns, _request_json(request), _record_json(result)),
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
                [(rail, e.event_id, due_ns, _record_json(e)) for due_ns, e in events],
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
