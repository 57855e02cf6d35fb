"""The whole daemon on real audio devices: it hears, answers, and keeps quiet when it should."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, Int16Array, resample
from appliance.clock import TEST_CLOCK_ENV
from appliance.skills.core import number_words
from appliance.stt import Transcriber
from tests.conftest import judge_settings

from ..conftest import SPEAKER_RATE_HZ, PulseDevices, Voices
from .daemon_proc import DaemonProcess

pytestmark = [pytest.mark.audio, pytest.mark.models]

CONFIG = """
[audio.input]
device = "pulse"
[audio.output]
device = "pulse"
[intent]
sentences_dirs = []
"""


# The daemon's clock (a file it reads, in UTC): the time it tells is known, whatever the hour.
NOW = datetime(2030, 6, 3, 20, 43, tzinfo=UTC)


@pytest.fixture(scope="module")
def daemon(pulse_devices: PulseDevices, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[DaemonProcess]:
    folder = tmp_path_factory.mktemp("daemon")
    config = folder / "config.toml"
    config.write_text(CONFIG)
    (folder / "clock").write_text(repr(NOW.timestamp()))
    proc = DaemonProcess(config, {**pulse_devices.env, TEST_CLOCK_ENV: str(folder / "clock")})
    try:
        proc.wait_for("state starting -> idle", timeout_s=180)
        yield proc
    finally:
        assert proc.stop() == 0, "\n".join(proc.lines[-30:])


def record_while(pulse: PulseDevices, tmp: Path, action: Callable[[], None]) -> Int16Array:
    raw = tmp / "speaker.raw"
    rec = pulse.record_speaker(raw)
    try:
        time.sleep(0.3)
        action()
    finally:
        rec.terminate()
        rec.wait(10)
    heard: Int16Array = np.fromfile(raw, dtype="<i2")
    return heard


def hour_forms(now: datetime) -> set[str]:
    hour = now.hour % 12 or 12
    forms = {str(hour), number_words(hour)}
    if hour == 4:
        forms.add("for")  # Whisper tiny.en hears the (correctly spoken) "four" as "for"
    return forms


def test_wake_word_question_is_answered_with_the_time(
    daemon: DaemonProcess, pulse_devices: PulseDevices, voices: Voices, tmp_path: Path
) -> None:
    wav = voices.utterance(tmp_path / "ask.wav", 0.5, "Hey Jarvis.", 0.6, "What time is it?", 2.0)
    mark = daemon.mark()

    def ask() -> None:
        pulse_devices.play_to_mic(wav)
        daemon.wait_for("state speaking -> idle", mark, timeout_s=60)
        time.sleep(0.5)

    heard = record_while(pulse_devices, tmp_path, ask)
    log = "\n".join(daemon.since(mark))
    assert "state idle -> wake (hey_jarvis)" in log
    assert re.search(r"heard: '[^']*time is it", log, re.IGNORECASE), log
    assert np.abs(heard).max() > 3000, "nothing was played to the speaker"
    text = Transcriber(judge_settings()).transcribe(
        resample(heard, SPEAKER_RATE_HZ, RATE_HZ)).text.lower()
    # Whisper writes the spoken time as words, "8:43" or "843": the hour is the leading digits
    words = set(re.findall(r"[a-z]+", text))
    words |= {n[:-2] if len(n) > 2 else n for n in re.findall(r"\d+", text)}
    assert words & hour_forms(NOW), f"answer was {text!r}"


@pytest.mark.parametrize("content", ["silence", "speech without the wake word"])
def test_no_wake_means_nothing_played(
    content: str, daemon: DaemonProcess, pulse_devices: PulseDevices, voices: Voices,
    tmp_path: Path,
) -> None:
    if content == "silence":
        wav = voices.utterance(tmp_path / "quiet.wav", 3.0)
    else:
        wav = voices.utterance(tmp_path / "talk.wav", 0.5, "What time is it?", 0.4,
                               "Turn on the kitchen lights, please.", 1.0)
    mark = daemon.mark()

    def play() -> None:
        pulse_devices.play_to_mic(wav)
        time.sleep(1.0)

    heard = record_while(pulse_devices, tmp_path, play)
    assert not [line for line in daemon.since(mark) if "-> wake" in line]
    assert len(heard) > SPEAKER_RATE_HZ, "the speaker was not recorded"
    assert np.abs(heard).max() < 100, "something was played"
