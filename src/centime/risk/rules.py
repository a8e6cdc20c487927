"""Declarative rules in a versioned TOML file, reloaded without a restart.

The file (the default ships as ``centime/risk/data/rules.toml``; docs/risk.md describes it)::

    version = "2026-11-29.1"
    [bands]                # calibrated model score (0-99) at or above which ...
    review = 50
    step_up = 70
    block = 90
    [lists]                # named lists of ids the conditions refer to
    blocked_devices = ["dev_..."]
    [[rule]]
    code = "card_testing"  # the reason code a decision shows
    action = "block"       # allow | review | step_up | block
    types = ["topup"]      # optional: the event types it applies to (default: all)
    when = [["payer_declines_1h", ">=", 3], ["device", "in", "blocked_devices"]]

A condition is ``[left, op, right]``: ``left`` is a feature name (centime.risk.features) or an
event field (type, payer, payee, device, ip, instrument); ``op`` is one of ``>= > <= < == !=``
against a number, or ``in`` / ``not_in`` a named list. All conditions of a rule must hold.

:class:`RulesFile` checks the file's modification time at most once per ``check_interval_s``;
a changed file is parsed and validated whole and then swapped in with one assignment, so a
decision sees the old rules or the new ones, never a mix. A file that fails to parse or
validate keeps the last good rules and logs a warning (once per change).
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from centime.risk.features import FEATURE_COST, FEATURE_INDEX, LazyRow, Row
from centime.risk.types import EVENT_TYPES, Action, RiskEvent

__all__ = [
    "DEFAULT_RULES_PATH",
    "Bands",
    "Rule",
    "RuleError",
    "RulesFile",
    "Ruleset",
    "parse_rules",
]

log = logging.getLogger(__name__)

RULES_MAX: Final = 500
LIST_ITEMS_MAX: Final = 100_000
CONDITIONS_MAX: Final = 16
RULES_BYTES_MAX: Final = 10_000_000
EVENT_FIELDS: Final = ("type", "payer", "payee", "device", "ip", "instrument")
SEVERITY: Final = {Action.ALLOW: 0, Action.REVIEW: 1, Action.STEP_UP: 2, Action.BLOCK: 3}
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def _default_rules_path() -> Path:
    return Path(str(resources.files("centime.risk") / "data" / "rules.toml"))


DEFAULT_RULES_PATH: Final = _default_rules_path()


class RuleError(ValueError):
    """A rules file that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Bands:
    review: int
    step_up: int
    block: int

    def action(self, score: int) -> Action:
        if score >= self.block:
            return Action.BLOCK
        if score >= self.step_up:
            return Action.STEP_UP
        if score >= self.review:
            return Action.REVIEW
        return Action.ALLOW


# A compiled condition: (feature index or -1, event field index or -1, compare, right side).
_Condition = tuple[int, int, Callable[[Any, Any], bool], Any]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    action: Action
    types: frozenset[str] | None
    conditions: tuple[_Condition, ...]

    def matches(self, event: RiskEvent, row: Row | LazyRow) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        for feature, field, compare, right in self.conditions:
            left = row[feature] if feature >= 0 else event[field]
            if not compare(left, right):
                return False
        return True


# Per event type, the rules that can fire on it in file order, each with the conditions left
# to check, cheapest first (compiled once per ruleset by _plan).
_Plan = tuple[tuple[Rule, tuple[_Condition, ...]], ...]


@dataclass(frozen=True, slots=True)
class Ruleset:
    version: str
    bands: Bands
    rules: tuple[Rule, ...]
    # The rules that apply to each event type, in file order (built once, not per event).
    by_type: Mapping[str, tuple[Rule, ...]] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    # What evaluate runs: per event type (and for a type the platform does not know: the
    # untyped rules) the plan of _plan.
    plans: Mapping[str, _Plan] = dataclasses.field(init=False, repr=False, compare=False)
    untyped: _Plan = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_type = {
            kind: tuple(r for r in self.rules if r.types is None or kind in r.types)
            for kind in EVENT_TYPES
        }
        object.__setattr__(self, "by_type", by_type)
        object.__setattr__(self, "plans", {kind: _plan(by_type[kind]) for kind in EVENT_TYPES})
        object.__setattr__(self, "untyped", _plan(r for r in self.rules if r.types is None))

    def evaluate(self, event: RiskEvent, row: Row | LazyRow) -> list[Rule]:
        """The rules that fire on ``event``, worst action first (file order among equals):
        the rules whose every condition holds (:meth:`Rule.matches`). Each rule's conditions
        are read cheapest first (event fields, then the row's cheap features) and stop at the
        first false one, so a lazy row computes only the families a deciding condition
        reads; a rule that cannot fire (``in`` an empty list) reads nothing."""
        fired = []
        for rule, checks in self.plans.get(event.type, self.untyped):
            for feature, field, compare, right in checks:
                if not compare(row[feature] if feature >= 0 else event[field], right):
                    break
            else:
                fired.append(rule)
        if len(fired) > 1:
            fired.sort(key=_severity_first)
        return fired


def _severity_first(rule: Rule) -> int:
    return -SEVERITY[rule.action]


def _cost(condition: _Condition) -> int:
    """What reading a condition's left side costs, for _plan's order: an event field
    nothing, a feature its family's cost (features.FEATURE_COST)."""
    feature = condition[0]
    return FEATURE_COST[feature] if feature >= 0 else 0


def _plan(rules: Iterable[Rule]) -> _Plan:
    """``rules`` as evaluate runs them: a rule with a condition ``in`` an empty list never
    fires (left out); a condition ``not_in`` an empty list always holds (dropped); the other
    conditions cheapest first (a stable sort: file order among equals). All of a rule's
    conditions must hold, and reading one changes nothing the others read, so the order
    changes what is computed, not which rules fire."""
    plan = []
    for rule in rules:
        checks = []
        for condition in rule.conditions:
            compare, right = condition[2], condition[3]
            if compare in (_in, _not_in) and not right:
                if compare is _in:
                    break
                continue
            checks.append(condition)
        else:
            checks.sort(key=_cost)
            plan.append((rule, tuple(checks)))
    return tuple(plan)


def _in(left: Any, right: Any) -> bool:
    return left is not None and left in right


def _not_in(left: Any, right: Any) -> bool:
    return left is None or left not in right


def _condition(raw: Any, lists: Mapping[str, frozenset[str]], where: str) -> _Condition:
    if not (
        isinstance(raw, list)
        and len(raw) == 3
        and isinstance(raw[0], str)
        and isinstance(raw[1], str)
    ):
        raise RuleError(f"{where}: a condition is [left, op, right], got {raw!r}")
    left, op, right = raw
    feature = FEATURE_INDEX.get(left, -1)
    field = RiskEvent._fields.index(left) if left in EVENT_FIELDS else -1
    if feature < 0 and field < 0:
        raise RuleError(f"{where}: {left!r} is neither a feature nor an event field")
    if op in ("in", "not_in"):
        if not isinstance(right, str) or right not in lists:
            raise RuleError(f"{where}: {op} needs the name of a list in [lists], got {right!r}")
        return feature, field, _in if op == "in" else _not_in, lists[right]
    compare = _COMPARE.get(op)
    if compare is None:
        raise RuleError(f"{where}: unknown operator {op!r}")
    if feature >= 0:
        if isinstance(right, bool) or not isinstance(right, int | float):
            raise RuleError(f"{where}: {left} compares with a number, got {right!r}")
        return feature, -1, compare, float(right)
    if op not in ("==", "!=") or not isinstance(right, str):
        raise RuleError(f"{where}: an event field compares == or != with a string")
    return -1, field, compare, right


def parse_rules(document: Mapping[str, Any]) -> Ruleset:
    """Validate a parsed rules document into a :class:`Ruleset` (RuleError if unusable)."""
    version = document.get("version")
    if not isinstance(version, str) or not version or len(version) > 64:
        raise RuleError("version must be a non-empty string of at most 64 characters")
    raw_bands = document.get("bands", {})
    try:
        bands = Bands(int(raw_bands["review"]), int(raw_bands["step_up"]), int(raw_bands["block"]))
    except (KeyError, TypeError, ValueError):
        raise RuleError("[bands] needs integer review, step_up and block") from None
    if not 0 <= bands.review <= bands.step_up <= bands.block <= 100:
        raise RuleError("bands must satisfy 0 <= review <= step_up <= block <= 100")
    lists: dict[str, frozenset[str]] = {}
    for name, items in dict(document.get("lists", {})).items():
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise RuleError(f"list {name} must be a list of strings")
        if len(items) > LIST_ITEMS_MAX:
            raise RuleError(f"list {name} has more than {LIST_ITEMS_MAX} items")
        lists[name] = frozenset(items)
    raw_rules = document.get("rule", [])
    if not isinstance(raw_rules, list) or len(raw_rules) > RULES_MAX:
        raise RuleError(f"[[rule]] must be a list of at most {RULES_MAX} tables")
    rules = []
    codes: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rules.append(_rule(raw, lists, f"rule {i + 1}", codes))
    return Ruleset(version, bands, tuple(rules))


def _rule(raw: Any, lists: Mapping[str, frozenset[str]], where: str, codes: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: not a table")
    code = raw.get("code")
    if not isinstance(code, str) or not code or len(code) > 64 or code in codes:
        raise RuleError(f"{where}: code must be a unique non-empty string")
    codes.add(code)
    where = f"{where} ({code})"
    try:
        action = Action(str(raw.get("action")))
    except ValueError:
        raise RuleError(f"{where}: action must be one of allow, review, step_up, block") from None
    types = raw.get("types")
    if types is not None:
        if not isinstance(types, list) or not all(t in EVENT_TYPES for t in types):
            raise RuleError(f"{where}: types must name event types ({', '.join(EVENT_TYPES)})")
        types = frozenset(types)
    when = raw.get("when", [])
    if not isinstance(when, list) or not when or len(when) > CONDITIONS_MAX:
        raise RuleError(f"{where}: when must hold 1 to {CONDITIONS_MAX} conditions")
    conditions = tuple(_condition(c, lists, where) for c in when)
    return Rule(code, action, types, conditions)


def load_rules(path: Path) -> Ruleset:
    """Read and validate a rules file; RuleError (or OSError) when it cannot be used."""
    data = path.read_bytes()
    if len(data) > RULES_BYTES_MAX:
        raise RuleError(f"{path} is larger than {RULES_BYTES_MAX} bytes")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RuleError(f"{path}: not TOML: {e}") from None
    return parse_rules(document)


class RulesFile:
    """The rules of a file, reloaded when it changes. Raises at construction if the file is
    unusable then (a broken start is loud); later breakage keeps the last good rules."""

    def __init__(
        self,
        path: Path = DEFAULT_RULES_PATH,
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.path = path
        self.check_interval_s = check_interval_s
        self._clock = clock or time.monotonic
        self._mtime_ns = path.stat().st_mtime_ns
        self._ruleset = load_rules(path)
        self._next_check = self._clock() + check_interval_s
        self._failed_mtime_ns: int | None = None

    @property
    def ruleset(self) -> Ruleset:
        return self._ruleset

    def current(self) -> Ruleset:
        """The rules in force, reloading first if the interval passed and the file changed."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self.check_interval_s
            self.reload_if_changed()
        return self._ruleset

    def reload_if_changed(self) -> bool:
        """Reload now if the file's mtime changed; True if new rules were swapped in."""
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except OSError as e:
            if self._failed_mtime_ns != -1:
                log.warning(
                    "rules file %s unreadable (%s): keeping version %s",
                    self.path,
                    e,
                    self._ruleset.version,
                )
                self._failed_mtime_ns = -1
            return False
        if mtime_ns in (self._mtime_ns, self._failed_mtime_ns):
            return False
        try:
            ruleset = load_rules(self.path)
        except (OSError, RuleError) as e:
            log.warning(
                "rules file %s rejected (%s): keeping version %s",
                self.path,
                e,
                self._ruleset.version,
            )
            self._failed_mtime_ns = mtime_ns
            return False
        self._ruleset = ruleset  # one assignment: the swap is atomic
        self._mtime_ns = mtime_ns
        self._failed_mtime_ns = None
        log.info("rules file %s reloaded: version %s", self.path, ruleset.version)
        return True


def worst(actions: Sequence[Action]) -> Action:
    return max(actions, key=SEVERITY.__getitem__, default=Action.ALLOW)
