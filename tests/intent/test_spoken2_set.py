"""spoken2.yaml: the second set of commands to be spoken, written blind after the grammar work.

Its shape is checked here (counts, intent and slot names, int ranges, words not digits, no text
already in another set), never its score: nobody tunes on it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from appliance.intent.bench import DATA_DIR, Case, load_cases

NAME = "spoken2.yaml"

# Each intent and the slots it may carry.
TIME_OF_ALARM = {"hour", "minute", "ampm", "day"}
SLOTS: dict[str, set[str]] = {
    "GetTime": set(), "GetDate": set(), "GetWeekday": set(), "ListCapabilities": set(),
    "GetName": set(),
    "TimerSet": {"duration_s", "name"}, "TimerCancel": {"name"}, "TimerCancelAll": set(),
    "TimerStatus": {"name"}, "TimerAddTime": {"duration_s", "name"},
    "AlarmSet": TIME_OF_ALARM | {"duration_s"}, "AlarmList": set(),
    "AlarmCancel": TIME_OF_ALARM, "AlarmCancelAll": set(), "AlarmSnooze": {"duration_s"},
    "VolumeSet": {"volume", "volume_percent"}, "VolumeUp": set(), "VolumeDown": set(),
    "VolumeMute": set(), "VolumeUnmute": set(),
    "Stop": set(), "Repeat": set(),
}
REQUIRED = {"TimerSet": {"duration_s"}, "TimerAddTime": {"duration_s"}}
DAYS = {"today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday",
        "saturday", "sunday"}


def _cases() -> list[Case]:
    return load_cases(DATA_DIR / NAME)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split())


def test_written_blind_and_dated() -> None:
    head = (DATA_DIR / NAME).read_text(encoding="utf-8").lstrip()
    assert head.startswith("#")
    first = head.splitlines()[0].lower()
    assert "blind" in first and "2026-12-01" in first


def test_counts() -> None:
    cases = _cases()
    intents = Counter(c.intent for c in cases)
    assert len(cases) == 48
    assert intents[None] == 10
    assert len(cases) - intents[None] == 38
    assert len(set(intents) - {None}) >= 18
    for several in ("TimerSet", "AlarmSet", "GetTime", "Stop"):
        assert intents[several] >= 2, several
    assert intents["VolumeSet"] + intents["VolumeUp"] + intents["VolumeDown"] >= 2


def test_intent_and_slot_names() -> None:
    for case in _cases():
        if case.intent is None:
            assert case.slots == {}, case.text
            continue
        assert case.intent in SLOTS, case.text
        assert set(case.slots) <= SLOTS[case.intent], case.text
        assert REQUIRED.get(case.intent, set()) <= set(case.slots), case.text
    volumes = [c for c in _cases() if c.intent == "VolumeSet"]
    assert all(len(c.slots) == 1 for c in volumes)


def _check_slot(key: str, value: Any) -> None:
    if key in ("name", "ampm", "day"):
        assert isinstance(value, str) and value == value.lower() and value.strip() == value
        assert key != "ampm" or value in ("am", "pm")
        assert key != "day" or value in DAYS
        assert key != "name" or not value.startswith(("the ", "a ", "my "))
        return
    assert isinstance(value, int) and not isinstance(value, bool)
    low, high = {"duration_s": (1, 24 * 3600), "hour": (0, 23), "minute": (1, 59),
                 "volume": (0, 10), "volume_percent": (0, 100)}[key]
    assert low <= value <= high


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.text)
def test_slot_values(case: Case) -> None:
    for key, value in case.slots.items():
        _check_slot(key, value)
    if "ampm" in case.slots:
        assert 1 <= case.slots["hour"] <= 12
    if "duration_s" in case.slots and case.intent == "AlarmSet":
        assert set(case.slots) == {"duration_s"}


def test_said_aloud() -> None:
    for case in _cases():
        assert case.text.strip() == case.text and case.text, case.text
        assert not re.search(r"\d", case.text), case.text
        assert not re.search(r"\b[ap]\.m\b|\b[ap]\.m\.", case.text.lower()), case.text
        assert 1 <= len(case.text.split()) <= 16, case.text


def test_no_duplicates() -> None:
    mine = [_norm(c.text) for c in _cases()]
    assert len(set(mine)) == len(mine)
    others = [p for p in DATA_DIR.iterdir() if p.name.endswith(".yaml") and p.name != NAME]
    assert others
    seen = {_norm(c.text) for p in others for c in load_cases(p)}
    assert [t for t in mine if t in seen] == []
