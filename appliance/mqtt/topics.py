"""Our own simple topics under ``<topic_prefix>/<site_id>/``, for users without Home Assistant.

State topics are retained (``state``, ``volume``, ``mute``, ...); commands are ``say`` (plain
text or JSON ``{"text": ...}``), ``volume/set`` (0-100), ``mute/set`` (ON/OFF), ``listen`` and
the wake-word settings. Home Assistant's entities use the same topics.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.mqtt.payloads import (
    BadPayload,
    decode_json_object,
    decode_text,
    get_str,
    parse_number,
    parse_switch,
)
from appliance.mqtt.settings import MqttSettings, check_topic_prefix

WAKE_THRESHOLD_MIN = 0.01
WAKE_THRESHOLD_MAX = 0.99
_PRESS_WORDS = frozenset({"", "press", "on", "1", "true", "start"})


@dataclass(frozen=True)
class Topics:
    base: str
    discovery_prefix: str  # "" = no Home Assistant discovery

    @classmethod
    def for_site(cls, settings: MqttSettings, site_id: str) -> Topics:
        prefix = check_topic_prefix(settings.topic_prefix, "mqtt.topic_prefix")
        discovery = check_topic_prefix(settings.discovery_prefix, "mqtt.discovery_prefix")
        base = f"{prefix}/{site_id}" if prefix else site_id
        return cls(base=base, discovery_prefix=discovery)

    def sub(self, suffix: str) -> str:
        return f"{self.base}/{suffix}"

    @property
    def availability(self) -> str:
        return self.sub("availability")

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def discovery_config(self, node_id: str) -> str:
        return f"{self.discovery_prefix}/device/{node_id}/config"


# Retained state topics (suffixes of Topics.base).
STATE = "state"
LISTENING = "listening"
VOLUME = "volume"
MUTE = "mute"
TRANSCRIPT = "transcript"
RESPONSE = "response"
INTENT = "intent"
WAKE_THRESHOLD = "wake/threshold"
WAKE_WORD = "wake/word"
NEXT_TIMER = "timer/next"
NEXT_ALARM = "alarm/next"
# Events (not retained).
EVENT = "event"
EVENT_BUTTON = "event/button"
EVENT_WAKE = "event/wake"
# Commands.
SAY = "say"
VOLUME_SET = "volume/set"
MUTE_SET = "mute/set"
LISTEN = "listen"
WAKE_THRESHOLD_SET = "wake/threshold/set"
WAKE_WORD_SET = "wake/word/set"


def parse_say(payload: bytes) -> str:
    """Plain text, or a JSON object with a ``text`` string."""
    text = decode_text(payload)
    if text.startswith("{"):
        text = get_str(decode_json_object(payload), "text")
    if not text:
        raise BadPayload("nothing to say (empty text)")
    return text


def parse_volume(payload: bytes) -> int:
    return round(parse_number(decode_text(payload), 0, 100))


def parse_mute(payload: bytes) -> bool:
    return parse_switch(decode_text(payload))


def parse_listen(payload: bytes) -> None:
    if decode_text(payload).lower() not in _PRESS_WORDS:
        raise BadPayload("payload must be empty or PRESS")


def parse_wake_threshold(payload: bytes) -> float:
    return parse_number(decode_text(payload), WAKE_THRESHOLD_MIN, WAKE_THRESHOLD_MAX)


def parse_wake_word(payload: bytes, choices: tuple[str, ...]) -> str:
    name = decode_text(payload)
    if name not in choices:
        raise BadPayload("unknown wake word (see the wake/word select options)")
    return name
