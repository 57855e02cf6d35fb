"""Audio for the wake engine tests, and the check every engine passes: one detection, during
"Hey Jarvis"."""

from __future__ import annotations

import numpy as np

from appliance.audio.format import FRAME_SAMPLES, RATE_HZ, Int16Array
from appliance.wake import WakeWord
from tests.conftest import Voices


def frames(samples: Int16Array) -> list[bytes]:
    return [samples[i:i + FRAME_SAMPLES].tobytes()
            for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]


def silence(seconds: float) -> Int16Array:
    return np.zeros(int(seconds * RATE_HZ), np.int16)


def fires_once_on_hey_jarvis(wake: WakeWord, voices: Voices) -> None:
    """``wake`` detects hey_jarvis once in a second of silence, "Hey Jarvis." and a second of
    silence, while the words are said."""
    audio = np.concatenate([silence(1.0), voices.piper_pcm("Hey Jarvis."), silence(1.0)])
    hits = [(i * 0.08, d) for i, f in enumerate(frames(audio))
            if (d := wake.process(f, i * 0.08)) is not None]
    assert [d.wake_word for _, d in hits] == ["hey_jarvis"]  # once: the refractory period holds
    assert 1.0 < hits[0][0] < len(audio) / RATE_HZ - 0.7  # during "Hey Jarvis", not after
