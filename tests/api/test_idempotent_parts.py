"""A request run as several write units, answered once (centime.api.idempotency's
IdempotentParts): the answer is stored by the last unit, in its transaction."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from centime.api.idempotency import IdempotentParts, KeyReused, Stored
from centime.ledger.units import UnitContext
from centime.limits import BATCH_EVENTS_MAX
from centime.platform.context import Operation, Platform

OWNER = "merchant:1"
FINGERPRINT = b"f" * 32


def _marking(name: str) -> Operation[str]:
    """A part whose work is a row of its own (a marker in the idempotency table)."""

    def unit(ctx: UnitContext) -> str:
        ctx.execute(
            "INSERT INTO idempotency_keys"
            " (principal, key, request_hash, status_code, body, created_ns)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("marker", name, b"", 200, b"", ctx.now_ns),
        )
        return name

    return Operation(unit, 0)


def _failing() -> Operation[str]:
    def unit(ctx: UnitContext) -> str:
        raise RuntimeError("a part failed")

    return Operation(unit, 0)


def _keys(platform: Platform, principal: str) -> dict[str, bytes]:
    with platform.read() as fetch:
        rows = fetch("SELECT key, body FROM idempotency_keys WHERE principal = ?", (principal,))
    return {str(key): bytes(body) for key, body in rows}


def _joined(results: list[str]) -> tuple[int, bytes]:
    return 200, "+".join(results).encode()


def _run(
    platform: Platform,
    parts: list[Operation[str]],
    keep: Callable[[list[str]], tuple[int, bytes]] = _joined,
    fingerprint: bytes = FINGERPRINT,
) -> list[object]:
    idempotent = IdempotentParts(parts, OWNER, "k-1", fingerprint, keep)
    outcomes: list[object] = []
    for future in idempotent.submit(platform.ledger):
        try:
            outcomes.append(future.result(30))
        except RuntimeError as error:
            outcomes.append(error)
    return outcomes


def test_the_last_part_stores_every_parts_results(platform: Platform) -> None:
    assert _run(platform, [_marking("a"), _marking("b"), _marking("c")]) == ["a", "b", "c"]
    assert _keys(platform, OWNER) == {"k-1": b"a+b+c"}
    assert set(_keys(platform, "marker")) == {"a", "b", "c"}


def test_parts_in_groups_of_their_own_are_stored_together(platform: Platform) -> None:
    """Parts that each fill a group commit separately; the last still sees them all."""
    filling = [Operation(part.unit, BATCH_EVENTS_MAX) for part in map(_marking, "xyz")]
    assert _run(platform, filling) == ["x", "y", "z"]
    assert _keys(platform, OWNER) == {"k-1": b"x+y+z"}


def test_the_answer_and_the_last_parts_work_commit_together(platform: Platform) -> None:
    def broken_keep(results: list[str]) -> tuple[int, bytes]:
        raise RuntimeError("cannot keep")

    outcomes = _run(platform, [_marking("a"), _marking("b")], keep=broken_keep)
    assert outcomes[0] == "a" and isinstance(outcomes[1], RuntimeError)
    assert _keys(platform, OWNER) == {}
    assert set(_keys(platform, "marker")) == {"a"}  # b rolled back with its answer


def test_nothing_is_stored_when_an_earlier_part_failed(platform: Platform) -> None:
    outcomes = _run(platform, [_failing(), _marking("b")])
    assert isinstance(outcomes[0], RuntimeError) and outcomes[1] == "b"
    assert _keys(platform, OWNER) == {}  # a retry runs again


@pytest.mark.parametrize(("fingerprint", "answer"), [(FINGERPRINT, Stored), (b"o" * 32, KeyReused)])
def test_a_stored_key_runs_no_part(platform: Platform, fingerprint: bytes, answer: type) -> None:
    _run(platform, [_marking("a")])
    outcomes = _run(platform, [_marking("b"), _marking("c")], fingerprint=fingerprint)
    assert [type(o) for o in outcomes] == [answer, answer]
    if answer is Stored:
        assert outcomes[0] == Stored(200, b"a", replayed=True)
    assert set(_keys(platform, "marker")) == {"a"}
