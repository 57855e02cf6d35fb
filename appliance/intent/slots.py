"""Slot values as skills want them: whole numbers as ints, amounts of time as ``duration_s``."""

from __future__ import annotations

from typing import Any

_DURATION_PARTS = {"hours": 3600, "minutes": 60, "seconds": 1}


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
