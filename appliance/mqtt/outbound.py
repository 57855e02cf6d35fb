"""Events of the assistant -> MQTT messages (our topics, Home Assistant entities, Hermes).

Retained state is also kept here and republished on every (re)connect, so Home Assistant and
late subscribers always see the current state even after the broker was away.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from appliance.controller import Controller, Recognition
from appliance.events import (
    MQTT_PUBLISH,
    ErrorRaised,
    Event,
    IntentNotRecognized,
    IntentRecognized,
    ListeningStarted,
    MuteChanged,
    ResponseReady,
    SessionEnded,
    SpeechFinished,
    StateChanged,
    TranscriptReady,
    UserEvent,
    VolumeChanged,
    WakeDetected,
)
from appliance.mqtt import hermes
from appliance.mqtt import topics as tp
from appliance.mqtt.dialogue import Dialogue
from appliance.mqtt.discovery import (
    DeviceInfo,
    discovery_payload,
    ha_state,
    is_listening,
)
from appliance.mqtt.link import Link, to_json
from appliance.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)
_TIMESTAMP_TOPICS = {"next_timer": tp.NEXT_TIMER, "next_alarm": tp.NEXT_ALARM}


class Outbound:
    def __init__(
        self, link: Link, topics: Topics, site_id: str, *, hermes_on: bool, dialogue: Dialogue
    ) -> None:
        self._link = link
        self._topics = topics
        self._site_id = site_id
        self._hermes_on = hermes_on
        self._dialogue = dialogue
        self._retained: dict[str, str] = {}
        self._handlers: dict[type[Event], Callable[[Any], Awaitable[None]]] = {
            StateChanged: self._on_state, VolumeChanged: self._on_volume,
            MuteChanged: self._on_mute, WakeDetected: self._on_wake,
            ListeningStarted: self._on_listening, TranscriptReady: self._on_transcript,
            IntentRecognized: self._on_intent, IntentNotRecognized: self._on_not_recognized,
            ResponseReady: self._on_response, SpeechFinished: self._on_speech_finished,
            SessionEnded: self._on_session_ended, ErrorRaised: self._on_error,
            UserEvent: self._on_user_event,
        }

    # -- connect ------------------------------------------------------------------------------

    async def publish_discovery(self, device: DeviceInfo) -> None:
        if self._topics.discovery_prefix:
            topic = self._topics.discovery_config(device.node_id)
            payload = discovery_payload(self._topics, device)
            await self._link.publish_json(topic, payload, retain=True)

    async def publish_all_state(self, controller: Controller) -> None:
        """Read what the controller knows now, then send every retained state topic."""
        self._remember_controller(controller)
        for topic, payload in list(self._retained.items()):
            await self._link.publish(topic, payload, retain=True)

    def _remember_controller(self, controller: Controller) -> None:
        self._remember(tp.STATE, ha_state(controller.state))
        self._remember(tp.LISTENING, _on_off(is_listening(controller.state)))
        self._remember(tp.VOLUME, str(controller.volume))
        self._remember(tp.MUTE, _on_off(controller.muted))
        self._remember(tp.WAKE_WORD, controller.active_wake_word)
        self._remember(tp.WAKE_THRESHOLD, f"{controller.wake_threshold:g}")
        for suffix in (tp.NEXT_TIMER, tp.NEXT_ALARM):
            self._retained.setdefault(self._topics.sub(suffix), "None")

    def _remember(self, suffix: str, payload: str) -> str:
        topic = self._topics.sub(suffix)
        self._retained[topic] = payload
        return topic

    async def retain(self, suffix: str, payload: str) -> None:
        await self._link.publish(self._remember(suffix, payload), payload, retain=True)

    # -- events -------------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            await handler(event)

    async def _on_state(self, event: StateChanged) -> None:
        await self.retain(tp.STATE, ha_state(event.new))
        await self.retain(tp.LISTENING, _on_off(is_listening(event.new)))

    async def _on_volume(self, event: VolumeChanged) -> None:
        await self.retain(tp.VOLUME, str(event.volume))

    async def _on_mute(self, event: MuteChanged) -> None:
        await self.retain(tp.MUTE, _on_off(event.muted))

    async def _on_wake(self, event: WakeDetected) -> None:
        data = {"wake_word": event.wake_word, "score": round(event.score, 3)}
        await self._event("wake", data)
        await self._link.publish_json(
            self._topics.sub(tp.EVENT_WAKE), {"event_type": "detected", **data}
        )
        await self._hermes(hermes.hotword_detected(event.wake_word, self._site_id, event.score))

    async def _on_listening(self, event: ListeningStarted) -> None:
        if self._dialogue.session_started(event.session_id):
            await self._hermes(hermes.session_started(self._site_id, event.session_id))

    async def _on_transcript(self, event: TranscriptReady) -> None:
        await self.retain(tp.TRANSCRIPT, _text_json(event.text, event.session_id))
        await self._hermes(hermes.text_captured(event.text, self._site_id, event.session_id))

    async def _on_intent(self, event: IntentRecognized) -> None:
        data = {
            "name": event.name, "slots": event.slots, "confidence": event.confidence,
            "text": event.text, "session_id": event.session_id,
        }
        await self.retain(tp.INTENT, to_json(data))
        recognition = Recognition(event.name, event.slots, event.confidence, event.text)
        await self.announce_intent(recognition, event.session_id)

    async def announce_intent(self, recognition: Recognition, session_id: str) -> bool:
        """Publish ``hermes/intent/<name>`` once per turn; False when Hermes can't answer now."""
        if not (self._hermes_on and self._link.connected):
            return False
        if self._dialogue.should_announce(recognition, session_id):
            return await self._hermes(hermes.intent(recognition, self._site_id, session_id))
        return True

    async def _on_not_recognized(self, event: IntentNotRecognized) -> None:
        site, session = self._site_id, event.session_id
        await self._hermes(hermes.intent_not_recognized(event.text, site, session))

    async def _on_response(self, event: ResponseReady) -> None:
        await self.retain(tp.RESPONSE, _text_json(event.text, event.session_id))

    async def _on_speech_finished(self, event: SpeechFinished) -> None:
        """An answer in a dialogue session. Announcements (a Hermes ``say`` among them, which
        its own task reports with its id) are not: exactly one ``sayFinished`` per say."""
        if self._dialogue.in_session(event.session_id):
            await self._hermes(hermes.say_finished(self._site_id, "", event.session_id))

    async def say_finished(self, request: hermes.SayRequest) -> None:
        """The one ``sayFinished`` of an accepted Hermes ``say`` (spoken, cut short or failed);
        a say refused at the door (too many waiting) gets none."""
        site, session = self._site_id, request.session_id
        await self._hermes(hermes.say_finished(site, request.request_id, session))

    async def _on_session_ended(self, event: SessionEnded) -> None:
        if self._dialogue.session_ended(event.session_id):  # not for announcements
            await self._hermes(hermes.session_ended(self._site_id, event.session_id, event.reason))

    async def _on_error(self, event: ErrorRaised) -> None:
        await self._event("error", {"code": event.code, "message": event.message})

    async def _on_user_event(self, event: UserEvent) -> None:
        if event.kind == MQTT_PUBLISH:  # a user's own command publishing its message
            await self._user_message(event.data)
            return
        await self._event(event.kind, event.data)
        if event.kind == "button":
            gesture = event.data.get("gesture", "short")
            await self._link.publish_json(
                self._topics.sub(tp.EVENT_BUTTON), {**event.data, "event_type": gesture}
            )
        suffix = _TIMESTAMP_TOPICS.get(event.kind)
        if suffix is not None:
            await self.retain(suffix, str(event.data.get("at") or "None"))

    async def _user_message(self, data: dict[str, Any]) -> None:
        topic, payload = str(data.get("topic", "")), str(data.get("payload", ""))
        if not topic or "+" in topic or "#" in topic:
            _LOGGER.warning("not publishing to %r: a topic may not be empty or have wildcards",
                            topic)
            return
        await self._link.publish(topic, payload, retain=bool(data.get("retain")))

    async def _event(self, kind: str, data: dict[str, Any]) -> None:
        await self._link.publish_json(self._topics.sub(tp.EVENT), {**data, "kind": kind})

    async def _hermes(self, message: hermes.Message) -> bool:
        if not self._hermes_on:
            return False
        topic, payload = message
        return await self._link.publish_json(topic, payload)


def _text_json(text: str, session_id: str) -> str:
    return to_json({"text": text, "session_id": session_id})


def _on_off(value: bool) -> str:
    return "ON" if value else "OFF"
