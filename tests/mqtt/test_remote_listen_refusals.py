"""mqtt.allow_remote_listen = false: what is refused (one warning line each) and what still works.

Refused: our ``listen`` topic (Home Assistant's button), Hermes
``asr/startListening`` and ``startSession`` of type action. Still obeyed: say, volume, a
notification session.
"""

from __future__ import annotations

import json
import logging

import pytest

from appliance.mqtt.service import MqttService
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import mqtt_settings, recording_client, running, text, wait_until

REFUSED = "refused: it would open the microphone and mqtt.allow_remote_listen is false"


async def test_no_broker_client_opens_the_microphone_when_remote_listening_is_off(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.mqtt")
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port, allow_remote_listen=False), controller)
    site, t = service.site_id, service.topics
    refused = {
        t.sub("listen"): "PRESS",
        "hermes/asr/startListening": json.dumps({"siteId": site, "sessionId": "x"}),
        "hermes/dialogueManager/startSession": json.dumps(
            {"siteId": site, "init": {"type": "action", "text": "Which room?"}}),
    }
    async with recording_client(broker.port) as rec, running(service, rec):
        for topic, payload in refused.items():
            await rec.client.publish(topic, payload)
        await wait_until(lambda: service.stats.rejected == 3, "three refusals")
        await rec.client.publish("hermes/dialogueManager/startSession", json.dumps(
            {"siteId": site, "init": {"type": "notification", "text": "Laundry is done"}}))
        await rec.client.publish(t.sub("volume/set"), "42")
        await rec.wait_for(t.sub("volume"), lambda m: text(m) == "42")
        await wait_until(lambda: service.stats.received == 5, "all five messages")
        await wait_until(lambda: len(controller.calls) == 2, "the notification spoken")
    assert sorted(controller.calls) == [("say", "Laundry is done"), ("set_volume", 42)]
    assert service.stats.rejected == 3
    lines = [r.getMessage() for r in caplog.records if REFUSED in r.getMessage()]
    assert len(lines) == 3
    for topic in refused:
        assert sum(topic in line for line in lines) == 1


@pytest.mark.parametrize("allowed", [True, False])
async def test_home_assistant_gets_a_listen_button_only_when_remote_listening_is_on(
    broker: Mosquitto, allowed: bool,
) -> None:
    service = MqttService(mqtt_settings(broker.port, allow_remote_listen=allowed),
                          FakeController())
    async with recording_client(broker.port) as rec, running(service, rec):
        config = await rec.wait_for(f"homeassistant/device/{service.site_id}/config")
    names = [c["name"] for c in json.loads(text(config))["components"].values()]
    assert ("Start listening" in names) is allowed
