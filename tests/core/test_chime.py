"""The wake chime is not speech: why the microphone is not blanked while it plays.

The pipeline keeps what the microphone hears under the chime (a command said straight after the
wake word starts there). That is only safe if the chime's echo is not taken for speech: the VAD
must score it below its threshold, and Whisper must write nothing for it.
"""

from __future__ import annotations

import numpy as np
import pytest

from appliance.audio.format import FRAME_SAMPLES, RATE_HZ, Int16Array, chime
from appliance.settings import load_settings
from appliance.stt import Transcriber
from appliance.vad import SileroVad

pytestmark = pytest.mark.models


def echo(gain: float, seconds: float = 1.5) -> Int16Array:
    """The chime as the microphone hears it from the speaker: 30 ms late, at ``gain``."""
    out = np.zeros(int(seconds * RATE_HZ), np.float64)
    tone = chime(RATE_HZ).astype(np.float64) * gain
    start = int(0.03 * RATE_HZ)
    out[start : start + len(tone)] = tone
    return np.clip(out, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("gain", [1.0, 0.5, 0.25])
def test_the_vad_does_not_take_the_chime_for_speech(gain: float) -> None:
    vad = SileroVad()
    audio = echo(gain)
    scores = [vad.process(audio[i : i + FRAME_SAMPLES].tobytes())
              for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    assert max(scores) < load_settings().listen.vad_threshold, scores


def test_whisper_writes_nothing_for_the_chime() -> None:
    stt = Transcriber(load_settings().stt)
    assert stt.transcribe(echo(0.5, seconds=3.0)).text.strip(" .") == ""
