"""Home Assistant discovery and our simple topics, against a real mosquitto."""

from __future__ import annotations

import asyncio
from typing import Any

from appliance.events import MQTT_PUBLISH, State, UserEvent, WakeDetected
from appliance.mqtt.service import MqttService
from appliance.skills.custom import EventPublisher
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import as_json, mqtt_settings, recording_client, running, text


def _component(discovery: dict[str, Any], platform: str, name: str) -> dict[str, Any]:
    (found,) = [
        c for c in discovery["components"].values()
        if c["platform"] == platform and c["name"] == name
    ]
    assert isinstance(found, dict)
    return found


async def test_discovery_is_retained_and_republished_when_home_assistant_comes_online(
    broker: Mosquitto,
) -> None:
    settings = mqtt_settings(broker.port)
    service = MqttService(settings, FakeController())
    config_topic = f"homeassistant/device/{service.site_id}/config"
    async with recording_client(broker.port) as live, running(service, live):
        await live.wait_for(config_topic)
        # A client that arrives later gets the retained copy from the broker.
        async with recording_client(broker.port, (config_topic,)) as late:
            first = await late.wait_for(config_topic)
            assert first.retain
            discovery = as_json(first)
            await late.client.publish("homeassistant/status", "online")
            again = await late.wait_for(config_topic, lambda m: not m.retain)
            assert as_json(again) == discovery

    assert discovery["device"]["identifiers"] == [f"appliance_{service.site_id}"]
    assert discovery["origin"]["name"] == "appliance"
    base = service.topics.base
    platforms = sorted(c["platform"] for c in discovery["components"].values())
    assert platforms == sorted([
        "sensor", "binary_sensor", "sensor", "sensor", "sensor", "switch", "number", "button",
        "text", "sensor", "sensor", "event", "event", "number", "select",
    ])
    state = _component(discovery, "sensor", "Assistant state")
    assert state["options"] == ["idle", "listening", "processing", "responding", "muted", "error"]
    assert _component(discovery, "switch", "Mute")["command_topic"] == f"{base}/mute/set"
    assert _component(discovery, "sensor", "Next timer")["device_class"] == "timestamp"
    ids = [c["unique_id"] for c in discovery["components"].values()]
    assert len(set(ids)) == len(ids)
    for component in discovery["components"].values():
        assert component["availability_topic"] == f"{base}/availability"


async def test_wake_word_entities_appear_and_work(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    async with recording_client(broker.port) as rec, running(service, rec):
        message = await rec.wait_for(f"homeassistant/device/{service.site_id}/config")
        discovery = as_json(message)
        select = _component(discovery, "select", "Wake word")
        number = _component(discovery, "number", "Wake word threshold")
        assert select["options"] == ["hey_jarvis", "alexa"]
        assert number["entity_category"] == "config"
        mark = len(rec.messages)
        await rec.client.publish(select["command_topic"], "alexa")
        await rec.client.publish(number["command_topic"], "0.35")
        await rec.wait_for(select["state_topic"], lambda m: text(m) == "alexa", after=mark)
        await rec.wait_for(number["state_topic"], lambda m: text(m) == "0.35", after=mark)
    assert ("set_active_wake_word", "alexa") in controller.calls
    assert ("set_wake_threshold", 0.35) in controller.calls


async def test_home_assistant_mute_switch_mutes_the_controller(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    async with recording_client(broker.port) as rec, running(service, rec):
        discovery = as_json(await rec.wait_for(f"homeassistant/device/{service.site_id}/config"))
        mute = _component(discovery, "switch", "Mute")
        await rec.client.publish(mute["command_topic"], mute["payload_on"])
        await rec.wait_for(mute["state_topic"], lambda m: text(m) == "ON")
        await rec.wait_for(service.topics.sub("state"), lambda m: text(m) == "muted")
    assert controller.calls == [("set_muted", True)]
    assert controller.muted


async def test_simple_topics_drive_the_controller(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    t = service.topics
    async with recording_client(broker.port) as rec, running(service, rec):
        await rec.client.publish(t.sub("volume/set"), "42")
        await rec.wait_for(t.sub("volume"), lambda m: text(m) == "42")
        await rec.client.publish(t.sub("say"), "hello there")
        await rec.client.publish(t.sub("say"), '{"text": "and again"}')
        async with asyncio.timeout(10):
            assert await controller.spoken.get() == "hello there"
            assert await controller.spoken.get() == "and again"
        await rec.client.publish(t.sub("listen"), "PRESS")
        await rec.wait_for(t.sub("listening"), lambda m: text(m) == "ON")
        mark = len(rec.messages)
        await rec.client.publish(t.sub("mute/set"), "off")
        await rec.wait_for(t.sub("mute"), lambda m: text(m) == "OFF", after=mark)
    assert controller.calls == [
        ("set_volume", 42), ("say", "hello there"), ("say", "and again"),
        ("start_listening", "mqtt"), ("set_muted", False),
    ]


async def test_events_reach_state_topics_and_event_entities(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    t = service.topics
    async with recording_client(broker.port) as rec, running(service, rec):
        controller.set_state(State.THINKING)
        controller.events.publish(WakeDetected("hey_jarvis", 0.91))
        controller.events.publish(UserEvent("button", {"gesture": "long", "button": "top"}))
        controller.events.publish(UserEvent("next_timer", {"at": "2030-01-01T10:00:00+00:00"}))
        await rec.wait_for(t.sub("state"), lambda m: text(m) == "processing")
        wake = as_json(await rec.wait_for(t.sub("event/wake")))
        button = as_json(await rec.wait_for(t.sub("event/button")))
        timer = await rec.wait_for(t.sub("timer/next"), lambda m: text(m) != "None")
    assert wake == {"event_type": "detected", "wake_word": "hey_jarvis", "score": 0.91}
    assert button == {"event_type": "long", "gesture": "long", "button": "top"}
    assert text(timer) == "2030-01-01T10:00:00+00:00"
    kinds = [as_json(m)["kind"] for m in rec.on(t.sub("event"))]
    assert kinds == ["wake", "button", "next_timer"]


async def test_clean_shutdown_says_offline(broker: Mosquitto) -> None:
    service = MqttService(mqtt_settings(broker.port), FakeController())
    async with recording_client(broker.port) as rec:
        async with running(service, rec):
            pass
        message = await rec.wait_for(service.topics.availability, lambda m: text(m) == "offline")
    assert not message.retain  # live delivery; the broker also keeps it (checked below)
    async with recording_client(broker.port, (service.topics.availability,)) as late:
        kept = await late.wait_for(service.topics.availability)
    assert kept.retain
    assert text(kept) == "offline"


async def test_a_users_command_publishes_its_message_through_the_event_stream(
    broker: Mosquitto,
) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    async with recording_client(broker.port) as live, running(service, live):
        publisher = EventPublisher(controller.events)
        assert await publisher.publish("home/fan/set", '{"speed": 3}')
        controller.events.publish(UserEvent(MQTT_PUBLISH, {"topic": "home/#", "payload": "x"}))
        message = await live.wait_for("home/fan/set")
    assert text(message) == '{"speed": 3}'
    assert [str(m.topic) for m in live.messages if str(m.topic).startswith("home/")] == [
        "home/fan/set"]
