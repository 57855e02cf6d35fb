"""Home Assistant MQTT device discovery: one retained message describes the whole speaker.

Published to ``<discovery_prefix>/device/<node_id>/config`` on every connect and again whenever
Home Assistant announces itself on ``<discovery_prefix>/status`` (``online``). Entities read and
write the topics of :mod:`appliance.mqtt.topics`, so users without Home Assistant see the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance import __version__
from appliance.events import State
from appliance.mqtt import topics as tp
from appliance.mqtt.topics import WAKE_THRESHOLD_MAX, WAKE_THRESHOLD_MIN, Topics

HA_STATES = ("idle", "listening", "processing", "responding", "muted", "error")
BUTTON_GESTURES = ("short", "double", "long", "repeat")  # appliance.hardware.buttons.Gesture
WAKE_EVENT_TYPES = ("detected",)

_HA_STATE = {
    State.STARTING: "idle",
    State.IDLE: "idle",
    State.WAKE: "listening",
    State.LISTENING: "listening",
    State.THINKING: "processing",
    State.SPEAKING: "responding",
    State.MUTED: "muted",
    State.ERROR: "error",
}


def ha_state(state: State) -> str:
    """Our state in Home Assistant's assistant vocabulary."""
    return _HA_STATE[state]


def is_listening(state: State) -> bool:
    return state in (State.WAKE, State.LISTENING)


@dataclass(frozen=True)
class DeviceInfo:
    node_id: str
    name: str
    wake_words: tuple[str, ...]  # the select offers them (none loaded: no select)
    remote_listen: bool = True  # mqtt.allow_remote_listen: false, no "Start listening" button


def discovery_payload(topics: Topics, device: DeviceInfo) -> dict[str, Any]:
    components = _core_components(topics) | _event_components(topics)
    if not device.remote_listen:
        del components["listen"]
    if device.wake_words:
        components |= _wake_components(topics, device.wake_words)
    for key, component in components.items():
        component["unique_id"] = f"{device.node_id}_{key}"
        component["availability_topic"] = topics.availability
    return {
        "device": {
            "identifiers": [f"appliance_{device.node_id}"],
            "name": device.name,
            "manufacturer": "appliance",
            "model": "Offline smart speaker",
            "sw_version": __version__,
        },
        "origin": {"name": "appliance", "sw_version": __version__},
        "qos": 1,
        "components": components,
    }


def _core_components(t: Topics) -> dict[str, dict[str, Any]]:
    return {
        "state": {
            "platform": "sensor", "name": "Assistant state", "state_topic": t.sub(tp.STATE),
            "device_class": "enum", "options": list(HA_STATES), "icon": "mdi:account-voice",
        },
        "listening": {
            "platform": "binary_sensor", "name": "Listening", "state_topic": t.sub(tp.LISTENING),
            "payload_on": "ON", "payload_off": "OFF", "icon": "mdi:ear-hearing",
        },
        "transcript": _text_sensor(t, "Last transcript", tp.TRANSCRIPT, "text"),
        "response": _text_sensor(t, "Last response", tp.RESPONSE, "text"),
        "intent": _text_sensor(t, "Last intent", tp.INTENT, "name"),
        "mute": {
            "platform": "switch", "name": "Mute", "state_topic": t.sub(tp.MUTE),
            "command_topic": t.sub(tp.MUTE_SET), "payload_on": "ON", "payload_off": "OFF",
            "icon": "mdi:microphone-off",
        },
        "volume": {
            "platform": "number", "name": "Volume", "state_topic": t.sub(tp.VOLUME),
            "command_topic": t.sub(tp.VOLUME_SET), "min": 0, "max": 100, "step": 1,
            "unit_of_measurement": "%", "icon": "mdi:volume-high",
        },
        "listen": {
            "platform": "button", "name": "Start listening", "command_topic": t.sub(tp.LISTEN),
            "payload_press": "PRESS", "icon": "mdi:microphone",
        },
        "say": {
            "platform": "text", "name": "Say", "command_topic": t.sub(tp.SAY), "max": 255,
            "mode": "text", "icon": "mdi:bullhorn",
        },
        "next_timer": _timestamp_sensor(t, "Next timer", tp.NEXT_TIMER, "mdi:timer-outline"),
        "next_alarm": _timestamp_sensor(t, "Next alarm", tp.NEXT_ALARM, "mdi:alarm"),
    }


def _event_components(t: Topics) -> dict[str, dict[str, Any]]:
    return {
        "button": {
            "platform": "event", "name": "Button", "state_topic": t.sub(tp.EVENT_BUTTON),
            "event_types": list(BUTTON_GESTURES), "device_class": "button",
        },
        "wake": {
            "platform": "event", "name": "Wake word", "state_topic": t.sub(tp.EVENT_WAKE),
            "event_types": list(WAKE_EVENT_TYPES), "icon": "mdi:account-voice",
        },
    }


def _wake_components(t: Topics, wake_words: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {
        "wake_threshold": {
            "platform": "number", "name": "Wake word threshold", "entity_category": "config",
            "state_topic": t.sub(tp.WAKE_THRESHOLD), "command_topic": t.sub(tp.WAKE_THRESHOLD_SET),
            "min": WAKE_THRESHOLD_MIN, "max": WAKE_THRESHOLD_MAX, "step": 0.01, "mode": "slider",
            "icon": "mdi:tune",
        },
        "wake_word": {
            "platform": "select", "name": "Wake word", "entity_category": "config",
            "state_topic": t.sub(tp.WAKE_WORD), "command_topic": t.sub(tp.WAKE_WORD_SET),
            "options": list(wake_words), "icon": "mdi:account-voice",
        },
    }


def _text_sensor(t: Topics, name: str, suffix: str, field: str) -> dict[str, Any]:
    # Sensor states are limited to 255 characters; the whole JSON is in the attributes.
    return {
        "platform": "sensor", "name": name, "state_topic": t.sub(suffix),
        "value_template": f"{{{{ (value_json.{field} or '')[:255] }}}}",
        "json_attributes_topic": t.sub(suffix),
    }


def _timestamp_sensor(t: Topics, name: str, suffix: str, icon: str) -> dict[str, Any]:
    # Payload: an ISO 8601 time with offset, or "None" (Home Assistant shows "unknown").
    return {
        "platform": "sensor", "name": name, "state_topic": t.sub(suffix),
        "device_class": "timestamp", "icon": icon,
    }
