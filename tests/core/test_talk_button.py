"""Pressing the talk button runs the real voice loop without the wake word (issue 4 + core)."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ
from appliance.audio.sink import WavSink
from appliance.clock import FakeClock
from appliance.daemon import load_pipeline
from appliance.events import EventBus, ListeningStarted, State
from appliance.hardware import run_hardware
from appliance.hardware.led_backends import RecordingSink
from appliance.settings import load_settings

from ..conftest import Voices
from ..scripted import ScriptedMic, next_state, states

pytestmark = pytest.mark.models

# The time the answers tell (no test reads the wall clock): a Tuesday, at noon UTC.
NOON = 1_906_200_000.0


async def test_talk_button_answers_a_question_without_the_wake_word(voices: Voices) -> None:
    from gpiozero.pins.mock import MockFactory

    settings = load_settings(overrides={
        "intent": {"sentences_dirs": []},
        "hardware": {"profile": "custom", "custom": {"led_type": "dotstar", "led_count": 3},
                     "buttons": {"main": {"pin": 17}}},
    })
    sink = WavSink(None, realtime=True)
    pipeline = await load_pipeline(settings, sink, EventBus(), FakeClock(NOON))
    pins, leds, mic = MockFactory(), RecordingSink(), ScriptedMic()
    try:
        with pipeline.events.subscribe() as sub:
            runner = asyncio.create_task(pipeline.run(mic))
            hardware = asyncio.create_task(
                run_hardware(settings.hardware, pipeline, pipeline.clock, pin_factory=pins,
                             sink=leds))
            mic.say(np.zeros(8000, np.int16))
            await next_state(sub, State.IDLE)
            pins.pin(17).drive_low()
            await asyncio.sleep(0.1)
            pins.pin(17).drive_high()
            events = await next_state(sub, State.LISTENING)
            mic.say(np.zeros(int(pipeline.stages.player.chime_s * RATE_HZ), np.int16))
            mic.say(voices.piper_pcm("What time is it?"), 1.5)
            events += await next_state(sub, State.SPEAKING)
            events += await next_state(sub, State.IDLE)
            mic.close()
            await asyncio.wait_for(runner, 30)
    finally:
        hardware.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(hardware, 5)
        await pipeline.close()
        pins.reset()
    assert [e.source for e in events if isinstance(e, ListeningStarted)] == ["button"]
    assert states(events) == ["listening", "thinking", "speaking", "idle"]
    assert pipeline.last_reply is not None and pipeline.last_reply.text == "It's twelve o'clock PM."
    assert leds.frames, "the LEDs showed nothing"
    assert leds.frames[-1] == ((0, 0, 0),) * 3  # off after shutdown
