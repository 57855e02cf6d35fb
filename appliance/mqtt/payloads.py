"""Decoding of incoming payloads that never raises anything but :class:`BadPayload`.

Every value from the network is checked for size, encoding, JSON shape and type before it reaches
the controller. :class:`WarnLimiter` keeps a flood of bad messages to one log line per topic per
interval (pure: the caller passes the time).
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ON = frozenset({"on", "true", "1", "yes"})
_OFF = frozenset({"off", "false", "0", "no"})


class BadPayload(ValueError):
    """An incoming message we cannot use; the text says why (one line, no payload echo)."""


def decode_text(payload: bytes) -> str:
    """UTF-8 text without control characters, stripped."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadPayload(f"payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPayload("payload is not UTF-8 text") from None
    return clean_text(text)


def clean_text(text: str) -> str:
    if _CONTROL.search(text):
        raise BadPayload("text contains control characters")
    return text.strip()


def decode_json_object(payload: bytes) -> dict[str, Any]:
    text = decode_text(payload)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadPayload("payload is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadPayload(f"JSON payload must be an object, not {type(data).__name__}")
    return data


def get_str(data: dict[str, Any], key: str) -> str:
    """A required, non-empty string field."""
    value = get_opt_str(data, key)
    if not value:
        raise BadPayload(f"'{key}' must be a non-empty string")
    return value


def get_opt_str(data: dict[str, Any], key: str) -> str | None:
    """An optional string field (missing or null gives None)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadPayload(f"'{key}' must be a string, not {type(value).__name__}")
    return clean_text(value)


def get_opt_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"'{key}' must be an object, not {type(value).__name__}")
    return value


def parse_number(text: str, lo: float, hi: float) -> float:
    """A finite number from ``lo`` to ``hi`` written as text ("42", "42.0", "0.5")."""
    try:
        value = float(text)
    except ValueError:
        raise BadPayload("payload is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadPayload(f"number must be from {lo:g} to {hi:g}")
    return value


def parse_switch(text: str) -> bool:
    """ON/OFF (Home Assistant), true/false, 1/0, yes/no; any case."""
    word = text.lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise BadPayload("payload must be ON or OFF")


class WarnLimiter:
    """At most one warning per key per ``interval_s``; counts what it held back."""

    def __init__(self, interval_s: float, max_keys: int = 64) -> None:
        self._interval_s = interval_s
        self._max_keys = max_keys
        self._last: OrderedDict[str, float] = OrderedDict()
        self._held: dict[str, int] = {}

    def check(self, key: str, now: float) -> int | None:
        """None: stay quiet. A number: log now, mentioning that many held-back warnings."""
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        self._last.move_to_end(key)
        if len(self._last) > self._max_keys:
            old, _ = self._last.popitem(last=False)
            self._held.pop(old, None)
        return self._held.pop(key, 0)
