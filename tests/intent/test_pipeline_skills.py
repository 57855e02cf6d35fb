"""The skills in the real pipeline: a ring stopped by voice (saying nothing) and by a button."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.sink import WavSink
from appliance.clock import TEST_CLOCK_ENV
from appliance.daemon import load_pipeline
from appliance.events import Event, EventBus, SpeechFinished, State, StateChanged, UserEvent
from appliance.pipeline import Pipeline
from appliance.settings import load_settings

from ..conftest import Voices
from ..scripted import ScriptedMic
from .conftest import T0

pytestmark = pytest.mark.models


@pytest.fixture
def clock_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "clock"
    path.write_text(repr(T0))
    old = os.environ.get(TEST_CLOCK_ENV)
    os.environ[TEST_CLOCK_ENV] = str(path)
    try:
        yield path
    finally:
        if old is None:
            del os.environ[TEST_CLOCK_ENV]
        else:
            os.environ[TEST_CLOCK_ENV] = old


@pytest.fixture
async def pipeline(tmp_path: Path, clock_file: Path) -> AsyncIterator[Pipeline]:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []},
                                        "skills": {"state_dir": str(tmp_path / "state")}})
    p = await load_pipeline(settings, WavSink(None, realtime=True), EventBus())
    try:
        yield p
    finally:
        await p.close()


async def until(sub: object, match: object, timeout_s: float = 60) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(timeout_s):
        while True:
            event = await sub.get()  # type: ignore[attr-defined]
            seen.append(event)
            if callable(match) and match(event):
                return seen


def set_time(clock_file: Path, wall: float) -> None:
    """The time the daemon's clock reads (``APPLIANCE_TEST_CLOCK``)."""
    clock_file.write_text(repr(wall))


def user(kind: str) -> object:
    return lambda e: isinstance(e, UserEvent) and e.kind == kind


def state(new: State) -> object:
    return lambda e: isinstance(e, StateChanged) and e.new is new


async def test_ring_stopped_by_voice_then_by_button(
    pipeline: Pipeline, voices: Voices, clock_file: Path
) -> None:
    mic = ScriptedMic()
    wake, silence = voices.piper_pcm("Hey Jarvis."), np.zeros(8000, np.int16)
    with pipeline.events.subscribe() as sub:
        runner = asyncio.create_task(pipeline.run(mic))
        mic.say(silence, 0.3)
        mic.say(wake, 0.3)
        mic.say(voices.piper_pcm("Set a timer for ten seconds."), 1.5)
        await until(sub, state(State.SPEAKING))
        await until(sub, state(State.IDLE))
        assert pipeline.last_reply is not None
        assert pipeline.last_reply.text == "Timer set for ten seconds."
        set_time(clock_file, T0 + 11)
        await until(sub, user("timer_ringing"), 10)
        mic.say(silence, 1.5)
        mic.say(wake, 0.3)
        mic.say(voices.piper_pcm("Stop."), 1.5)
        events = await until(sub, user("timer_stopped"))
        events += await until(sub, state(State.IDLE))
        # "stop" silenced the ring and said nothing: no speaking state, no speech
        seen = [e.new for e in events if isinstance(e, StateChanged)]
        assert State.SPEAKING not in seen and State.THINKING in seen
        assert not [e for e in events if isinstance(e, SpeechFinished)]
        assert pipeline.last_reply.text == "Timer set for ten seconds."  # "repeat" still works

        mic.say(silence, 1.5)
        mic.say(wake, 0.3)
        mic.say(voices.piper_pcm("Set a timer for five seconds."), 1.5)
        await until(sub, state(State.SPEAKING))
        await until(sub, state(State.IDLE))
        set_time(clock_file, T0 + 30)
        await until(sub, user("timer_ringing"), 10)
        pipeline.stop()  # the button
        stopped = await until(sub, user("timer_stopped"), 5)
        assert isinstance(stopped[-1], UserEvent) and stopped[-1].data["reason"] == "stop"
        mic.close()
        await asyncio.wait_for(runner, 30)
