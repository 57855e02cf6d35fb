"""Fixtures shared by every test area: real audio devices (PulseAudio null sinks) and voices.

``pulse_devices`` starts a private, headless PulseAudio with two null sinks: ``mic`` (the test
plays into it; its monitor is the daemon's microphone) and ``speaker`` (the daemon plays into it;
its monitor is recorded). ALSA programs reach them through the ``pulse`` ALSA device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, Int16Array, Pcm, resample, write_wav
from appliance.settings import SttSettings, load_settings
from appliance.tts import Synthesizer

SPEAKER_RATE_HZ = 22050


@dataclass
class PulseDevices:
    root: Path
    env: dict[str, str]

    def play_to_mic(self, wav: Path, timeout_s: float = 60) -> None:
        """Play ``wav`` into the microphone in real time (returns when it has been played)."""
        subprocess.run(["paplay", "--device=mic", str(wav)], env=self.env, check=True,
                       timeout=timeout_s)

    def record_speaker(self, path: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["parec", "--device=speaker.monitor", "--raw", "--format=s16le",
             f"--rate={SPEAKER_RATE_HZ}", "--channels=1", str(path)],
            env=self.env,
        )


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pulse_devices() -> Iterator[PulseDevices]:
    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is not installed: run the README's test command (make test)")
    root = Path(tempfile.mkdtemp(prefix="pulse-"))
    socket = root / "native"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(root), "HOME": str(root),
           "PULSE_SERVER": f"unix:{socket}", "PULSE_SOURCE": "mic.monitor",
           "PULSE_SINK": "speaker"}
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disable-shm=yes",
         "--use-pid-file=no", "--log-target=stderr",
         "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
         "-L", f"module-null-sink sink_name=mic rate={RATE_HZ} channels=1 norewinds=1",
         "-L", f"module-null-sink sink_name=speaker rate={SPEAKER_RATE_HZ} channels=1 "
               "norewinds=1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(socket, 15)
        subprocess.run(["pactl", "info"], env=env, check=True, timeout=10,
                       stdout=subprocess.DEVNULL)
        yield PulseDevices(root, env)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


class Voices:
    """Test utterances made at test time: Piper (the default voice) and espeak-ng."""

    def __init__(self) -> None:
        self.piper = Synthesizer(load_settings().tts)

    def piper_pcm(self, text: str) -> Int16Array:
        audio = np.concatenate(list(self.piper.sentences(text)))
        return resample(audio, self.piper.rate_hz, RATE_HZ)

    def espeak_pcm(self, text: str, tmp: Path) -> Int16Array:
        wav = tmp / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text],
                       check=True, timeout=30)
        from appliance.audio.format import read_wav

        pcm = read_wav(wav)
        return resample(pcm.samples, pcm.rate_hz, RATE_HZ)

    def utterance(self, path: Path, *parts: str | float) -> Path:
        """A WAV of Piper speech; a float in ``parts`` is that many seconds of silence."""
        chunks = [np.zeros(int(p * RATE_HZ), np.int16) if isinstance(p, float)
                  else self.piper_pcm(p) for p in parts]
        write_wav(path, Pcm(np.concatenate(chunks), RATE_HZ))
        return path


@pytest.fixture(scope="session")
def voices() -> Voices:
    return Voices()


def judge_settings() -> SttSettings:
    """Whisper for judging what the speaker played: its own 30 s window, the most accurate."""
    return replace(load_settings().stt, window_s=30.0)
