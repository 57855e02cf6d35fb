"""Slot values as skills want them: whole numbers as ints, amounts of time as ``duration_s``."""

from __future__ import annotations

from typing import Any

_DURATION_PARTS = {"hours": 3600, "minutes": 60, "seconds": 1}
# A timer's name is what it is for, a few words ("roast potatoes"); a longer one is a sentence
# the wildcard swallowed ("did you remember to set the oven timer for 40 minutes").
TIMER_NAME_MAX_WORDS = 3
_ARTICLES = ("the", "my", "a", "an")
# "how long is left on the timer for the chips": the wildcard took "timer for the chips".
_TIMER_FOR = (["timer", "for"], ["timer", "called"], ["timer", "named"])


def derive_slots(raw: dict[str, Any]) -> dict[str, Any]:
    """``{"hours": 1.0, "minutes": 30.0}`` -> ``{"duration_s": 5400}``; "7.0" -> 7.

    A list value may stand for several slots ("this evening": ``{"day": "today", "ampm":
    "pm"}``): they are taken as if each had been said."""
    raw = _flatten(raw)
    slots: dict[str, Any] = {}
    duration = 0
    for name, given in raw.items():
        value = given
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            value = value.strip()
        if name in _DURATION_PARTS and isinstance(value, int | float):
            duration += int(value * _DURATION_PARTS[name])
        else:
            slots[name] = value
    if any(name in raw for name in _DURATION_PARTS):
        slots["duration_s"] = duration
    return slots


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            out.update({str(k): v for k, v in value.items()})
        else:
            out[name] = value
    return out


def timer_name(intent: str, slots: dict[str, Any]) -> dict[str, Any] | None:
    """A timer intent's ``name`` without its article ("the rice" -> "rice", "timer for the
    chips" -> "chips"); None when the name is too long to be one (the sentence is not a
    command)."""
    name = slots.get("name")
    if not intent.startswith("Timer") or not isinstance(name, str):
        return slots
    words = name.split()
    while len(words) > 1 and (words[0] in _ARTICLES or words[:2] in _TIMER_FOR):
        words = words[2:] if words[:2] in _TIMER_FOR else words[1:]
    if len(words) > TIMER_NAME_MAX_WORDS:
        return None
    return {**slots, "name": " ".join(words)}
