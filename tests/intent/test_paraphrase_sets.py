"""The paraphrase sets (paraphrases, heldout, spoken, paraphrases2) are well formed: sizes,
names, slots.

These check the labels only. How well the engine recognises the sentences is a benchmark
(``appliance bench intents``), not a test: nothing here asserts accuracy.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from appliance.intent.bench import DATA_DIR, Case, load_cases

PARAPHRASES = "paraphrases.yaml"
HELDOUT = "heldout.yaml"
SPOKEN = "spoken.yaml"
PARAPHRASES2 = "paraphrases2.yaml"
SETS = (PARAPHRASES, HELDOUT, SPOKEN, PARAPHRASES2)

ALARM_WHEN = frozenset({"hour", "minute", "ampm", "day"})
SLOTS: dict[str, frozenset[str]] = {
    "GetTime": frozenset(),
    "GetDate": frozenset(),
    "GetWeekday": frozenset(),
    "ListCapabilities": frozenset(),
    "GetName": frozenset(),
    "TimerSet": frozenset({"duration_s", "name"}),
    "TimerCancel": frozenset({"name"}),
    "TimerCancelAll": frozenset(),
    "TimerStatus": frozenset({"name"}),
    "TimerAddTime": frozenset({"duration_s", "name"}),
    "AlarmSet": ALARM_WHEN | {"duration_s"},
    "AlarmList": frozenset(),
    "AlarmCancel": ALARM_WHEN,
    "AlarmCancelAll": frozenset(),
    "AlarmSnooze": frozenset({"duration_s"}),
    "VolumeSet": frozenset({"volume", "volume_percent"}),
    "VolumeUp": frozenset(),
    "VolumeDown": frozenset(),
    "VolumeMute": frozenset(),
    "VolumeUnmute": frozenset(),
    "Stop": frozenset(),
    "Repeat": frozenset(),
}
DAYS = frozenset({"today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday",
                  "saturday", "sunday"})
INT_RANGES = {"duration_s": (1, 24 * 3600), "hour": (0, 23), "minute": (1, 59),
              "volume": (0, 10), "volume_percent": (0, 100)}
NAME = re.compile(r"[a-z]+( [a-z]+)*")



def cases(name: str) -> list[Case]:
    return load_cases(DATA_DIR / name)


def key(text: str) -> str:
    """Case- and punctuation-insensitive form of a sentence."""
    return " ".join(re.sub(r"[^\w\s]|_", " ", text.lower()).split())


def out_of_domain(found: list[Case]) -> int:
    return sum(c.intent is None for c in found)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@pytest.mark.parametrize("name", SETS)
def test_each_set_starts_with_a_comment_saying_what_it_is(name: str) -> None:
    head = (DATA_DIR / name).read_text(encoding="utf-8").lstrip()
    assert head.startswith("#")
    assert "before" in head.split("\n- ", 1)[0].lower()


def test_the_sizes_and_out_of_domain_counts() -> None:
    paraphrases, heldout, spoken, paraphrases2 = (cases(name) for name in SETS)
    assert len(paraphrases) >= 230 and out_of_domain(paraphrases) >= 60
    assert len(heldout) == 90 and out_of_domain(heldout) >= 25
    assert len(spoken) == 44 and out_of_domain(spoken) == 8
    assert len(paraphrases2) >= 200 and out_of_domain(paraphrases2) >= 40


def test_every_intent_is_covered() -> None:
    for name in (PARAPHRASES, PARAPHRASES2):
        per_intent = Counter(c.intent for c in cases(name))
        assert {n: per_intent[n] for n in SLOTS if per_intent[n] < 4} == {}, name
    assert set(SLOTS) <= {c.intent for c in cases(HELDOUT)}
    spoken = Counter(c.intent for c in cases(SPOKEN))
    assert len(set(spoken) - {None}) >= 16  # most intents
    assert all(spoken[n] >= 3 for n in ("TimerSet", "AlarmSet", "VolumeSet"))
    assert all(spoken[n] >= 1 for n in ("GetTime", "Stop"))


@pytest.mark.parametrize("name", SETS)
def test_intents_and_slots_are_the_speakers_own(name: str) -> None:
    for case in cases(name):
        assert case.text == case.text.strip() and case.text, case
        if case.intent is None:
            assert case.slots == {}, case
            continue
        assert case.intent in SLOTS, case
        assert set(case.slots) <= SLOTS[case.intent], case


@pytest.mark.parametrize("name", SETS)
def test_slot_values_are_in_range(name: str) -> None:
    for case in cases(name):
        for slot, value in case.slots.items():
            if slot in INT_RANGES:
                low, high = INT_RANGES[slot]
                assert is_int(value) and low <= value <= high, (case, slot)
            elif slot == "name":
                assert isinstance(value, str) and NAME.fullmatch(value), case
            elif slot == "ampm":
                assert value in {"am", "pm"}, case
            else:
                assert slot == "day" and value in DAYS, case
        if "ampm" in case.slots:
            assert 1 <= case.slots.get("hour", 12) <= 12, case
        if "minute" in case.slots:
            assert "hour" in case.slots, case


@pytest.mark.parametrize("name", SETS)
def test_timers_and_alarms_say_how_long_or_when(name: str) -> None:
    for case in cases(name):
        if case.intent in {"TimerSet", "TimerAddTime"}:
            assert "duration_s" in case.slots, case
        if case.intent == "VolumeSet":
            assert len(case.slots) == 1, case
        if case.intent == "AlarmSet":
            # Either "in 10 minutes" (duration_s only) or a clock time (hour, maybe more).
            if "duration_s" in case.slots:
                assert set(case.slots) == {"duration_s"}, case
            else:
                assert "hour" in case.slots, case


def test_no_sentence_appears_twice() -> None:
    seen: dict[str, str] = {}
    repeated = []
    for name in SETS:
        for case in cases(name):
            k = key(case.text)
            if k in seen:
                repeated.append((case.text, seen[k], name))
            seen[k] = name
    assert repeated == []


def test_the_spoken_set_is_written_as_said() -> None:
    for case in cases(SPOKEN):
        assert not re.search(r"\d|%", case.text), case
        assert not re.search(r"\b[ap]\.\s?m\b|\b[ap] m\b", case.text.lower()), case
        assert not case.text.lower().startswith(("hey jarvis", "jarvis")), case
