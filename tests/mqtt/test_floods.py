"""Floods of commands, against a real mosquitto: other commands still get through at once.

Each test sends a flood, then a command on another topic, and measures (monotonic clock) how
long the controller took to see that command after it was sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiomqtt

from appliance.mqtt.service import HA_ONLINE_SETTLE_S, MqttService
from tests.controllers import RecordingController
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import (
    Recorder,
    as_json,
    mqtt_settings,
    recording_client,
    running,
    text,
    wait_until,
)

LOGGER = logging.getLogger(__name__)
COMMAND_BOUND_S = 5.0  # generous: on a quiet machine it is well under a second
SAY_FINISHED = "hermes/tts/sayFinished"
QUIET_S = HA_ONLINE_SETTLE_S + 1.0  # long enough for a second, late republish to show


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _all_handled(service: MqttService, count: int) -> bool:
    return service.stats.received + service.stats.dropped >= count


async def _flood(client: aiomqtt.Client, topic: str, payloads: list[str]) -> None:
    for payload in payloads:
        await client.publish(topic, payload)


async def _timed_volume(
    sender: aiomqtt.Client, service: MqttService, controller: RecordingController, volume: int,
) -> float:
    """Send ``volume/set``; seconds until the controller applied it."""
    count = len(controller.named("set_volume")) + 1
    sent = time.monotonic()
    await sender.publish(service.topics.sub("volume/set"), str(volume))
    await controller.wait_for("set_volume", count, timeout_s=COMMAND_BOUND_S)
    return time.monotonic() - sent


async def test_a_flood_of_home_assistant_online_republishes_once_and_blocks_no_command(
    broker: Mosquitto,
) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    config_topic = f"homeassistant/device/{service.site_id}/config"
    watched = (config_topic, service.topics.availability, service.topics.sub("volume"))
    async with (
        recording_client(broker.port, watched) as rec,
        recording_client(broker.port, ()) as sender,
        running(service, rec),
    ):
        await rec.wait_for(config_topic)
        mark = len(rec.messages)
        flood_started = time.monotonic()
        await _flood(sender.client, "homeassistant/status", ["online"] * 1000)
        took_s = await _timed_volume(sender.client, service, controller, 42)
        since_flood_s = time.monotonic() - flood_started
        await rec.wait_for(service.topics.sub("volume"), lambda m: text(m) == "42", after=mark)
        await wait_until(lambda: _all_handled(service, 1001), "the flood handled")
        await rec.wait_for(config_topic, after=mark)  # Home Assistant did get it again
        # Then one more command as a marker: a late republish would come before its state.
        await asyncio.sleep(QUIET_S)
        await _timed_volume(sender.client, service, controller, 43)
        await rec.wait_for(service.topics.sub("volume"), lambda m: text(m) == "43", after=mark)
    republished = [m for m in rec.messages[mark:] if m.topic.matches(config_topic)]
    LOGGER.info("volume/set after 1000 online: %.3f s (%.3f s from the first online); "
                "%d republishes", took_s, since_flood_s, len(republished))
    assert took_s < COMMAND_BOUND_S
    assert 1 <= len(republished) <= 2
    assert controller.named("set_volume") == [42, 43]


class SpeakingController(FakeController):
    """Each announcement takes a while, as a spoken one does."""

    async def say(self, text: str) -> None:
        await super().say(text)
        await asyncio.sleep(0.05)


async def _timed_mute(sender: aiomqtt.Client, service: MqttService,
                      controller: RecordingController) -> float:
    sent = time.monotonic()
    await sender.publish(service.topics.sub("mute/set"), "ON")
    await controller.wait_for("set_muted", timeout_s=COMMAND_BOUND_S)
    return time.monotonic() - sent


async def _flood_then_mute(broker: Mosquitto, controller: RecordingController, suffix: str,
                           payloads: list[str]) -> tuple[MqttService, float]:
    """Flood ``suffix`` with ``payloads``, then send ``mute/set``: how long the mute took."""
    service = MqttService(mqtt_settings(broker.port), controller)
    mute = service.topics.sub("mute")
    async with (
        recording_client(broker.port, (service.topics.availability, mute)) as rec,
        recording_client(broker.port, ()) as sender,
        running(service, rec),
    ):
        mark = len(rec.messages)
        await _flood(sender.client, service.topics.sub(suffix), payloads)
        took_s = await _timed_mute(sender.client, service, controller)
        await rec.wait_for(mute, lambda m: text(m) == "ON", after=mark)
        await wait_until(lambda: _all_handled(service, len(payloads) + 1), "the flood handled")
    return service, took_s


async def test_a_flood_of_say_does_not_delay_mute(broker: Mosquitto) -> None:
    controller = SpeakingController()
    texts = [f"announcement {i}" for i in range(5000)]
    service, took_s = await _flood_then_mute(broker, controller, "say", texts)
    spoken = [str(t) for t in controller.named("say")]
    LOGGER.info("mute/set after 5000 say: %.3f s; %d spoken, %d refused, %d dropped", took_s,
                len(spoken), service.stats.rejected, service.stats.dropped)
    assert took_s < COMMAND_BOUND_S
    assert controller.named("set_muted") == [True]
    assert 1 <= len(spoken) < 5000
    assert spoken == sorted(spoken, key=texts.index)  # in the order sent, some left out


async def test_a_flood_of_slow_commands_does_not_starve_another_topic(
    broker: Mosquitto,
) -> None:
    """Each threshold command waits for the broker to take its new retained state."""
    controller = FakeController()
    values = [f"0.{10 + i % 80}" for i in range(5000)]
    service, took_s = await _flood_then_mute(broker, controller, "wake/threshold/set", values)
    handled = controller.named("set_wake_threshold")
    LOGGER.info("mute/set after 5000 wake/threshold/set: %.3f s; %d handled, %d dropped",
                took_s, len(handled), service.stats.dropped)
    assert took_s < COMMAND_BOUND_S
    assert controller.named("set_muted") == [True]
    assert service.stats.received + service.stats.dropped == 5001
    assert handled[-1] == float(values[-1])  # the latest command is never the one dropped


async def _listen_flood(sender: Recorder, service: MqttService, count: int) -> None:
    hermes = json.dumps({"siteId": service.site_id})
    for i in range(count):
        if i % 2:
            await sender.client.publish("hermes/asr/startListening", hermes)
        else:
            await sender.client.publish(service.topics.sub("listen"), "PRESS")


async def test_a_flood_of_listen_starts_one_listen(broker: Mosquitto) -> None:
    controller = FakeController()  # listening once started, until stopped
    service = MqttService(mqtt_settings(broker.port), controller)
    async with (
        recording_client(broker.port, (service.topics.availability,)) as rec,
        recording_client(broker.port, ()) as sender,
        running(service, rec),
    ):
        await _listen_flood(sender, service, 200)
        took_s = await _timed_volume(sender.client, service, controller, 30)
        await wait_until(lambda: _all_handled(service, 201), "the flood handled")
    LOGGER.info("listens started by 200 listen commands: %d",
                len(controller.named("start_listening")))
    assert controller.named("start_listening") == ["mqtt"]
    assert took_s < COMMAND_BOUND_S


async def test_listen_is_held_off_briefly_even_when_the_state_does_not_show_it(
    broker: Mosquitto,
) -> None:
    controller = RecordingController()  # stays idle whatever it is asked
    clock = FrozenClock()
    service = MqttService(mqtt_settings(broker.port), controller, clock=clock)
    async with (
        recording_client(broker.port, (service.topics.availability,)) as rec,
        recording_client(broker.port, ()) as sender,
        running(service, rec),
    ):
        await _listen_flood(sender, service, 200)
        await _timed_volume(sender.client, service, controller, 30)
        await wait_until(lambda: _all_handled(service, 201), "the flood handled")
        assert controller.named("start_listening") == ["mqtt"]
        clock.now += 60  # a minute later, the next press is a new command
        await sender.client.publish(service.topics.sub("listen"), "PRESS")
        await controller.wait_for("start_listening", count=2)
    assert controller.named("start_listening") == ["mqtt", "mqtt"]


async def test_a_flood_of_hermes_say_finishes_each_accepted_say_once(broker: Mosquitto) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port), controller)
    site = service.site_id
    async with (
        recording_client(broker.port, (service.topics.availability, SAY_FINISHED)) as rec,
        recording_client(broker.port, ()) as sender,
        running(service, rec),
    ):
        requests = [json.dumps({"text": f"say {i}", "siteId": site, "id": f"req-{i}"})
                    for i in range(1000)]
        await _flood(sender.client, "hermes/tts/say", requests)
        await wait_until(lambda: _all_handled(service, 1000), "the flood handled")
        # A last say, once the flood is through: its sayFinished comes after all the others.
        last = json.dumps({"text": "the last", "siteId": site, "id": "req-last"})
        await sender.client.publish("hermes/tts/say", last)
        await rec.wait_for(SAY_FINISHED, lambda m: as_json(m)["id"] == "req-last")
    spoken = [str(t) for t in controller.named("say")]
    finished = [as_json(m)["id"] for m in rec.on(SAY_FINISHED)]
    LOGGER.info("1000 Hermes say: %d spoken, %d sayFinished", len(spoken), len(finished))
    assert spoken[-1] == "the last"
    assert sorted(finished) == sorted(
        "req-last" if t == "the last" else "req-" + t.removeprefix("say ") for t in spoken
    )
    assert len(finished) == len(set(finished)) == len(spoken)
