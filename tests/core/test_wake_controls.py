"""Choosing the wake word and its sensitivity at run time (Home Assistant's select and number)."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.audio.format import FRAME_BYTES, Int16Array
from appliance.settings import load_settings
from appliance.wake import Detection, WakeWord

from ..conftest import Voices

pytestmark = pytest.mark.models


def detections(wake: WakeWord, audio: Int16Array, start_s: float) -> list[Detection]:
    """Feed ``audio`` from stream time ``start_s`` (each call later than the refractory)."""
    raw = np.concatenate([audio, np.zeros(16000, np.int16)]).astype("<i2").tobytes()
    found = []
    for n, i in enumerate(range(0, len(raw) - FRAME_BYTES, FRAME_BYTES)):
        d = wake.process(raw[i : i + FRAME_BYTES], start_s + n * 0.08)
        if d is not None:
            found.append(d)
    wake.reset()
    return found


def test_select_and_sensitivity(voices: Voices) -> None:
    settings = load_settings(overrides={"wake": {"models": [
        {"model": "hey_jarvis", "threshold": 0.5}, {"model": "alexa", "threshold": 0.5}]}})
    wake = WakeWord(settings.wake)
    jarvis = np.concatenate([np.zeros(8000, np.int16), voices.piper_pcm("Hey Jarvis.")])
    assert [d.wake_word for d in detections(wake, jarvis, 100)] == ["hey_jarvis"]
    wake.select("alexa")
    assert detections(wake, jarvis, 200) == []
    wake.select("hey_jarvis")
    wake.set_threshold(0.99)
    assert wake.threshold == 0.99
    assert wake.decider.thresholds["alexa"] == 0.5
    assert [d.score >= 0.99 for d in detections(wake, jarvis, 300)] in ([], [True])
    with pytest.raises(ValueError, match="no wake word 'ok_google'"):
        wake.select("ok_google")
