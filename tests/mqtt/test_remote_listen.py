"""``mqtt.allow_remote_listen = false``: no broker client can open the microphone (a real
mosquitto, the real service)."""

from __future__ import annotations

import asyncio
import json

import pytest

from appliance.mqtt.service import MqttService
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import mqtt_settings, recording_client, running, text


@pytest.mark.parametrize("allowed", [True, False])
async def test_remote_listening_follows_the_setting(broker: Mosquitto, allowed: bool) -> None:
    controller = FakeController()
    service = MqttService(mqtt_settings(broker.port, allow_remote_listen=allowed), controller)
    t, site = service.topics, service.site_id
    async with recording_client(broker.port) as rec, running(service, rec):
        await rec.client.publish(t.sub("listen"), "PRESS")
        await rec.client.publish("hermes/asr/startListening",
                                 json.dumps({"siteId": site, "sessionId": "remote"}))
        # A command after them, to know the two were handled.
        await rec.client.publish(t.sub("volume/set"), "33")
        await rec.wait_for(t.sub("volume"), lambda m: text(m) == "33")
        await asyncio.sleep(0.1)
    started = controller.named("start_listening")
    assert (len(started) >= 1) is allowed, controller.calls
