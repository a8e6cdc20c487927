"""The rules file: the shipped one, validation, reload without restart, a broken file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from centime.risk.features import FEATURE_INDEX, FEATURE_NAMES
from centime.risk.rules import DEFAULT_RULES_PATH, RuleError, RulesFile, load_rules, parse_rules
from centime.risk.types import Action, RiskEvent

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
