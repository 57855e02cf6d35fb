"""``appliance bench`` (core): where the real end of speech is, which transcription a turn used,
the figures of a turn from its marks, and the whole bench on the real models (--quick)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from appliance.audio.format import FRAME_BYTES, FRAME_SAMPLES, RATE_HZ
from appliance.bench import (
    COMMANDS,
    PacedSource,
    TimedStt,
    TurnMarks,
    clip,
    last_sound,
    looped,
    spread,
    turn_figures,
    turn_marks,
    used_call,
)
from appliance.events import (
    ListeningStarted,
    SessionEnded,
    StageEnded,
)
from appliance.turn import Timing

from .fakes import FakeStt


def test_the_command_ends_at_its_last_sample_above_minus_40_db_of_its_peak() -> None:
    said = np.zeros(1000, np.int16)
    said[100:500] = 10000
    said[500:800] = 99  # the tail Piper leaves, under 1 % of the peak
    said[300] = -20000
    assert last_sound(said) == 499
    assert last_sound(np.zeros(10, np.int16)) == -1


def test_a_clips_end_of_speech_is_the_commands_last_sound() -> None:
    wake = np.full(8000, 5000, np.int16)
    command = np.concatenate([np.full(4000, 6000, np.int16), np.full(3000, 30, np.int16)])
    command[3999] = -7000
    audio, end = clip(wake, command)
    assert audio[end] == -7000
    assert np.abs(audio[end + 1 :]).max() < 0.01 * 7000  # only room tone after it
    assert np.count_nonzero(np.abs(audio) >= 5000) == 8000 + 4000


def test_speech_is_looped_to_the_length_asked() -> None:
    said = np.full(RATE_HZ, 1000, np.int16)
    audio = looped(said, 5.0)
    assert len(audio) == 5 * RATE_HZ
    assert (audio[:RATE_HZ] == 1000).all()


def test_a_sample_is_recorded_when_the_frame_that_ends_with_it_is_delivered() -> None:
    source = PacedSource(np.zeros(4 * FRAME_SAMPLES, np.int16))
    source.started_at = 100.0
    assert source.recorded_at(FRAME_SAMPLES - 1) == pytest.approx(100.0)
    assert source.recorded_at(2 * FRAME_SAMPLES - 1) == pytest.approx(100.08)
    assert source.recorded_at(FRAME_SAMPLES + 319) == pytest.approx(100.08 - 0.06)


async def test_the_paced_source_delivers_every_sample_in_frames() -> None:
    samples = np.arange(FRAME_SAMPLES + 10, dtype=np.int16)
    async with asyncio.timeout(5), PacedSource(samples) as source:
        frames = [frame async for frame in source.frames()]
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert np.frombuffer(b"".join(frames), np.int16)[: len(samples)].tolist() == samples.tolist()


def test_a_turn_used_the_last_transcription_done_before_it_picked_one_up() -> None:
    calls = [(1.0, 2.0), (3.0, 4.0), (5.0, 9.0)]
    assert used_call(calls, 4.5) == (3.0, 4.0)
    assert used_call(calls, 9.0) == (5.0, 9.0)
    assert used_call(calls, 1.5) is None


def test_the_timed_transcriber_records_each_call_and_passes_the_prompt_on() -> None:
    fake = FakeStt("what time is it")
    ticks = itertools.count(10.0, 0.5)
    timed = TimedStt(fake, clock=lambda: next(ticks))
    timed.initial_prompt = "What time is it?"
    transcript = timed.transcribe(np.zeros(FRAME_SAMPLES, np.int16))
    assert transcript.text == "what time is it"
    assert fake.initial_prompt == "What time is it?"
    assert timed.calls == [(10.0, 10.5)]


def test_a_turns_figures_count_from_the_real_end_of_speech() -> None:
    marks = TurnMarks(spoken_end=10.0, decided=10.45, transcribed=10.6, transcription_s=0.3,
                      replied=10.61, first_audio=10.8, ended=12.0)
    assert turn_figures(marks) == {
        "wait_for_silence_s": 0.45, "end_of_speech_to_transcript_s": 0.6,
        "transcription_s": 0.3, "transcription_after_wait_s": 0.15, "intent_s": 0.01,
        "response_s": 0.8, "tts_first_audio_s": 0.19, "end_of_speech_to_first_audio_s": 0.8,
        "processing_s": 0.35,
    }


def test_an_early_transcript_done_within_the_wait_costs_nothing_after_it() -> None:
    marks = TurnMarks(spoken_end=10.0, decided=10.4, transcribed=10.3, transcription_s=0.12,
                      replied=10.402, first_audio=10.6, ended=12.0)
    figures = turn_figures(marks)
    assert figures["end_of_speech_to_transcript_s"] == 0.3
    assert figures["transcription_after_wait_s"] == 0.0
    assert figures["intent_s"] == 0.002


def test_a_command_answered_by_silence_is_measured_to_the_end_of_its_turn() -> None:
    marks = TurnMarks(spoken_end=10.0, decided=10.4, transcribed=10.5, transcription_s=0.1,
                      replied=10.51, first_audio=None, ended=10.52)
    figures = turn_figures(marks)
    assert figures["response_s"] == 0.52
    assert "end_of_speech_to_first_audio_s" not in figures


def test_a_turns_marks_come_from_its_own_events_timing_and_transcriptions() -> None:
    events = [
        ListeningStarted("button", "other", at=1.0),
        StageEnded("listen", "other", "speech-end", at=2.0),
        ListeningStarted("wake", "mine", at=9.0),
        StageEnded("listen", "mine", "speech-end", at=10.5),
        StageEnded("stt", "mine", at=10.7),
        StageEnded("intent", "mine", "GetTime", at=10.8),
        SessionEnded("mine", "answered", at=12.0),
    ]
    timing = Timing(end_of_speech=10.1, transcribed=10.6, recognized=10.7, first_audio=11.0)
    calls = [(10.25, 10.5), (10.875, 11.5)]  # the second: after the transcript was used
    assert turn_marks(events, timing, calls, spoken_end=10.0) == TurnMarks(
        10.0, 10.5, 10.5, 0.25, 10.8, 11.0, 12.0)
    assert turn_marks(events[:2], timing, calls, spoken_end=10.0) is None  # no wake word


def test_the_spread_is_the_median_and_the_range() -> None:
    assert spread([0.3, 0.1, 0.2]) == {"median": 0.2, "min": 0.1, "max": 0.3}
    assert all(math.isnan(v) for v in spread([]).values())


EXPECTED_INTENTS = {
    "What time is it?": "GetTime", "Set a timer for ten minutes, please.": "TimerSet",
    "How much time is left on the timer?": "TimerStatus", "Turn the volume down.": "VolumeDown",
    "Cancel the timer.": "TimerCancel", "What's the date today?": "GetDate", "Stop.": "Stop",
}


@pytest.mark.models
def test_the_quick_bench_hears_every_command_and_reports_each_figure() -> None:
    done = subprocess.run([sys.executable, "-m", "appliance", "bench", "--quick", "--json"],
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr
    core = json.loads(done.stdout)
    wake = core["wake"]
    assert (wake["silence_wakes"], wake["speech_wakes"]) == (0, 0)
    assert all(wake[k] > 0 for k in ("back_to_back_core_percent", "silence_core_percent",
                                     "speech_core_percent", "silence_engine_us_per_frame"))
    memory = core["peak_rss_mb"]
    assert set(memory) == {"models_loaded", "after_wake", "after_commands", "end"}
    assert memory["models_loaded"] <= memory["after_wake"] <= memory["end"]
    heard = core["end_of_command"]
    assert heard["turns"] == heard["woke"] == len(COMMANDS) == len(EXPECTED_INTENTS)
    turns = heard["per_turn"]
    assert {t["command"]: t["intent"] for t in turns} == EXPECTED_INTENTS
    stop = next(t for t in turns if t["intent"] == "Stop")
    assert stop["answer"] is None and "end_of_speech_to_first_audio_s" not in stop
    spoken = [t for t in turns if t["answer"]]
    assert len(spoken) == len(COMMANDS) - 1
    for t in turns:  # nothing is decided or recognised before the command has ended
        assert t["wait_for_silence_s"] >= 0 and t["end_of_speech_to_transcript_s"] > 0
    assert all(not math.isnan(heard[k]["median"]) for k in (
        "end_of_speech_to_first_audio_s", "wait_for_silence_s", "transcription_s",
        "tts_first_audio_s"))
