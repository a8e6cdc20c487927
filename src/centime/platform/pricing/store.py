"""Published rule-set versions, the version in force inside a unit, and merchants' monthly
volumes.

Versions are only ever inserted: publishing writes version ``max + 1`` in one unit (units
run one at a time under the ledger's writer, and the version is the table's key, so two
publishers can never both take a number). The version in force is the highest.

Reading the rule set in force costs one indexed query per unit (``MAX(version)``); the
parsed value is cached per version in the process, which is safe because a version never
changes once written.

Monthly volume: ``merchant_volumes`` holds each merchant's gross payment volume per asset
and UTC month, read once and written once per unit of payments, so the fee tier of every
payment of a batch is known without scanning payments. Refunds do not lower it (the tier
is about the work the merchant brought; documented in docs/pricing.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from centime.ledger.errors import OverlapLostError
from centime.ledger.units import UnitContext
from centime.limits import AMOUNT_MAX, PRICING_NOTE_LEN_MAX

from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..pages import bounded_limit
from .rules import EMPTY_RULES, RuleSet, RuleSetDocument, build_rules, decode_rules, encode_rules

__all__ = [
    "NOTE_LEN_MAX",
    "GroupVolumes",
    "PublishedRules",
    "active_rules",
    "add_volumes",
    "get_rules",
    "group_volumes",
    "list_rules",
    "month_volumes",
    "publish_rules",
]

NOTE_LEN_MAX: Final = PRICING_NOTE_LEN_MAX
_CACHE_MAX: Final = 32


@dataclass(frozen=True, slots=True)
class PublishedRules:
    version: int
    document: RuleSetDocument
    note: str | None
    published_ns: int


class _Cache:
    """Parsed rule sets by version (bounded, least recently used out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, str], RuleSet] = OrderedDict()

    def get(self, key: tuple[int, str]) -> RuleSet | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, str], rules: RuleSet) -> None:
        with self._lock:
            self._items[key] = rules
            while len(self._items) > _CACHE_MAX:
                self._items.popitem(last=False)


# Keyed by (version, digest of the rules text): a process may open several databases (the
# tests do), whose version 3 need not be the same rules.
_cache: Final = _Cache()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _parse(version: int, text: str) -> RuleSet:
    built = build_rules(decode_rules(text), version)
    if isinstance(built, Refusal):  # it was valid when published: the code changed under it
        raise RuntimeError(f"stored pricing rules version {version} no longer valid: {built}")
    return built


def active_rules(ctx: UnitContext) -> RuleSet:
    """The rule set in force (EMPTY_RULES, version 0, while none is published)."""
    rows = ctx.fetch(
        "SELECT version, digest FROM pricing_rule_sets ORDER BY version DESC LIMIT 1", ()
    )
    if not rows:
        return EMPTY_RULES
    key = (int(rows[0][0]), str(rows[0][1]))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    text = ctx.fetch("SELECT rules FROM pricing_rule_sets WHERE version = ?", (key[0],))[0][0]
    rules = _parse(key[0], text)
    _cache.put(key, rules)
    return rules


def publish_rules(
    platform: Platform, document: RuleSetDocument, note: str | None = None
) -> Operation[PublishedRules | Refusal]:
    """Validate ``document`` and store it as the next version, in force from now."""
    refusal_in: Refusal | None = None
    if note is not None and (type(note) is not str or len(note) > NOTE_LEN_MAX):
        refusal_in = Refusal(Code.INVALID_REQUEST, f"note is text of at most {NOTE_LEN_MAX}")
    if refusal_in is None:
        built = build_rules(document, 0)
        if isinstance(built, Refusal):
            refusal_in = built
    text = encode_rules(document)

    def unit(ctx: UnitContext) -> PublishedRules | Refusal:
        if refusal_in is not None:
            return refusal_in
        rows = ctx.fetch("SELECT MAX(version) FROM pricing_rule_sets", ())
        version = int(rows[0][0] or 0) + 1
        ctx.execute(
            "INSERT INTO pricing_rule_sets (version, rules, digest, note, published_ns)"
            " VALUES (?, ?, ?, ?, ?)",
            (version, text, _digest(text), note, ctx.now_ns),
        )
        return PublishedRules(version, document, note, ctx.now_ns)

    return Operation(unit, 0)


def _published(row: Sequence[Any]) -> PublishedRules:
    return PublishedRules(int(row[0]), decode_rules(row[1]), row[2], int(row[3]))


def get_rules(platform: Platform, version: int) -> PublishedRules | None:
    if type(version) is not int or not 1 <= version <= AMOUNT_MAX:
        return None
    with platform.read() as fetch:
        rows = fetch(
            "SELECT version, rules, note, published_ns FROM pricing_rule_sets WHERE version = ?",
            (version,),
        )
    return _published(rows[0]) if rows else None


def list_rules(
    platform: Platform, before: int | None = None, limit: int = 20
) -> tuple[list[PublishedRules], int | None]:
    """Versions newest first, below ``before`` (None: from the newest); and the ``before``
    of the next page (None: this is the last)."""
    size = bounded_limit(limit)
    top = AMOUNT_MAX if before is None else min(max(before, 0), AMOUNT_MAX)
    with platform.read() as fetch:
        rows = fetch(
            "SELECT version, rules, note, published_ns FROM pricing_rule_sets"
            " WHERE version < ? ORDER BY version DESC LIMIT ?",
            (top, size + 1),
        )
    items = [_published(row) for row in rows[:size]]
    return items, (items[-1].version if len(rows) > size else None)


# ------------------------------------------------------------------ monthly volumes


def month_volumes(ctx: UnitContext, merchant_id: int, month: int) -> dict[str, int]:
    """The merchant's volume per asset in ``month`` (assets without payments: absent)."""
    rows = ctx.fetch(
        "SELECT asset, volume FROM merchant_volumes WHERE merchant_id = ? AND month = ?",
        (merchant_id, month),
    )
    return {str(asset): int(volume) for asset, volume in rows}


def add_volumes(
    ctx: UnitContext,
    merchant_id: int,
    month: int,
    before: Mapping[str, int],
    added: Mapping[str, int],
) -> None:
    """Write ``before + added`` per asset (``before`` as :func:`month_volumes` read it in this
    unit: absent means no row yet). Saturates at AMOUNT_MAX: the volume only picks a tier."""
    for asset, amount in sorted(added.items()):
        if amount <= 0:
            continue
        if asset in before:
            ctx.execute(
                "UPDATE merchant_volumes SET volume = ?"
                " WHERE merchant_id = ? AND asset = ? AND month = ?",
                (min(before[asset] + amount, AMOUNT_MAX), merchant_id, asset, month),
            )
        else:
            ctx.execute(
                "INSERT INTO merchant_volumes (merchant_id, asset, month, volume)"
                " VALUES (?, ?, ?, ?)",
                (merchant_id, asset, month, min(amount, AMOUNT_MAX)),
            )


class GroupVolumes:
    """One merchant's month volumes in a group that overlaps other writer processes'
    (``UnitContext.overlapping``): read once without a lock, grown by the group's units in
    memory (so each sees the earlier ones', as in a group that runs alone), and written at
    the group's end under the row's lock (:meth:`settle`), where what another process added
    meanwhile is added too. A payment priced by a tier is checked again then: if what the
    other processes added would have put it in another tier, the group runs again alone
    (``OverlapLostError``); otherwise every fee stands as if the groups had run in turn."""

    def __init__(self, merchant_id: int, month: int, read: dict[str, int]) -> None:
        self.merchant_id = merchant_id
        self.month = month
        self.read = read  # as read, unlocked (assets without a row: absent)
        self.added: dict[str, int] = {}
        # (asset, volume it was priced at, its terms, the terms at another volume)
        self.priced: list[tuple[str, int, object, Callable[[int], object]]] = []

    def volumes(self) -> dict[str, int]:
        """The volumes as the group's earlier units left them (absent: no row, none added)."""
        assets = self.read.keys() | self.added.keys()
        return {a: self.read.get(a, 0) + self.added.get(a, 0) for a in assets}

    def add(self, added: Mapping[str, int]) -> None:
        for asset, amount in added.items():
            if amount > 0:
                self.added[asset] = self.added.get(asset, 0) + amount

    def settle(self, ctx: UnitContext) -> None:
        """Lock the rows, check every tiered price against what is stored now, write."""
        rows = ctx.fetch(
            "SELECT asset, volume FROM merchant_volumes WHERE merchant_id = ? AND month = ?"
            " ORDER BY asset FOR UPDATE",
            (self.merchant_id, self.month),
        )
        now = {str(asset): int(volume) for asset, volume in rows}
        for asset, volume, terms, terms_at in self.priced:
            moved = now.get(asset, 0) - self.read.get(asset, 0)
            if moved and terms_at(volume + moved) != terms:
                raise OverlapLostError("another process moved a payment's volume tier")
        add_volumes(ctx, self.merchant_id, self.month, now, self.added)


def group_volumes(ctx: UnitContext, merchant_id: int, month: int) -> GroupVolumes:
    """The group's :class:`GroupVolumes` of the merchant's month (an overlapping group's
    units share it; the first one reads the rows and registers the settlement)."""
    key = ("merchant_volumes", merchant_id, month)
    state = ctx.group_state.get(key)
    if not isinstance(state, GroupVolumes):
        state = GroupVolumes(merchant_id, month, month_volumes(ctx, merchant_id, month))
        ctx.group_state[key] = state
        every = ctx.group_state.get("merchant_volumes")
        if not isinstance(every, dict):
            every = {}
            ctx.group_state["merchant_volumes"] = every
            ctx.at_end(lambda: _settle_all(ctx, every))
        every[merchant_id, month] = state
    return state


def _settle_all(ctx: UnitContext, every: dict[tuple[int, int], GroupVolumes]) -> None:
    """Settle the group's volumes in (merchant, month) order, whatever order its units
    named them in: two groups locking the rows of M1 and M2 lock them in the same order,
    so neither waits for the other's end (a deadlock)."""
    for key in sorted(every):
        every[key].settle(ctx)
