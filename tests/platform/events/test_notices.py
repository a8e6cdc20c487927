"""Notices in the party's language: the one it chose (kept by remember_language), English
when none is known; the machine-readable event is the same in every language."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from centime.platform.context import Operation, Platform
from centime.platform.events.notices import (
    LANGUAGES,
    Change,
    credential_changed,
    notice_text,
    remember_language,
)

from ..world import customer, merchant


def _notices(platform: Platform, event_type: str) -> list[dict[str, str]]:
    with platform.read() as fetch:
        rows = fetch("SELECT data FROM outbox_events WHERE type = ?", (event_type,))
    return [json.loads(row[0]) for row in rows]


def _written(platform: Platform, before: list[str]) -> list[str]:
    """The notices (as JSON) written since ``before`` was read."""
    now = Counter(json.dumps(n, sort_keys=True) for n in _notices(platform, "account.notice"))
    return list((now - Counter(before)).elements())


def _change(platform: Platform, kind: str, party_id: int) -> dict[str, str]:
    """The notice the change wrote."""
    before = [json.dumps(n, sort_keys=True) for n in _notices(platform, "account.notice")]
    platform.execute(
        Operation(
            lambda ctx: credential_changed(ctx, kind, party_id, Change.PASSKEY_ADDED, "Phone"), 0
        )
    )
    (written,) = _written(platform, before)
    found: dict[str, str] = json.loads(written)
    return found


def test_a_notice_is_in_the_language_the_party_chose(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    first = _change(platform, "customer", ada.id)  # nothing chosen yet: English
    assert platform.execute(remember_language("customer", ada.id, "ko")) is True
    korean = _change(platform, "customer", ada.id)
    assert platform.execute(remember_language("merchant", shop.id, "ko")) is True
    assert platform.execute(remember_language("merchant", shop.id, "en")) is True
    switched_back = _change(platform, "merchant", shop.id)
    assert first["language"] == "en" and first["subject"] == "A passkey was added to your account"
    assert korean["language"] == "ko" and korean["subject"] == "계정에 패스키가 추가되었습니다"
    assert "Phone" in korean["body"] and "복구 코드" in korean["body"]
    assert switched_back["language"] == "en"
    events = _notices(platform, "account.credential_changed")
    assert {e["change"] for e in events} == {"passkey_added"}  # machine-readable, unchanged


def test_unknown_languages_and_parties_are_not_kept(platform: Platform) -> None:
    ada = customer(platform)
    assert platform.execute(remember_language("customer", ada.id, "fr")) is False
    assert platform.execute(remember_language("operator", 1, "ko")) is False


@pytest.mark.parametrize("change", list(Change))
@pytest.mark.parametrize("language", [*LANGUAGES, "xx"])
def test_every_change_has_its_words_in_every_language(change: Change, language: str) -> None:
    subject, body = notice_text(change, "detail", language)
    assert subject and body.startswith(f"{subject}: detail.")
    assert subject == notice_text(change, "detail", "en")[0] or language == "ko"
