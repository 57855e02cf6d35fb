"""The shortened window's decoder: capped by the audio's length, and a loop caught on what the
decoder wrote, before the repeat filter makes it look like one sentence. A loop of one sentence
that beam search on the same encoding confirms is that sentence; any other goes to the full
window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ, Int16Array
from appliance.settings import load_settings
from appliance.stt import (
    LOOP_BEAMS,
    Transcriber,
    Transcript,
    decode_cap,
    repeated_sentence,
    window_text,
)
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


@pytest.mark.parametrize(("decoded", "sentence"), [
    (LOOPED, "Turn off the lights."),
    (" Stop. Stop. Stop. Stop. Stop. Stop. Stop. Stop. Stop. Stop. St", "Stop."),
    (" Repeat that. Repeat that. Repeat that. Repeat that. Repeat t", "Repeat that."),
    (" . . . . . . . . . . . . . . . . . .", None),  # the chime, no prompt, 3 s
    (" Stop. Go. Stop. Go. Stop", None),
    (" Stop. Go. Stop. Go. Stop. Go. Stop. Go. Stop. Go.", None),  # two sentences in turn
    (" the the the the the the the the the the the the", None),  # a loop within a sentence
])
def test_a_loop_may_stand_for_one_sentence_said_again_and_again(decoded: str,
                                                                sentence: str | None) -> None:
    assert repeated_sentence(decoded) == sentence


def test_the_cap_grows_with_the_audio_and_stays_under_twice_the_densest_speech() -> None:
    caps = [decode_cap(s) for s in (0.5, 1.0, 1.5, 3.0, 6.0, 10.0)]
    assert caps == sorted(caps) and caps[0] < caps[-1]
    for audio_s, cap in zip((0.5, 1.0, 1.5, 3.0, 6.0, 10.0), caps, strict=True):
        assert DENSEST_TOKENS_PER_S * audio_s + 1 < cap <= most_tokens(audio_s)


@dataclass
class _Looped:
    sequences_ids: list[list[int]]


class RecordingWhisper:
    """The real CTranslate2 Whisper, recording what each ``generate`` was asked; the first
    ``loops`` decodes come back with their tokens nine times (a decoder that looped)."""

    def __init__(self, model: Any, *, loops: int = 0) -> None:
        self.model = model
        self.loops = loops
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def generate(self, features: Any, prompts: list[list[int]], **options: Any) -> Any:
        results = self.model.generate(features, prompts, **options)
        self.calls.append({"prompt": len(prompts[0]), "results": results, **options})
        if len(self.calls) <= self.loops:
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


def _transcribe(stt: Transcriber, samples: Int16Array, loops: int
                ) -> tuple[Transcript, list[dict[str, Any]]]:
    recorder = RecordingWhisper(stt._model.model, loops=loops)
    stt._model.model = recorder
    try:
        return stt.transcribe(samples), recorder.calls
    finally:
        stt._model.model = recorder.model


@pytest.mark.models
def test_a_loop_that_beams_confirm_is_its_sentence_without_the_full_window(
        stt: Transcriber, voices: Voices) -> None:
    command = _padded(voices.piper_pcm("Turn off the lights."), 2.0)
    transcript, calls = _transcribe(stt, command, loops=1)
    assert [c["beam_size"] for c in calls] == [stt.settings.beam_size, LOOP_BEAMS]
    assert calls[1]["max_length"] == calls[0]["max_length"]  # under the same cap
    # (the capital letter is not what this is about: Whisper gave "turn" once, in a fresh clone)
    assert (transcript.text.lower(), transcript.window_s) == ("turn off the lights.", 10.0)


@pytest.mark.models
def test_a_loop_the_beams_do_not_confirm_is_heard_in_the_full_window(stt: Transcriber,
                                                                    voices: Voices) -> None:
    command = _padded(voices.piper_pcm("Turn off the lights."), 2.0)
    transcript, calls = _transcribe(stt, command, loops=2)  # the beams' decode loops too
    assert len(calls) >= 3  # greedy, beams, then Whisper's own window
    assert transcript.window_s is None
    assert "lights" in transcript.text.lower()
