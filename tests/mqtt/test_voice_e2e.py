"""MQTT with the whole daemon on real audio devices: a Hermes skill answers a spoken command,
Home Assistant's mute stops the wake word, the broker can die, SIGTERM says offline."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, resample
from appliance.stt import Transcriber
from tests.conftest import SPEAKER_RATE_HZ, PulseDevices, Voices, judge_settings
from tests.core.daemon_proc import DaemonProcess
from tests.mqtt.broker import Mosquitto

pytestmark = [pytest.mark.audio, pytest.mark.models]

SITE = "kitchen"


def config(tmp: Path, port: int, sentences: Path) -> Path:
    path = tmp / "config.toml"
    path.write_text(f"""
[audio.input]
device = "pulse"
[audio.output]
device = "pulse"
[intent]
sentences_dirs = ["{sentences}"]
[mqtt]
host = "127.0.0.1"
port = {port}
site_id = "{SITE}"
reconnect_initial_s = 0.2
reconnect_max_s = 1.0
""")
    return path


@pytest.fixture
def sentences(tmp_path: Path) -> Path:
    d = tmp_path / "sentences"
    d.mkdir()
    (d / "lights.yaml").write_text(
        "language: en\nintents:\n  LightOn:\n    data:\n      - sentences:\n"
        '          - "turn on the kitchen light"\n')
    return d


async def speak_and_record(pulse: PulseDevices, daemon: DaemonProcess, wav: Path,
                           tmp: Path, done: str | None = "state speaking -> idle") -> str:
    """Play ``wav`` into the microphone; return what the speaker then said (transcribed)."""
    raw = tmp / "speaker.raw"
    mark = daemon.mark()
    rec = pulse.record_speaker(raw)
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(pulse.play_to_mic, wav)
        if done is None:
            await asyncio.sleep(2.0)  # time to wake and answer, if it (wrongly) would
        else:
            await asyncio.to_thread(daemon.wait_for, done, mark, 60)
            await asyncio.sleep(0.5)
    finally:
        rec.terminate()
        rec.wait(10)
    heard = np.fromfile(raw, dtype="<i2")
    if np.abs(heard).max(initial=0) < 100:
        return ""
    stt = Transcriber(judge_settings())
    return stt.transcribe(resample(heard, SPEAKER_RATE_HZ, RATE_HZ)).text.lower()


@pytest.fixture
async def client(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="e2e-test") as c:
        yield c


async def next_message(client: aiomqtt.Client, topic: str, timeout_s: float = 30
                       ) -> aiomqtt.Message:
    async with asyncio.timeout(timeout_s):
        async for message in client.messages:
            if message.topic.matches(topic):
                return message
    raise AssertionError("unreachable")


async def started(pulse: PulseDevices, cfg: Path) -> DaemonProcess:
    daemon = DaemonProcess(cfg, pulse.env)
    await asyncio.to_thread(daemon.wait_for, "state starting -> idle", 0, 180)
    return daemon


async def online(client: aiomqtt.Client) -> None:
    """Wait until the daemon says it is connected (commands sent before are lost)."""
    await client.subscribe(f"appliance/{SITE}/availability")
    while bytes((await next_message(client, f"appliance/{SITE}/availability")).payload
                ) != b"online":
        pass


async def test_hermes_skill_answers_a_spoken_command(
    broker: Mosquitto, client: aiomqtt.Client, pulse_devices: PulseDevices, voices: Voices,
    sentences: Path, tmp_path: Path,
) -> None:
    await client.subscribe("hermes/#")
    daemon = await started(pulse_devices, config(tmp_path, broker.port, sentences))
    try:
        await online(client)
        async def skill() -> dict[str, object]:
            message = await next_message(client, "hermes/intent/LightOn")
            intent = json.loads(bytes(message.payload))
            await client.publish("hermes/dialogueManager/endSession", json.dumps(
                {"sessionId": intent["sessionId"], "text": "The kitchen light is on."}))
            return dict(intent)

        skill_task = asyncio.create_task(skill())
        wav = voices.utterance(tmp_path / "cmd.wav", 0.5, "Hey Jarvis.", 0.5,
                               "Turn on the kitchen light.", 1.5)
        said = await speak_and_record(pulse_devices, daemon, wav, tmp_path)
        intent = await asyncio.wait_for(skill_task, 10)
    finally:
        assert daemon.stop() == 0
    assert intent["siteId"] == SITE
    assert intent["intent"] == {"intentName": "LightOn", "confidenceScore": 1.0}
    assert "kitchen light is on" in said, said


async def test_home_assistant_mute_stops_the_wake_word(
    broker: Mosquitto, client: aiomqtt.Client, pulse_devices: PulseDevices, voices: Voices,
    sentences: Path, tmp_path: Path,
) -> None:
    daemon = await started(pulse_devices, config(tmp_path, broker.port, sentences))
    try:
        await online(client)
        await client.subscribe(f"appliance/{SITE}/mute")
        await client.publish(f"appliance/{SITE}/mute/set", "ON")
        while bytes((await next_message(client, f"appliance/{SITE}/mute")).payload) != b"ON":
            pass
        wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.5,
                               "What time is it?", 1.5)
        mark = daemon.mark()
        said = await speak_and_record(pulse_devices, daemon, wav, tmp_path, done=None)
        assert not [x for x in daemon.since(mark) if "-> wake" in x]
        assert said == ""
        await client.publish(f"appliance/{SITE}/mute/set", "OFF")
        await asyncio.to_thread(daemon.wait_for, "state muted -> idle", mark, 10)
    finally:
        assert daemon.stop() == 0


async def test_broker_dies_voice_keeps_working_then_reconnects(
    own_broker: Mosquitto, pulse_devices: PulseDevices, voices: Voices, sentences: Path,
    tmp_path: Path,
) -> None:
    own_broker.start()
    daemon = await started(pulse_devices, config(tmp_path, own_broker.port, sentences))
    try:
        own_broker.kill()
        wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.5,
                               "What's your name?", 1.5)
        said = await speak_and_record(pulse_devices, daemon, wav, tmp_path)
        assert "jarvis" in said
        own_broker.start()
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier="late") as c:
            await c.subscribe(f"appliance/{SITE}/#")
            seen: dict[str, bytes] = {}
            async with asyncio.timeout(30):
                async for m in c.messages:
                    seen[str(m.topic)] = bytes(m.payload)
                    if seen.get(f"appliance/{SITE}/availability") == b"online" and (
                            f"appliance/{SITE}/state" in seen):
                        break
        assert daemon.proc.poll() is None
        assert not [x for x in daemon.lines if "Traceback" in x], "\n".join(daemon.lines)
    finally:
        assert daemon.stop() == 0


async def test_sigterm_while_speaking_exits_quickly_and_says_offline(
    broker: Mosquitto, client: aiomqtt.Client, pulse_devices: PulseDevices, voices: Voices,
    sentences: Path, tmp_path: Path,
) -> None:
    daemon = await started(pulse_devices, config(tmp_path, broker.port, sentences))
    await online(client)
    wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.5,
                           "What can you do?", 1.0)
    await asyncio.to_thread(pulse_devices.play_to_mic, wav)
    await asyncio.to_thread(daemon.wait_for, "-> speaking", 0, 30)
    start = time.monotonic()
    code = daemon.stop(timeout_s=5)
    assert code == 0
    assert time.monotonic() - start < 5
    message = await next_message(client, f"appliance/{SITE}/availability", 10)
    assert bytes(message.payload) == b"offline"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="later") as later:
        await later.subscribe(f"appliance/{SITE}/availability")
        kept = await next_message(later, f"appliance/{SITE}/availability", 10)
    assert (bytes(kept.payload), kept.retain) == (b"offline", True)  # what a newcomer sees
    assert re.search(r"stopped", "\n".join(daemon.lines[-5:]))
