"""A reload goes through the pipeline and keeps what the user chose over MQTT (a real broker,
the real pipeline on fake stages: no model is loaded)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

from appliance.events import State
from appliance.mqtt.service import MqttService
from appliance.pipeline import Pipeline
from appliance.settings import Settings, WakeModelSettings
from tests.core.fakes import (
    FakeWake,
    fake_pipeline,
    fake_settings,
    silence,
    speech_frames,
    wake_frames,
)
from tests.mqtt.broker import Mosquitto
from tests.mqtt.helpers import mqtt_settings, recording_client, running, text
from tests.scripted import ScriptedMic, next_state


def quiet() -> Settings:
    settings = fake_settings()
    return replace(settings, listen=replace(settings.listen, chime=False))


@contextlib.asynccontextmanager
async def listening_to(pipeline: Pipeline) -> AsyncIterator[ScriptedMic]:
    mic = ScriptedMic()
    task = asyncio.create_task(pipeline.run(mic), name="frames")
    try:
        yield mic
    finally:
        mic.close()
        await asyncio.wait_for(task, 5)


async def heard_frames(pipeline: Pipeline, mic: ScriptedMic, stt_calls: list[object]) -> int:
    """Speech before the wake word, then a command: how many speech frames Whisper got."""
    with pipeline.events.subscribe() as sub:
        mic.say(speech_frames(1.2))
        mic.say(wake_frames())
        mic.say(speech_frames(0.8))
        mic.say(silence(0.6))
        await next_state(sub, State.SPEAKING, 5)
        await next_state(sub, State.IDLE, 5)
    return stt_calls[-1].speech_frames  # type: ignore[attr-defined, no-any-return]


async def test_a_reload_keeps_the_threshold_word_and_volume_chosen_over_mqtt(
    broker: Mosquitto,
) -> None:
    settings = quiet()
    pipeline, fakes = fake_pipeline(settings=settings)
    service = MqttService(mqtt_settings(broker.port), pipeline)
    t = service.topics
    async with recording_client(broker.port) as rec, running(service, rec):
        await rec.client.publish(t.sub("wake/threshold/set"), "0.7")
        await rec.client.publish(t.sub("wake/word/set"), "alexa")
        await rec.client.publish(t.sub("volume/set"), "35")
        await rec.wait_for(t.sub("wake/threshold"), lambda m: text(m) == "0.7")
        await rec.wait_for(t.sub("wake/word"), lambda m: text(m) == "alexa")
        await rec.wait_for(t.sub("volume"), lambda m: text(m) == "35")

        # An unrelated section changes: nothing is rebuilt, nothing chosen is lost.
        unrelated = replace(settings, logging=replace(settings.logging, level="debug"))
        pipeline.reload(unrelated, fakes.stages())
        assert (pipeline.wake_threshold, pipeline.active_wake_word) == (0.7, "alexa")

        # [wake] changes (not its thresholds): a new wake stage, the choices carried over.
        wake_changed = replace(unrelated, wake=replace(unrelated.wake, refractory_s=3.0))
        new_wake = FakeWake()
        pipeline.reload(wake_changed, replace(fakes.stages(), wake=new_wake))
        assert pipeline.stages.wake is new_wake
        assert new_wake.active == "alexa" and new_wake.thresholds["alexa"] == 0.7
        assert pipeline.volume == 35

        # The file now sets the threshold itself: the file wins from here on.
        models = (WakeModelSettings("hey_jarvis", 0.4), WakeModelSettings("alexa", 0.4))
        configured = replace(wake_changed, wake=replace(wake_changed.wake, models=models))
        newest = FakeWake(threshold=0.4)
        pipeline.reload(configured, replace(fakes.stages(), wake=newest))
        assert newest.thresholds["alexa"] == 0.4 and newest.active == "alexa"
    await pipeline.close()


async def test_a_new_preroll_s_takes_effect_on_reload() -> None:
    settings = quiet()
    pipeline, fakes = fake_pipeline(settings=settings)
    async with listening_to(pipeline) as mic:
        before = await heard_frames(pipeline, mic, fakes.stt.calls)  # type: ignore[arg-type]
        longer = replace(settings, listen=replace(settings.listen, preroll_s=0.8))
        pipeline.reload(longer, fakes.stages())
        after = await heard_frames(pipeline, mic, fakes.stt.calls)  # type: ignore[arg-type]
    await pipeline.close()
    # 0.24 s = 3 frames of pre-roll (2 of speech + the wake frame); 0.8 s = 10 (9 + 1).
    assert after - before == 9 - 2


async def test_mute_survives_a_reload_that_rebuilds_every_stage() -> None:
    settings = quiet()
    pipeline, fakes = fake_pipeline(settings=settings)
    async with listening_to(pipeline) as mic:
        mic.say(silence(0.24))
        with pipeline.events.subscribe() as sub:
            await next_state(sub, State.IDLE, 5)
        pipeline.set_muted(True)
        fresh = fake_pipeline()[1]
        pipeline.reload(settings, fresh.stages())
        mic.say(wake_frames())
        mic.say(silence(0.5))
        await asyncio.sleep(0.1)
        assert pipeline.muted and pipeline.state is State.MUTED
    await pipeline.close()
    assert fakes.player.closed  # the replaced player was released
    assert fresh.player.volume == fakes.player.volume
