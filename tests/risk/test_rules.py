"""The rules file: the shipped one, validation, reload without restart, a broken file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk import rules as rules_module
from centime.risk.features import FEATURE_COST, FEATURE_INDEX, FEATURE_NAMES
from centime.risk.rules import (
    DEFAULT_RULES_PATH,
    SEVERITY,
    RuleError,
    RulesFile,
    load_rules,
    parse_rules,
)
from centime.risk.types import EVENT_TYPES, Action, RiskEvent

RULES_V1 = """
version = "v1"
[bands]
review = 40
step_up = 70
block = 90
[lists]
blocked_devices = ["dev_bad"]
[[rule]]
code = "blocked_device"
action = "block"
when = [["device", "in", "blocked_devices"]]
[[rule]]
code = "many_declines"
action = "review"
types = ["topup"]
when = [["payer_declines_1h", ">=", 3]]
"""


def event(device: str | None = None, kind: str = "topup") -> RiskEvent:
    return RiskEvent(1, kind, 10, "USD", "cus_1", "cus_1", device, None, None)


def row(**features: float) -> np.ndarray:
    values = np.zeros(len(FEATURE_NAMES))
    for name, value in features.items():
        values[FEATURE_INDEX[name]] = value
    return values


def write(path: Path, text: str, mtime_s: int) -> None:
    path.write_text(text)
    os.utime(path, (mtime_s, mtime_s))


def test_the_shipped_rules_load() -> None:
    ruleset = load_rules(DEFAULT_RULES_PATH)
    assert ruleset.version
    assert len({rule.code for rule in ruleset.rules}) == len(ruleset.rules) >= 10


def test_rules_fire_worst_first_with_their_codes() -> None:
    ruleset = parse_rules(__import__("tomllib").loads(RULES_V1))
    fired = ruleset.evaluate(event("dev_bad"), row(payer_declines_1h=3))
    assert [(r.code, r.action) for r in fired] == [
        ("blocked_device", Action.BLOCK),
        ("many_declines", Action.REVIEW),
    ]
    assert ruleset.evaluate(event("dev_ok", "payment"), row(payer_declines_1h=9)) == []
    assert ruleset.evaluate(event(None), row(payer_declines_1h=2)) == []
    assert ruleset.bands.action(39) is Action.ALLOW
    assert ruleset.bands.action(40) is Action.REVIEW
    assert ruleset.bands.action(95) is Action.BLOCK


@pytest.mark.parametrize(
    ("replace", "replacement", "message"),
    [
        ('version = "v1"', "", "version"),
        ('"payer_declines_1h"', '"no_such_feature"', "neither a feature"),
        ('"blocked_devices"]]', '"no_list"]]', "list"),
        ('action = "review"', 'action = "maybe"', "action"),
        ('">="', '"=~"', "operator"),
        ("review = 40", "review = 95", "bands"),
        ('types = ["topup"]', 'types = ["teleport"]', "types"),
        ("3]]", '"three"]]', "number"),
    ],
)
def test_invalid_rules_are_refused_saying_why(replace: str, replacement: str, message: str) -> None:
    text = RULES_V1.replace(replace, replacement)
    with pytest.raises(RuleError, match=message):
        parse_rules(__import__("tomllib").loads(text))


def test_a_changed_file_is_reloaded_and_a_broken_one_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.toml"
    write(path, RULES_V1, 1_000)
    now = [0.0]
    rules = RulesFile(path, check_interval_s=1.0, clock=lambda: now[0])
    assert rules.current().version == "v1"

    write(path, RULES_V1.replace('"v1"', '"v2"'), 2_000)
    assert rules.current().version == "v1"  # the interval has not passed: no stat yet
    now[0] = 1.5
    assert rules.current().version == "v2"

    with caplog.at_level(logging.WARNING, logger="centime.risk.rules"):
        write(path, "version = [broken", 3_000)
        now[0] = 3.0
        assert rules.current().version == "v2"
        now[0] = 5.0
        assert rules.current().version == "v2"
    warnings = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert len(warnings) == 1 and "keeping version v2" in warnings[0].getMessage()

    write(path, RULES_V1.replace('"v1"', '"v3"'), 4_000)  # fixed: taken again
    now[0] = 7.0
    assert rules.current().version == "v3"
    path.unlink()
    now[0] = 9.0
    assert rules.current().version == "v3"


def test_a_broken_file_at_start_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("version = 'x'\n[bands]\nreview = 1\n")
    with pytest.raises(RuleError):
        RulesFile(path)


# -- the compiled plans: the rules Rule.matches fires, whatever order the conditions run in ---

FEATURE_POOL = ["amount", "payer_declines_1h", "drain_ratio", "cycle", "payer_age_h", "pair_first"]
FIELD_POOL = ["payer", "payee", "device", "ip", "instrument"]
LIST_ITEMS = ["a", "b", "c"]
CONDITION = st.one_of(
    st.tuples(
        st.sampled_from(FEATURE_POOL),
        st.sampled_from([">=", ">", "<=", "<", "==", "!="]),
        st.sampled_from([0, 1, 2.5, -1]),
    ),
    st.tuples(
        st.sampled_from(FIELD_POOL),
        st.sampled_from(["in", "not_in"]),
        st.sampled_from(["empty", "some", "all"]),
    ),
    st.tuples(
        st.sampled_from(FIELD_POOL), st.sampled_from(["==", "!="]), st.sampled_from(LIST_ITEMS)
    ),
)
RULE = st.tuples(
    st.sampled_from(["allow", "review", "step_up", "block"]),
    st.one_of(st.none(), st.lists(st.sampled_from(list(EVENT_TYPES)), min_size=1, max_size=3)),
    st.lists(CONDITION, min_size=1, max_size=5),
)
VALUE = st.sampled_from([0.0, 1.0, 2.5, -1.0, 3.0, float("nan")])
THING = st.one_of(st.none(), st.sampled_from(LIST_ITEMS))


class CountingRow:
    """A row that records what was read (as a lazy row would compute it)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.read: set[int] = set()

    def __getitem__(self, index: int) -> float:
        self.read.add(index)
        return float(self.values[index])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(RULE, min_size=1, max_size=8),
    st.sampled_from([*EVENT_TYPES, "mystery"]),
    st.tuples(THING, THING, THING, THING, THING),
    st.lists(VALUE, min_size=len(FEATURE_POOL), max_size=len(FEATURE_POOL)),
)
def test_evaluate_fires_what_the_rules_match_in_file_order(
    raw_rules: list[Any], kind: str, fields: tuple[Any, ...], values: list[float]
) -> None:
    document = {
        "version": "p",
        "bands": {"review": 1, "step_up": 2, "block": 3},
        "lists": {"empty": [], "some": ["a"], "all": LIST_ITEMS},
        "rule": [
            {"code": f"r{i}", "action": action, "when": [list(c) for c in when]}
            | ({"types": types} if types is not None else {})
            for i, (action, types, when) in enumerate(raw_rules)
        ],
    }
    ruleset = parse_rules(document)
    payer, payee, device, ip, instrument = fields
    e = RiskEvent(1, kind, 10, "USD", payer or "", payee or "", device, ip, instrument)
    full = row(**dict(zip(FEATURE_POOL, values, strict=True)))
    applies = [r for r in ruleset.rules if r.types is None or kind in r.types]
    expected = sorted((r for r in applies if r.matches(e, full)), key=lambda r: -SEVERITY[r.action])
    lazy = CountingRow(full)
    assert ruleset.evaluate(e, lazy) == expected
    # A rule that cannot fire reads nothing; nothing is read past a false condition.
    reads_allowed = {
        FEATURE_INDEX[c[0]] for _, _, when in raw_rules for c in when if c[0] in FEATURE_POOL
    }
    assert lazy.read <= reads_allowed


def test_every_feature_has_its_family_cost() -> None:
    # The plan's order comes from the row's families: a feature without a cost, or a family
    # whose cost is off, would sort a costly read before a cheap one.
    assert len(FEATURE_COST) == len(FEATURE_NAMES)
    cost = dict(zip(FEATURE_NAMES, FEATURE_COST, strict=True))
    assert {n for n, c in cost.items() if c == 1} == {
        "type",
        "amount",
        "hour_utc",
        "amount_round",
        "amount_near_limit",
    }
    for name in ("payer_balance", "payee_fan_out_24h", "payer_component", "payout_method_age_h"):
        assert cost[name] == 3, name
    for name in ("payer_n_1h", "instrument_sum_30d", "pair_first", "payer_declines_1h"):
        assert cost[name] == 2, name
    assert [rules_module._cost((i, 0, _always, None)) for i in range(len(FEATURE_NAMES))] == list(
        FEATURE_COST
    )
    assert rules_module._cost((-1, 1, _always, None)) == 0


def _always(left: Any, right: Any) -> bool:
    return True


def test_the_plan_reads_event_fields_and_base_features_first() -> None:
    ruleset = load_rules(DEFAULT_RULES_PATH)
    for kind, plan in ruleset.plans.items():
        for rule, checks in plan:
            costs = [rules_module._cost(c) for c in checks]
            assert costs == sorted(costs), (kind, rule.code)
    # The shipped lists are empty: the list rules are not even looked at.
    assert all(
        rule.code not in {"blocked_device", "blocked_ip"} for rule, _ in ruleset.plans["payment"]
    )
    payment = dict(ruleset.plans["payment"])
    drained = next(r for r in payment if r.code == "carrier_funds_drained")
    assert payment[drained][0][0] == FEATURE_INDEX["amount"]
