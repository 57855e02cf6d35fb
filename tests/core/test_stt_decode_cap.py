"""The shortened window's decoder: capped by the audio's length, and a loop caught on what the
decoder wrote, before the repeat filter makes it look like one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, Int16Array
from appliance.settings import load_settings
from appliance.stt import Transcriber, decode_cap, window_text
from tests.conftest import Voices

# The most Whisper tokens a second of transcribed audio our commands needed (93 commands x 6
# Piper and espeak-ng voices, up to 230 words a minute; the comment at stt.DECODE_TOKENS_PER_S).
# A cap of more than twice that, plus a floor for the shortest commands, is a long decode.
DENSEST_TOKENS_PER_S = 5.7
FLOOR_TOKENS = 8


def most_tokens(audio_s: float) -> float:
    return 2 * DENSEST_TOKENS_PER_S * audio_s + FLOOR_TOKENS


LOOPED = "Turn off the lights. " * 9  # what Whisper wrote for a 2 s command in a 10 s window


def test_a_looping_decode_is_caught_before_its_repeats_are_dropped() -> None:
    assert window_text(LOOPED) is None


@pytest.mark.parametrize(("decoded", "text"), [
    (" Turn off the lights.", "Turn off the lights."),
    (" Turn off the lights. Turn off the lights.", "Turn off the lights."),  # said twice
    (" What can you do? What can you", "What can you do?"),  # cut by the cap
])
def test_a_decode_that_did_not_loop_keeps_one_copy(decoded: str, text: str) -> None:
    assert window_text(decoded) == text


def test_the_cap_grows_with_the_audio_and_stays_under_twice_the_densest_speech() -> None:
    caps = [decode_cap(s) for s in (0.5, 1.0, 1.5, 3.0, 6.0, 10.0)]
    assert caps == sorted(caps) and caps[0] < caps[-1]
    for audio_s, cap in zip((0.5, 1.0, 1.5, 3.0, 6.0, 10.0), caps, strict=True):
        assert DENSEST_TOKENS_PER_S * audio_s + 1 < cap <= most_tokens(audio_s)


@dataclass
class _Looped:
    sequences_ids: list[list[int]]


class RecordingWhisper:
    """The real CTranslate2 Whisper, recording what each ``generate`` was asked; with
    ``loop_first``, the first decode's tokens come back nine times (a decoder that looped)."""

    def __init__(self, model: Any, *, loop_first: bool = False) -> None:
        self.model = model
        self.loop_first = loop_first
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def generate(self, features: Any, prompts: list[list[int]], **options: Any) -> Any:
        results = self.model.generate(features, prompts, **options)
        self.calls.append({"prompt": len(prompts[0]), "results": results, **options})
        if self.loop_first and len(self.calls) == 1:
            return [_Looped([results[0].sequences_ids[0] * 9])]
        return results


@pytest.fixture(scope="module")
def stt() -> Transcriber:
    return Transcriber(load_settings().stt)


def _padded(samples: Int16Array, seconds: float) -> Int16Array:
    out = np.zeros(int(seconds * RATE_HZ), np.int16)
    out[: len(samples)] = samples[: len(out)]
    return out


@pytest.mark.models
def test_a_short_commands_decode_is_bounded_by_its_length(stt: Transcriber,
                                                          voices: Voices) -> None:
    said = voices.piper_pcm("What time is it?")
    recorder = RecordingWhisper(stt._model.model)
    stt._model.model = recorder
    try:
        transcripts = {s: stt.transcribe(_padded(said, s)) for s in (1.5, 3.0)}
    finally:
        stt._model.model = recorder.model
    short, longer = recorder.calls
    budget = short["max_length"] - short["prompt"]
    assert budget <= most_tokens(1.5)  # 15 tokens a second + 15 allowed 37
    assert len(short["results"][0].sequences_ids[0]) <= budget
    assert longer["max_length"] - longer["prompt"] > budget
    assert all(t.window_s == 10.0 for t in transcripts.values())
    assert transcripts[1.5].text == "What time is it?"  # the cap does not cut a command


@pytest.mark.models
def test_a_looping_decode_is_heard_again_in_the_full_window(stt: Transcriber,
                                                            voices: Voices) -> None:
    command = _padded(voices.piper_pcm("Turn off the lights."), 2.0)
    recorder = RecordingWhisper(stt._model.model, loop_first=True)
    stt._model.model = recorder
    try:
        transcript = stt.transcribe(command)
    finally:
        stt._model.model = recorder.model
    assert transcript.window_s is None  # the short window's nine copies were not trusted
    assert len(recorder.calls) >= 2
    assert "lights" in transcript.text.lower()
