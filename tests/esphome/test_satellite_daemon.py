"""The whole daemon as Home Assistant's Assist satellite, on the real audio devices.

``appliance run`` with ``[esphome]`` on (encrypted, Home Assistant mode); aioesphomeapi's own
``APIClient`` plays Home Assistant. "Hey Jarvis, turn on the kitchen light" is played into the
PulseAudio microphone; the client gets the request and the audio (Whisper checks what it got),
answers with a TTS URL served by the test on loopback (a 1 kHz tone), and the tone is heard on
the speaker sink. Then an announcement, a timer, mute and volume, and the faults: Home
Assistant never answering (answered here within the timeout) and going away mid-turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aioesphomeapi.client import APIClient
from aioesphomeapi.core import InvalidEncryptionKeyAPIError, RequiresEncryptionAPIError
from aioesphomeapi.model import (
    VoiceAssistantAudioSettings,
    VoiceAssistantEventType,
    VoiceAssistantTimerEventType,
)

from appliance.audio.format import RATE_HZ, Int16Array
from appliance.esphome.device import MEDIA_PLAYER, MUTE
from appliance.stt import Transcriber
from tests.conftest import SPEAKER_RATE_HZ, PulseDevices, Voices, judge_settings
from tests.core.daemon_proc import DaemonProcess

from .conftest import KEY, OTHER_KEY, wait_until
from .media_kit import served, tone

pytestmark = [pytest.mark.audio, pytest.mark.models]

TONE_HZ = {"/answer.wav": 1000.0, "/announce.wav": 600.0}
ANSWER_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def media() -> Iterator[str]:
    with served({path: tone(freq, 1.0, amplitude=12000)
                  for path, freq in TONE_HZ.items()}) as url:
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def daemon(pulse_devices: PulseDevices, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[DaemonProcess, int]]:
    folder = tmp_path_factory.mktemp("satellite")
    port = free_port()
    config = folder / "config.toml"
    config.write_text(f"""
[audio.input]
device = "pulse"
[audio.output]
device = "pulse"
[intent]
sentences_dirs = []
[skills]
state_dir = "{folder / 'state'}"
[esphome]
enabled = true
address = "127.0.0.1"
port = {port}
name = "test-satellite"
encryption_key = "{KEY}"
zeroconf = false
mode = "home-assistant"
ha_answer_timeout_s = {ANSWER_TIMEOUT_S}
""")
    proc = DaemonProcess(config, pulse_devices.env)
    try:
        proc.wait_for("state starting -> idle", timeout_s=180)
        proc.wait_for("ESPHome API", timeout_s=30)
        yield proc, port
    finally:
        assert proc.stop() == 0, "\n".join(proc.lines[-30:])


class Ha:
    """Home Assistant's assist satellite, as far as a test needs it."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.audio = bytearray()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.finished: list[bool] = []
        self.states: dict[int, Any] = {}
        self.on_start: Any = None

    async def handle_start(self, conversation_id: str, flags: int,
                           settings: VoiceAssistantAudioSettings,
                           wake_word_phrase: str | None) -> int | None:
        self.audio.clear()
        self.stopped.clear()
        self.started.set()
        if self.on_start is not None:
            await self.on_start()
        return 0

    async def handle_stop(self, abort: bool) -> None:
        self.stopped.set()

    async def handle_audio(self, data: bytes, data2: bytes | None = None) -> None:
        self.audio += data

    async def handle_finished(self, finished: Any) -> None:
        self.finished.append(finished.success)


@contextlib.asynccontextmanager
async def home_assistant(port: int) -> AsyncIterator[Ha]:
    client = APIClient("127.0.0.1", port, None, noise_psk=KEY)
    await asyncio.wait_for(client.connect(login=True), 20)
    ha = Ha(client)
    try:
        client.subscribe_voice_assistant(
            handle_start=ha.handle_start, handle_stop=ha.handle_stop,
            handle_audio=ha.handle_audio, handle_announcement_finished=ha.handle_finished)
        client.subscribe_states(lambda s: ha.states.__setitem__(s.key, s))
        await asyncio.sleep(0.2)
        yield ha
    finally:
        await client.disconnect(force=True)


class Speaker:
    """What the speaker sink plays, recorded while the test runs."""

    def __init__(self, pulse: PulseDevices, path: Path) -> None:
        self.path = path
        self.rec = pulse.record_speaker(path)

    def stop(self) -> Int16Array:
        self.rec.terminate()
        self.rec.wait(10)
        heard: Int16Array = np.fromfile(self.path, dtype="<i2")
        return heard


def has_tone(heard: Int16Array, freq_hz: float) -> bool:
    """The loudest frequency of the loudest second is ``freq_hz``."""
    if len(heard) < SPEAKER_RATE_HZ:
        return False
    energy = np.convolve(np.abs(heard.astype(np.float64)), np.ones(SPEAKER_RATE_HZ), "valid")
    start = int(np.argmax(energy))
    window = heard[start : start + SPEAKER_RATE_HZ].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    peak = np.fft.rfftfreq(len(window), 1 / SPEAKER_RATE_HZ)[int(np.argmax(spectrum))]
    return bool(abs(peak - freq_hz) < 20)


def events(client: APIClient, url: str) -> None:
    for kind, data in (
        (VoiceAssistantEventType.VOICE_ASSISTANT_RUN_START, {}),
        (VoiceAssistantEventType.VOICE_ASSISTANT_STT_END, {"text": "turn on the kitchen light"}),
        (VoiceAssistantEventType.VOICE_ASSISTANT_INTENT_END,
         {"conversation_id": "c1", "continue_conversation": "0"}),
        (VoiceAssistantEventType.VOICE_ASSISTANT_TTS_START, {"text": "Turned on the light."}),
        (VoiceAssistantEventType.VOICE_ASSISTANT_TTS_END, {"url": url}),
        (VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END, {}),
    ):
        client.send_voice_assistant_event(kind, data)


async def test_a_voice_session_through_home_assistant_is_heard_on_the_speaker(
    daemon: tuple[DaemonProcess, int], pulse_devices: PulseDevices, voices: Voices,
    media: str, tmp_path: Path,
) -> None:
    proc, port = daemon
    wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.6,
                           "Turn on the kitchen light.", 2.0)
    async with home_assistant(port) as ha:
        speaker = Speaker(pulse_devices, tmp_path / "speaker.raw")
        mark = proc.mark()
        try:
            playing = asyncio.create_task(asyncio.to_thread(pulse_devices.play_to_mic, wav))
            await asyncio.wait_for(ha.started.wait(), 30)
            await asyncio.wait_for(ha.stopped.wait(), 30)  # our end of speech: audio end
            events(ha.client, f"{media}/answer.wav")
            await asyncio.to_thread(proc.wait_for, "state speaking -> idle", mark, 30)
            await playing
            await asyncio.sleep(0.3)
        finally:
            heard = speaker.stop()
        await wait_until(lambda: ha.finished == [True], 20)
    audio = np.frombuffer(bytes(ha.audio), dtype="<i2")
    said = Transcriber(judge_settings()).transcribe(audio).text.lower()
    assert "kitchen" in said, said
    assert len(audio) < 8 * RATE_HZ
    assert has_tone(heard, TONE_HZ["/answer.wav"]), "Home Assistant's answer was not heard"
    log = "\n".join(proc.since(mark))
    assert "heard (by Home Assistant): 'turn on the kitchen light'" in log


async def test_announcement_timer_mute_and_volume_from_home_assistant(
    daemon: tuple[DaemonProcess, int], pulse_devices: PulseDevices, media: str,
    tmp_path: Path,
) -> None:
    proc, port = daemon
    async with home_assistant(port) as ha:
        speaker = Speaker(pulse_devices, tmp_path / "speaker.raw")
        try:
            done = await ha.client.send_voice_assistant_announcement_await_response(
                f"{media}/announce.wav", 30, "Dinner is ready")
        finally:
            heard = speaker.stop()
        assert done.success
        assert has_tone(heard, TONE_HZ["/announce.wav"])

        mark = proc.mark()
        ha.client.send_voice_assistant_timer_event(
            VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_FINISHED, "t1", "tea", 60, 0,
            False)
        await asyncio.to_thread(proc.wait_for, "ringing: timer ha-t1", mark, 20)
        ha.client.switch_command(MUTE, True)
        await asyncio.to_thread(proc.wait_for, "-> muted", mark, 20)
        await wait_until(lambda: MUTE in ha.states and ha.states[MUTE].state is True, 20)
        ha.client.switch_command(MUTE, False)
        await asyncio.to_thread(proc.wait_for, "muted -> idle", mark, 20)
        proc_stop = proc.mark()
        ha.client.media_player_command(MEDIA_PLAYER, volume=0.55)
        await wait_until(lambda: ha.states[MEDIA_PLAYER].volume == pytest.approx(0.55), 20)
        assert not [line for line in proc.since(proc_stop) if "ERROR" in line]


async def test_home_assistant_silent_or_gone_the_turn_is_answered_here(
    daemon: tuple[DaemonProcess, int], pulse_devices: PulseDevices, voices: Voices,
    tmp_path: Path,
) -> None:
    proc, port = daemon
    wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.6, "What time is it?",
                           2.0)
    async with home_assistant(port) as ha:  # it accepts, then never answers
        mark = proc.mark()
        await asyncio.to_thread(pulse_devices.play_to_mic, wav)
        line = await asyncio.to_thread(proc.wait_for, "Home Assistant did not answer", mark, 30)
        await asyncio.to_thread(proc.wait_for, "state speaking -> idle", mark, 30)
        assert f"within {ANSWER_TIMEOUT_S:g} s" in line
    async with home_assistant(port) as ha:  # it goes away as soon as the turn starts
        ha.on_start = lambda: ha.client.disconnect(force=True)
        mark = proc.mark()
        await asyncio.to_thread(pulse_devices.play_to_mic, wav)
        await asyncio.to_thread(proc.wait_for, "Home Assistant disconnected", mark, 30)
        await asyncio.to_thread(proc.wait_for, "-> idle", mark, 30)


async def test_without_the_key_or_with_another_home_assistant_is_refused(
    daemon: tuple[DaemonProcess, int],
) -> None:
    _, port = daemon
    with pytest.raises(RequiresEncryptionAPIError):
        await APIClient("127.0.0.1", port, None).connect(login=True)
    with pytest.raises(InvalidEncryptionKeyAPIError):
        await APIClient("127.0.0.1", port, None, noise_psk=OTHER_KEY).connect(login=True)


def test_doctor_reaches_the_satellite_as_home_assistant_would(
    daemon: tuple[DaemonProcess, int], tmp_path: Path,
) -> None:
    _, port = daemon
    config = tmp_path / "config.toml"
    config.write_text(f'[esphome]\nenabled = true\naddress = "127.0.0.1"\nport = {port}\n'
                      f'encryption_key = "{KEY}"\nmode = "home-assistant"\n')
    done = subprocess.run([sys.executable, "-m", "appliance", "doctor", "--config", str(config),
                           "--only", "esphome"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'test-satellite' answers on port" in done.stdout
    assert "encrypted" in done.stdout and "Home Assistant" in done.stdout
