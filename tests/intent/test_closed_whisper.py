"""The closed-vocabulary step with the real Whisper model scoring the candidates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from appliance.intent.closed import ClosedVocabulary
from appliance.intent.engine import IntentEngine
from appliance.settings import load_settings
from appliance.stt import Transcriber, Transcript
from tests.conftest import Voices

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def stt() -> Transcriber:
    return Transcriber(load_settings().stt)


@pytest.fixture(scope="module")
def closed() -> ClosedVocabulary:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    engine = IntentEngine(settings.intent, ("hey_jarvis",))
    return ClosedVocabulary(engine, settings.intent.closed_max_penalty)


def heard(stt: Transcriber, voices: Voices, text: str) -> Transcript:
    gap = np.zeros(4000, np.int16)
    return stt.transcribe(np.concatenate([gap, voices.piper_pcm(text), gap, gap]))


def test_the_audio_of_a_command_picks_it_out_of_a_garbled_transcript(
        stt: Transcriber, voices: Voices, closed: ClosedVocabulary) -> None:
    transcript = heard(stt, voices, "Cancel all timers.")
    assert transcript.encoded is not None
    garbled = replace(transcript, text="Can't sell it all timers.")  # as one voice was heard
    choice = closed.choose(garbled.text, lambda texts: stt.score(garbled, texts))
    assert choice is not None
    assert choice.recognition.name == "TimerCancelAll"


def test_speech_that_is_no_command_gets_none(
        stt: Transcriber, voices: Voices, closed: ClosedVocabulary) -> None:
    transcript = heard(stt, voices, "What time does the pharmacy close on Sundays?")
    assert closed.choose(transcript.text, lambda texts: stt.score(transcript, texts)) is None


def test_the_free_transcript_scores_higher_than_another_command(
        stt: Transcriber, voices: Voices) -> None:
    transcript = heard(stt, voices, "Set a timer for ten minutes.")
    scores = stt.score(transcript, [" Set a timer for 10 minutes.", " Cancel all timers."])
    assert scores is not None
    assert scores[0] > scores[1] + 10


def test_a_full_window_transcript_cannot_be_scored(stt: Transcriber, voices: Voices) -> None:
    audio = np.concatenate([np.zeros(4000, np.int16), voices.piper_pcm("Stop.")])
    transcript = stt.transcribe(audio, full_window=True)
    assert transcript.encoded is None
    assert stt.score(transcript, [" Stop."]) is None
