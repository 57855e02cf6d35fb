"""Hermes (Rhasspy 2.5 / Snips) topics, with skills written as plain MQTT clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from appliance.controller import Recognition, Reply
from appliance.events import (
    IntentNotRecognized,
    IntentRecognized,
    ListeningStarted,
    SessionEnded,
    SpeechFinished,
    TranscriptReady,
    WakeDetected,
)
from appliance.mqtt.service import HermesSlot, MqttService, run_mqtt
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import (
    TIMEOUT_S,
    Recorder,
    as_json,
    mqtt_settings,
    recording_client,
    running,
    wait_until,
)

WEATHER = Recognition("GetWeather", {"city": "Paris", "days": 2}, 0.9, "weather in paris in 2 days")


async def _skill(rec: Recorder, reply_topic: str) -> None:
    """A Hermes skill: answers every GetWeather intent it receives."""
    answered = 0
    while True:
        message = await rec.wait_for("hermes/intent/GetWeather", after=0)
        intents = rec.on("hermes/intent/GetWeather")
        for message in intents[answered:]:
            intent = as_json(message)
            city = intent["slots"][0]["value"]["value"]
            reply = {"sessionId": intent["sessionId"], "text": f"Sunny in {city}"}
            await rec.client.publish(reply_topic, json.dumps(reply))
        answered = len(intents)
        await rec.wait_for("hermes/intent/GetWeather", after=len(rec.messages))


@contextlib.asynccontextmanager
async def weather_skill(port: int, reply_topic: str) -> AsyncIterator[Recorder]:
    async with recording_client(port, ("hermes/#",)) as rec:
        task = asyncio.create_task(_skill(rec, reply_topic), name="test-skill")
        try:
            yield rec
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, TIMEOUT_S)


def _intent_event(recognition: Recognition, session_id: str) -> IntentRecognized:
    r = recognition
    return IntentRecognized(r.name, r.slots, r.confidence, r.text, session_id)


async def test_hermes_say_is_spoken_and_answered_with_say_finished(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    site = service.site_id
    async with recording_client(broker.port) as rec, running(service, rec):
        for payload in (
            {"text": "Dinner is ready", "siteId": site, "id": "req-1"},
            {"text": "Not for us", "siteId": "kitchen", "id": "req-x"},
            {"text": "Second", "siteId": site, "id": "req-2", "sessionId": "abc"},
        ):
            await rec.client.publish("hermes/tts/say", json.dumps(payload))
        await rec.wait_for("hermes/tts/sayFinished", lambda m: as_json(m)["id"] == "req-2")
    assert controller.calls == [("say", "Dinner is ready"), ("say", "Second")]
    finished = [as_json(m) for m in rec.on("hermes/tts/sayFinished")]
    assert finished == [
        {"id": "req-1", "siteId": site, "sessionId": None},
        {"id": "req-2", "siteId": site, "sessionId": "abc"},
    ]


async def test_a_hermes_skill_answers_an_intent_no_local_skill_handled(broker: Mosquitto) -> None:
    controller = FakeController()
    settings = mqtt_settings(broker.port)
    availability = f"appliance/{settings.site_id}/availability"
    async with (
        weather_skill(broker.port, "hermes/dialogueManager/endSession") as skill,
        recording_client(broker.port, (availability,)) as rec,
    ):
        task = asyncio.create_task(run_mqtt(settings, controller), name="test-run-mqtt")
        try:
            await rec.wait_for(availability, lambda m: m.payload == b"online")
            (handler,) = controller.handlers
            assert isinstance(handler, HermesSlot)
            controller.events.publish(ListeningStarted("wake", "s1"))
            # The turn listens (seconds, in a real one) before its intent is recognised. Since
            # Python 3.12 asyncio.wait_for runs the handler at once, before queued events.
            await skill.wait_for("hermes/dialogueManager/sessionStarted")
            controller.events.publish(_intent_event(WEATHER, "s1"))
            reply = await asyncio.wait_for(handler.handle(WEATHER, "s1"), TIMEOUT_S)
            # Anything still queued for the intent topic comes before this hotword message.
            controller.events.publish(WakeDetected("hey_jarvis", 0.8))
            await skill.wait_for("hermes/hotword/+/detected")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, TIMEOUT_S)
    assert reply == Reply("Sunny in Paris")
    (published,) = [as_json(m) for m in skill.on("hermes/intent/#")]
    assert published["intent"] == {"intentName": "GetWeather", "confidenceScore": 0.9}
    assert published["input"] == "weather in paris in 2 days"
    assert (published["siteId"], published["sessionId"]) == (settings.site_id, "s1")
    city, days = published["slots"]
    assert city["slotName"] == "city"
    assert city["rawValue"] == "Paris"
    assert city["value"] == {"kind": "Custom", "value": "Paris"}
    assert city["range"] == {"start": 11, "end": 16, "rawStart": 11, "rawEnd": 16}
    assert days["value"] == {"kind": "Number", "value": 2}


async def test_restarting_mqtt_registers_the_hermes_handler_once(broker: Mosquitto) -> None:
    controller = FakeController()
    settings = mqtt_settings(broker.port)
    availability = f"appliance/{settings.site_id}/availability"
    async with recording_client(broker.port, (availability,)) as rec:
        for _ in range(2):  # as on a configuration reload
            mark = len(rec.messages)
            task = asyncio.create_task(run_mqtt(settings, controller), name="test-run-mqtt")
            await rec.wait_for(availability, lambda m: m.payload == b"online", after=mark)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, TIMEOUT_S)
    (slot,) = controller.handlers
    assert isinstance(slot, HermesSlot)
    assert slot.handler is None  # MQTT stopped: intents are declined at once
    assert await asyncio.wait_for(slot.handle(WEATHER, "s0"), TIMEOUT_S) is None


async def test_continue_session_asks_for_a_follow_up(broker: Mosquitto) -> None:
    service = MqttService(mqtt_settings(broker.port), FakeController())
    async with (
        weather_skill(broker.port, "hermes/dialogueManager/continueSession"),
        recording_client(broker.port, (service.topics.availability,)) as rec,
        running(service, rec),
    ):
        # The handler publishes the intent itself when the event has not been seen yet.
        reply = await asyncio.wait_for(service.intent_handler.handle(WEATHER, "s2"), TIMEOUT_S)
    assert reply == Reply("Sunny in Paris", follow_up=True)


async def test_a_reply_that_comes_before_the_handler_waits_is_kept(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    async with (
        weather_skill(broker.port, "hermes/dialogueManager/endSession"),
        recording_client(broker.port, (service.topics.availability,)) as rec,
        running(service, rec),
    ):
        controller.events.publish(ListeningStarted("wake", "s3"))
        controller.events.publish(_intent_event(WEATHER, "s3"))
        await wait_until(lambda: service.stats.received >= 1, "the skill's endSession")
        reply = await asyncio.wait_for(service.intent_handler.handle(WEATHER, "s3"), TIMEOUT_S)
    assert reply == Reply("Sunny in Paris")
    assert controller.calls == []  # kept for the handler, not spoken separately


async def test_no_skill_answer_means_no_reply(broker: Mosquitto) -> None:
    settings = mqtt_settings(broker.port, hermes_reply_timeout_s=0.5)
    service = MqttService(settings, FakeController())
    async with recording_client(broker.port) as rec, running(service, rec):
        nobody = Recognition("NobodyKnows", {}, 1.0, "frobnicate")
        reply = await asyncio.wait_for(service.intent_handler.handle(nobody, "s4"), TIMEOUT_S)
        await rec.wait_for("hermes/intent/NobodyKnows")
    assert reply is None


async def test_the_handler_declines_at_once_without_a_broker() -> None:
    settings = mqtt_settings(1, hermes_reply_timeout_s=60)
    service = MqttService(settings, FakeController())  # never run: no connection
    reply = await asyncio.wait_for(service.intent_handler.handle(WEATHER, "s5"), TIMEOUT_S)
    assert reply is None


async def _send_all(client: aiomqtt.Client, messages: list[tuple[str, dict[str, Any]]]) -> None:
    for topic, payload in messages:
        await client.publish(topic, json.dumps(payload))


async def test_hermes_commands_drive_the_controller(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    site = service.site_id
    async with recording_client(broker.port) as rec, running(service, rec):
        await _send_all(rec.client, [
            ("hermes/hotword/toggleOff", {"siteId": site, "reason": "dialogueSession"}),
            ("hermes/hotword/toggleOn", {"siteId": site}),
            ("hermes/hotword/toggleOff", {"siteId": "garage"}),
            ("hermes/asr/startListening", {"siteId": site, "sessionId": "x"}),
            ("hermes/dialogueManager/startSession",
             {"siteId": site, "init": {"type": "notification", "text": "Laundry is done"}}),
        ])
        await wait_until(lambda: len(controller.calls) == 4, "four controller calls")
        await _send_all(rec.client, [
            ("hermes/dialogueManager/startSession",
             {"siteId": site, "init": {"type": "action", "text": "Which room?"}}),
        ])
        await wait_until(lambda: len(controller.calls) == 6, "speak, then listen")
        # A skill ending the session the speaker opened gets its text spoken (it learns the
        # session id from sessionStarted, like a real skill).
        started = "hermes/dialogueManager/sessionStarted"
        await rec.wait_for(started, lambda m: as_json(m)["sessionId"] == "fake-2")
        await _send_all(rec.client, [
            ("hermes/dialogueManager/endSession", {"sessionId": "fake-2", "text": "Done"}),
            ("hermes/dialogueManager/endSession", {"sessionId": "someone-else", "text": "No"}),
        ])
        await wait_until(lambda: service.stats.received == 8, "all eight messages")
        await wait_until(lambda: len(controller.calls) == 7, "the endSession text")
    assert controller.calls == [
        ("set_wake_enabled", False), ("set_wake_enabled", True), ("start_listening", "mqtt"),
        ("say", "Laundry is done"), ("say", "Which room?"), ("start_listening", "mqtt"),
        ("say", "Done"),
    ]


async def test_events_become_hermes_messages(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    site = service.site_id
    async with recording_client(broker.port, ("hermes/#", "appliance/#")) as rec:
        async with running(service, rec):
            for event in (
                SessionEnded("announcement", "announce"),  # never started: no Hermes session
                WakeDetected("hey_jarvis", 0.7), ListeningStarted("wake", "s9"),
                TranscriptReady("turn the thing", "s9"),
                IntentNotRecognized("turn the thing", "s9"),
                SpeechFinished("Sorry?", "s9"), SessionEnded("s9", "not-understood"),
            ):
                controller.events.publish(event)
            await rec.wait_for("hermes/dialogueManager/sessionEnded")
        hermes = [(str(m.topic), as_json(m)) for m in rec.on("hermes/#")]
    topics = [topic for topic, _ in hermes]
    assert topics == [
        "hermes/hotword/hey_jarvis/detected", "hermes/dialogueManager/sessionStarted",
        "hermes/asr/textCaptured", "hermes/nlu/intentNotRecognized", "hermes/tts/sayFinished",
        "hermes/dialogueManager/sessionEnded",
    ]
    payloads = [payload for _, payload in hermes]
    assert all(p["siteId"] == site for p in payloads)
    assert payloads[0]["modelId"] == "hey_jarvis"
    assert payloads[2]["text"] == "turn the thing"
    assert payloads[4] == {"id": "", "siteId": site, "sessionId": "s9"}
    assert payloads[5]["termination"] == {"reason": "intentNotRecognized"}
    assert all(p["sessionId"] == "s9" for p in payloads[1:])
