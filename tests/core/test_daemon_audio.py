"""The whole daemon on real audio devices: it hears, answers, and keeps quiet when it should."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, Int16Array, Pcm, resample, write_wav
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


def spoken(voices: Voices, voice: str, text: str, tmp: Path) -> Int16Array:
    """Words without the silence the voice puts around them (so a gap is the gap we say)."""
    pcm = voices.piper_pcm(text) if voice == "piper" else voices.espeak_pcm(text, tmp)
    loud = np.nonzero(np.abs(pcm) > 500)[0]
    return pcm[loud[0] : loud[-1] + 1]


@pytest.mark.parametrize("voice", ["piper", "espeak-ng"])
def test_a_command_said_straight_after_the_wake_word_keeps_its_first_word(
    voice: str, daemon: DaemonProcess, pulse_devices: PulseDevices, voices: Voices,
    tmp_path: Path,
) -> None:
    """The chime on (the default) and heard by the microphone, as in a room: the speaker's
    output is looped back into the microphone while the command is said 0.15 s after the wake
    word, so the chime's echo lands on the command's first word."""
    gap = np.zeros(int(0.15 * RATE_HZ), np.int16)
    quiet = np.zeros(int(0.5 * RATE_HZ), np.int16)
    audio = np.concatenate([quiet, spoken(voices, voice, "Hey Jarvis.", tmp_path), gap,
                            spoken(voices, voice, "Turn on the kitchen light.", tmp_path),
                            quiet, quiet, quiet])
    wav = tmp_path / "no-pause.wav"
    write_wav(wav, Pcm(audio, RATE_HZ))
    loopback = subprocess.run(
        ["pactl", "load-module", "module-loopback", "source=speaker.monitor", "sink=mic",
         "latency_msec=30"], env=pulse_devices.env, check=True, capture_output=True, text=True,
        timeout=10).stdout.strip()
    mark = daemon.mark()

    def say() -> None:
        pulse_devices.play_to_mic(wav)
        daemon.wait_for("state speaking -> idle", mark, timeout_s=60)

    try:
        heard = record_while(pulse_devices, tmp_path, say)
    finally:
        subprocess.run(["pactl", "unload-module", loopback], env=pulse_devices.env, check=True,
                       timeout=10)
    log = "\n".join(daemon.since(mark))
    assert "state idle -> wake (hey_jarvis)" in log
    assert np.abs(heard).max() > 3000, "the chime was not played"
    found = re.search(r"heard: (['\"])(.*)\1$", log, re.MULTILINE)  # the text's repr()
    assert found, log
    # The 0.24 s pre-roll holds the wake word's last syllable: Whisper may write it ("Jarvis",
    # "It's"); then come the command's words, the first one whole.
    command = re.sub(r"^\W*(hey\W+)?jarvis\W*", "", found.group(2).lower())
    assert re.match(r"(\W*[\w']+\W+)?turn on the kitchen light", command), (
        f"the transcript was {found.group(2)!r}")
