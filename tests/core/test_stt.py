"""Transcription in a shortened Whisper window: the window rule, repeat removal, real models."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ
from appliance.settings import load_settings
from appliance.stt import Transcriber, drop_repeats, looks_looped, short_window_s
from tests.conftest import Voices


def test_window_is_the_setting_for_short_commands() -> None:
    assert short_window_s(2.3, 10.0) == 10.0


def test_window_grows_to_leave_silence_after_longer_speech() -> None:
    assert short_window_s(9.5, 10.0) == 12.0  # ceil(9.5 + 2 s of padding)


def test_speech_near_30_s_uses_whispers_own_window() -> None:
    assert short_window_s(28.5, 10.0) is None
    assert short_window_s(2.0, 30.0) is None


@pytest.mark.parametrize(("heard", "meant"), [
    ("Say that again. Say that again.", "Say that again."),
    ("What time is it? What time is it? What time is it?", "What time is it?"),
    ("What can you do? What can you", "What can you do?"),  # cut short by the token limit
    ("Never mind. never mind", "Never mind."),
])
def test_a_command_heard_twice_is_kept_once(heard: str, meant: str) -> None:
    assert drop_repeats(heard) == meant


@pytest.mark.parametrize("text", [
    "Set a timer. Then stop.", "Stop. Stop it.", "Turn it up. Up.", "", "Hello.",
])
def test_different_sentences_are_kept(text: str) -> None:
    assert drop_repeats(text) == text


def test_looped_transcripts_are_recognised() -> None:
    assert looks_looped("the the the the the the the the the the the the the the")
    assert not looks_looped("Set a timer for ten minutes and add five minutes to it.")


@pytest.fixture(scope="module")
def stt() -> Transcriber:
    return Transcriber(load_settings().stt)


def _words(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


@pytest.mark.models
def test_short_window_transcribes_like_the_full_window(stt: Transcriber, voices: Voices) -> None:
    assert stt.settings.window_s == 10.0  # the default
    lead = np.zeros(int(0.3 * RATE_HZ), np.int16)  # as the pre-roll leaves it
    speech = np.concatenate([lead, voices.piper_pcm("Set a timer for ten minutes."), lead])
    short = stt.transcribe(speech).text
    stt.settings = replace(stt.settings, window_s=30.0)
    try:
        full = stt.transcribe(speech).text
    finally:
        stt.settings = replace(stt.settings, window_s=10.0)
    assert _words(short) == _words(full) == "set a timer for 10 minutes"


@pytest.mark.models
def test_speech_longer_than_the_window_is_all_transcribed(stt: Transcriber,
                                                          voices: Voices) -> None:
    gap = np.zeros(int(4 * RATE_HZ), np.int16)
    first, last = voices.piper_pcm("What time is it?"), voices.piper_pcm("What day is it?")
    speech = np.concatenate([first, gap, gap, last])  # ~11 s: the window grows to fit it
    transcript = stt.transcribe(speech)
    assert transcript.window_s is not None and transcript.window_s > 10
    assert _words(transcript.text) == "what time is it what day is it"
