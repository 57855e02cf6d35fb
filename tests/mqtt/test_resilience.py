"""The broker going away (killed, absent at start, the speaker's own process killed)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from appliance.events import State
from appliance.mqtt.service import MqttService
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import (
    TIMEOUT_S,
    mqtt_settings,
    recording_client,
    running,
    text,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records
        if r.name == "appliance.mqtt.connection" and r.levelno == level
    ]


async def test_broker_killed_and_restarted_mid_session(
    own_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="appliance.mqtt")
    own_broker.start()
    controller = FakeController()
    service = MqttService(mqtt_settings(own_broker.port), controller)
    t = service.topics
    async with running(service):
        await wait_until(lambda: service.connected, "the first connection")
        own_broker.kill()
        await wait_until(lambda: not service.connected, "noticing the broker is gone")
        # The speaker keeps working locally while the broker is away.
        controller.set_volume(33)
        controller.set_state(State.SPEAKING)
        await wait_until(lambda: len(_messages(caplog, logging.DEBUG)) >= 2, "two failed retries")
        await asyncio.to_thread(own_broker.start)  # empty: no persistence, nothing retained
        async with recording_client(own_broker.port) as rec:
            await rec.wait_for(t.availability, lambda m: text(m) == "online")
            await rec.wait_for(t.sub("volume"), lambda m: text(m) == "33")
            await rec.wait_for(t.sub("state"), lambda m: text(m) == "responding")
            await rec.wait_for(f"homeassistant/device/{service.site_id}/config")
        assert service.connected
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings  # the first failure of the outage only
    assert "lost the connection" in warnings[0]
    assert controller.calls == [("set_volume", 33)]


async def test_an_absent_broker_at_start_is_retried_until_it_appears(
    own_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="appliance.mqtt")
    service = MqttService(mqtt_settings(own_broker.port), FakeController())
    async with running(service):
        await wait_until(lambda: len(_messages(caplog, logging.DEBUG)) >= 2, "retries")
        assert not service.connected
        await asyncio.to_thread(own_broker.start)
        async with recording_client(own_broker.port) as rec:
            await rec.wait_for(service.topics.availability, lambda m: text(m) == "online")
    (warning,) = _messages(caplog, logging.WARNING)
    assert "cannot connect" in warning
    assert "nothing is listening there" in warning
    assert "start the broker" in warning
    (connected,) = [m for m in _messages(caplog, logging.INFO) if m.startswith("connected")]
    retries = len(_messages(caplog, logging.DEBUG))
    assert connected.endswith(f"after {retries + 1} retries")  # the warned failure, then these


_SPEAKER = """
import asyncio, sys
from appliance.mqtt.service import MqttService
from appliance.settings import load_settings
from tests.mqtt.fakes import FakeController

async def main() -> None:
    mqtt = {"host": "127.0.0.1", "port": int(sys.argv[1]), "site_id": sys.argv[2]}
    settings = load_settings(overrides={"mqtt": mqtt}).mqtt
    await MqttService(settings, FakeController()).run()

asyncio.run(main())
"""


async def test_the_broker_says_offline_when_the_speaker_dies(broker: Mosquitto) -> None:
    site = mqtt_settings(broker.port).site_id
    availability = f"appliance/{site}/availability"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    async with recording_client(broker.port, (availability,)) as rec:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SPEAKER, str(broker.port), site, cwd=REPO, env=env
        )
        try:
            await rec.wait_for(availability, lambda m: text(m) == "online")
            proc.kill()  # no chance to say goodbye: the broker publishes the Last Will
            await rec.wait_for(availability, lambda m: text(m) == "offline")
        finally:
            if proc.returncode is None:
                proc.kill()
            await asyncio.wait_for(proc.wait(), TIMEOUT_S)
