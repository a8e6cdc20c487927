from __future__ import annotations

import pytest

from centime.timetext import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (86_398, "23 h 59 min"),
        (86_400, "1 d"),
        (90_061, "1 d 1 h"),
        (3_660, "1 h 1 min"),
        (-5, "0 s"),
    ],
)
def test_durations_read_as_people_say_them(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_a_locale_names_the_units() -> None:
    assert human_duration(86_398, ("일", "시간", "분", "초")) == "23 시간 59 분"
