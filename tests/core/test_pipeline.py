"""The pipeline on real models: state sequence, barge-in, stop, mute, follow-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from appliance.audio.format import Int16Array
from appliance.audio.sink import WavSink
from appliance.clock import FakeClock
from appliance.controller import Recognition, Reply
from appliance.daemon import load_pipeline
from appliance.events import (
    EventBus,
    SessionEnded,
    SpeechFinished,
    State,
    StateChanged,
    TranscriptReady,
)
from appliance.pipeline import Pipeline
from appliance.settings import load_settings

from ..conftest import Voices
from ..scripted import ScriptedMic, next_event, next_state, states

pytestmark = pytest.mark.models

# The time the answers tell (no test reads the wall clock): a Tuesday, at noon UTC.
NOON = 1_906_200_000.0


@pytest.fixture(scope="module")
def speech(voices: Voices) -> dict[str, Int16Array]:
    return {t: voices.piper_pcm(t) for t in
            ("Hey Jarvis.", "What time is it?", "What can you do?")}


@pytest.fixture
def sink() -> WavSink:
    return WavSink(None, realtime=True)


@pytest.fixture
async def pipeline(sink: WavSink) -> AsyncIterator[Pipeline]:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    p = await load_pipeline(settings, sink, EventBus(), FakeClock(NOON))
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def mic() -> Iterator[ScriptedMic]:
    m = ScriptedMic()
    yield m
    m.close()


async def test_a_question_goes_through_every_state(
    pipeline: Pipeline, mic: ScriptedMic, speech: dict[str, Int16Array], sink: WavSink
) -> None:
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic))
        mic.say(np.zeros(4000, np.int16), 0.5)
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(speech["What time is it?"], 1.5)
        events = await next_state(sub, State.SPEAKING)
        events += await next_state(sub, State.IDLE)
        mic.close()
        await asyncio.wait_for(runner, 30)
    assert states(events) == ["idle", "wake", "listening", "thinking", "speaking", "idle"]
    assert sink.pcm().duration_s > 1.0  # chime + answer
    assert pipeline.last_reply is not None and pipeline.last_reply.text == "It's twelve o'clock PM."
    ended = [e for e in events if isinstance(e, SessionEnded)]
    assert [e.reason for e in ended] == ["answered"]


async def test_wake_word_while_speaking_cancels_the_answer(
    pipeline: Pipeline, mic: ScriptedMic, speech: dict[str, Int16Array]
) -> None:
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic))
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(speech["What can you do?"], 1.0)
        await next_state(sub, State.SPEAKING)
        await asyncio.sleep(0.3)
        mic.say(np.zeros(16000, np.int16), 1.2)  # past the refractory period
        mic.say(speech["Hey Jarvis."], 0.2)
        events = await next_state(sub, State.LISTENING)
        mic.say(np.zeros(16000, np.int16), 5.0)  # then nothing is said
        events += await next_state(sub, State.IDLE)
        mic.close()
        await asyncio.wait_for(runner, 30)
    assert states(events)[:2] == ["wake", "listening"]
    finished = [e for e in events if isinstance(e, SpeechFinished)]
    assert finished and finished[0].cancelled
    reasons = [e.reason for e in events if isinstance(e, SessionEnded)]
    assert reasons == ["cancelled", "no-speech"]


async def test_stop_while_speaking_and_mute_ignores_the_wake_word(
    pipeline: Pipeline, mic: ScriptedMic, speech: dict[str, Int16Array], sink: WavSink
) -> None:
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic))
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(speech["What can you do?"], 1.0)
        await next_state(sub, State.SPEAKING)
        pipeline.stop()
        assert pipeline.state is State.IDLE
        finished = await next_event(sub, SpeechFinished)
        assert isinstance(finished, SpeechFinished) and finished.cancelled
        pipeline.set_muted(True)
        played = sink.pcm().duration_s
        mic.say(np.zeros(8000, np.int16), 2.5)
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(speech["What time is it?"], 1.5)
        mic.close()
        await asyncio.wait_for(runner, 30)
        assert pipeline.muted
        assert sink.pcm().duration_s == played
        rest = [sub.get_nowait() for _ in range(50)]
    assert "wake" not in states([e for e in rest if e is not None])


class AskAgain:
    """A handler that asks a question back once (conversation follow-up)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        self.calls.append(recognition.name)
        if recognition.name == "GetTime" and len(self.calls) == 1:
            return Reply("Which time zone?", follow_up=True)
        return None


async def test_follow_up_listens_again_without_the_wake_word(
    mic: ScriptedMic, speech: dict[str, Int16Array], sink: WavSink
) -> None:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    pipeline = await load_pipeline(settings, sink, EventBus(), FakeClock(NOON))
    handler = AskAgain()
    pipeline.add_intent_handler(handler, 0)
    try:
        with pipeline.events.subscribe() as sub:
            runner = asyncio.create_task(pipeline.run(mic))
            mic.say(speech["Hey Jarvis."], 0.3)
            mic.say(speech["What time is it?"], 1.0)
            events = await next_state(sub, State.SPEAKING)
            events += await next_state(sub, State.LISTENING)
            mic.say(np.zeros(16000, np.int16), 0.5)
            mic.say(speech["What time is it?"], 1.5)
            events += await next_state(sub, State.SPEAKING)
            events += await next_state(sub, State.IDLE)
            mic.close()
            await asyncio.wait_for(runner, 30)
    finally:
        await pipeline.close()
    assert states(events) == ["idle", "wake", "listening", "thinking", "speaking", "listening",
                              "thinking", "speaking", "idle"]
    assert handler.calls == ["GetTime", "GetTime"]


async def test_say_is_cut_by_stop_and_cancelled_with_its_caller(pipeline: Pipeline) -> None:
    long_text = "This announcement is long enough to be interrupted. " * 3
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic := ScriptedMic()))
        mic.say(np.zeros(8000, np.int16))
        await next_state(sub, State.IDLE)
        said = asyncio.create_task(pipeline.say(long_text))
        await next_state(sub, State.SPEAKING)
        pipeline.stop()
        await asyncio.wait_for(said, 5)  # returns: the announcement was stopped
        said = asyncio.create_task(pipeline.say(long_text))
        await next_state(sub, State.SPEAKING)
        said.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(said, 5)
        events = await next_state(sub, State.IDLE, 5)
        mic.close()
        await asyncio.wait_for(runner, 30)
    assert pipeline.state is State.IDLE
    assert [e.reason for e in events if isinstance(e, StateChanged)] == ["announcement cancelled"]


async def test_a_sentence_not_understood_is_heard_again_in_whispers_full_window(
    pipeline: Pipeline, mic: ScriptedMic, speech: dict[str, Int16Array], voices: Voices,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="appliance.turn")
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic))
        mic.say(np.zeros(4000, np.int16), 0.5)
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(speech["What time is it?"], 1.5)  # understood: one transcription
        events = await next_state(sub, State.IDLE)
        events += await next_state(sub, State.IDLE)
        mic.say(speech["Hey Jarvis."], 0.3)
        mic.say(voices.piper_pcm("The garden looks lovely today."), 1.5)  # never understood
        events += await next_state(sub, State.SPEAKING)
        events += await next_state(sub, State.IDLE)
        mic.close()
        await asyncio.wait_for(runner, 30)
    retries = [r.getMessage() for r in caplog.records if "full window" in r.getMessage()]
    assert len(retries) == 1, retries
    assert "garden" in retries[0]
    heard = [e.text for e in events if isinstance(e, TranscriptReady)]
    assert len(heard) == 2  # the retry's transcript replaces the first, it is not sent twice
    assert "garden" in heard[1].lower()
    assert pipeline.last_reply is not None
    assert pipeline.last_reply.text == "Sorry, I didn't understand."
