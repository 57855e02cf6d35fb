"""Hermes, the MQTT protocol of Rhasspy 2.5 and Snips: topics, outgoing payloads, incoming parsing.

Pure functions: builders return ``(topic, payload dict)``, parsers return a small dataclass or
raise :class:`~appliance.mqtt.payloads.BadPayload`. Audio frames are never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.controller import Recognition
from appliance.mqtt.payloads import (
    BadPayload,
    decode_json_object,
    get_opt_object,
    get_opt_str,
    get_str,
)
from appliance.mqtt.settings import topic_safe

DEFAULT_SITE = "default"  # what Hermes assumes when a message has no siteId

SAY = "hermes/tts/say"
START_SESSION = "hermes/dialogueManager/startSession"
CONTINUE_SESSION = "hermes/dialogueManager/continueSession"
END_SESSION = "hermes/dialogueManager/endSession"
TOGGLE_ON = "hermes/hotword/toggleOn"
TOGGLE_OFF = "hermes/hotword/toggleOff"
START_LISTENING = "hermes/asr/startListening"

_TERMINATION = {
    "answered": "nominal",
    "no-speech": "timeout",
    "cancelled": "abortedByUser",
    "error": "error",
    "not-understood": "intentNotRecognized",
}

Message = tuple[str, dict[str, Any]]


# -- outgoing -------------------------------------------------------------------------------


def hotword_detected(wake_word: str, site_id: str, score: float) -> Message:
    wakeword_id = topic_safe(wake_word) or "default"
    return f"hermes/hotword/{wakeword_id}/detected", {
        "modelId": wake_word, "modelVersion": "", "modelType": "personal",
        "currentSensitivity": 1.0, "score": score, "siteId": site_id, "sessionId": None,
        "sendAudioCaptured": None, "lang": None, "customEntities": None,
    }


def text_captured(text: str, site_id: str, session_id: str) -> Message:
    return "hermes/asr/textCaptured", {
        "text": text, "likelihood": 1.0, "seconds": 0.0, "siteId": site_id,
        "sessionId": session_id, "wakewordId": None, "asrTokens": None, "lang": None,
    }


def intent(recognition: Recognition, site_id: str, session_id: str) -> Message:
    name = topic_safe(recognition.name) or "unknown"
    text = recognition.text
    return f"hermes/intent/{name}", {
        "input": text, "rawInput": text,
        "intent": {"intentName": recognition.name, "confidenceScore": recognition.confidence},
        "slots": [_slot(key, value, text) for key, value in recognition.slots.items()],
        "siteId": site_id, "sessionId": session_id, "customData": None,
        "asrTokens": [], "asrConfidence": None, "wakewordId": None, "lang": None,
    }


def _slot(name: str, value: Any, text: str) -> dict[str, Any]:
    raw = str(value)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    start = text.lower().find(raw.lower()) if raw else -1
    span = None
    if start >= 0:
        end = start + len(raw)
        span = {"start": start, "end": end, "rawStart": start, "rawEnd": end}
    return {
        "entity": name, "slotName": name, "rawValue": raw, "confidence": 1.0, "range": span,
        "value": {"kind": "Number" if is_number else "Custom", "value": value},
    }


def intent_not_recognized(text: str, site_id: str, session_id: str) -> Message:
    return "hermes/nlu/intentNotRecognized", {
        "input": text, "siteId": site_id, "sessionId": session_id, "customData": None,
    }


def session_started(site_id: str, session_id: str) -> Message:
    return "hermes/dialogueManager/sessionStarted", {
        "sessionId": session_id, "siteId": site_id, "customData": None, "lang": None,
    }


def session_ended(site_id: str, session_id: str, reason: str) -> Message:
    return "hermes/dialogueManager/sessionEnded", {
        "sessionId": session_id, "siteId": site_id, "customData": None,
        "termination": {"reason": _TERMINATION.get(reason, "nominal")},
    }


def say_finished(site_id: str, request_id: str, session_id: str | None) -> Message:
    return "hermes/tts/sayFinished", {
        "id": request_id, "siteId": site_id, "sessionId": session_id,
    }


# -- incoming -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SayRequest:
    text: str
    site_id: str
    request_id: str
    session_id: str | None


@dataclass(frozen=True)
class StartSession:
    site_id: str
    action: bool  # True: speak, then listen for a command; False: a notification
    text: str


@dataclass(frozen=True)
class SessionReply:
    session_id: str
    text: str
    follow_up: bool  # continueSession: listen again after speaking


def site_of(data: dict[str, Any]) -> str:
    return get_opt_str(data, "siteId") or DEFAULT_SITE


def parse_say(payload: bytes) -> SayRequest:
    data = decode_json_object(payload)
    return SayRequest(
        text=get_str(data, "text"),
        site_id=site_of(data),
        request_id=get_opt_str(data, "id") or "",
        session_id=get_opt_str(data, "sessionId"),
    )


def parse_start_session(payload: bytes) -> StartSession:
    data = decode_json_object(payload)
    init = get_opt_object(data, "init")
    kind = get_opt_str(init, "type") or "notification"
    if kind not in ("action", "notification"):
        raise BadPayload("'init.type' must be action or notification")
    text = get_opt_str(init, "text") or ""
    if kind == "notification" and not text:
        raise BadPayload("a notification needs 'init.text'")
    return StartSession(site_id=site_of(data), action=kind == "action", text=text)


def parse_session_reply(payload: bytes, *, follow_up: bool) -> SessionReply:
    data = decode_json_object(payload)
    return SessionReply(
        session_id=get_str(data, "sessionId"),
        text=get_opt_str(data, "text") or "",
        follow_up=follow_up,
    )


def parse_site(payload: bytes) -> str:
    """The siteId of a message that carries nothing else we use (toggleOn, startListening)."""
    return site_of(decode_json_object(payload))
