"""The satellite's side of the ESPHome API on fake stages: entities, commands, Home Assistant
mode (answered there, and every way it may fail: never accepting, going away, an error, no
audio), announcements, Home Assistant's timers and the media player.

Home Assistant is a hand-written :class:`FakeHa` connection here (what it is sent, and the
messages a test answers with); its answers' audio is served over HTTP on loopback by a real
server. The same flows run with aioesphomeapi's own client in ``test_satellite_client.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from google.protobuf.message import Message

from appliance.controller import Recognition, Reply
from appliance.esphome.chosen import ChosenMode
from appliance.esphome.device import (
    ANSWERED_BY,
    HEARD,
    MEDIA_PLAYER,
    MUTE,
    NEXT_TIMER,
    THRESHOLD,
    Identity,
    Satellite,
)
from appliance.esphome.messages import pb
from appliance.esphome.voice import OUTAGE_NOTICE, HaVoice
from appliance.events import State, TranscriptReady, UserEvent
from appliance.pipeline import Pipeline
from appliance.skills.ring import Ringing
from tests.core.fakes import (
    Fakes,
    fake_pipeline,
    fake_settings,
    silence,
    speech_frames,
    wake_frames,
)
from tests.scripted import ScriptedMic, next_state

from .conftest import wait_until

Ev = pb.VoiceAssistantEvent


class FakeHa:
    """Home Assistant's connection: records what the speaker sends it."""

    peer = "127.0.0.1:1"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.is_open = True
        self.arrived = asyncio.Event()

    def send(self, *messages: Message) -> None:
        self.sent.extend(messages)
        self.arrived.set()

    def of(self, name: str) -> list[Any]:
        return [m for m in self.sent if type(m).__name__ == name]

    async def wait_for(self, name: str, count: int = 1, timeout_s: float = 5) -> list[Any]:
        async with asyncio.timeout(timeout_s):
            while len(self.of(name)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(name)


class Local:
    """The local skills: answer every intent by name, recording them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        self.calls.append(recognition.name)
        return Reply(f"Local answer to {recognition.name}.")


def make(mode: str = "home-assistant", chosen: ChosenMode | None = None,
         **esphome: Any) -> tuple[Pipeline, Fakes, Satellite, Local]:
    base = fake_settings(thinking_timeout_s=5, speaking_timeout_s=5)
    settings = replace(base, listen=replace(base.listen, chime=False),
                       esphome=replace(base.esphome, enabled=True, mode=mode,
                                       ha_start_timeout_s=0.3, ha_answer_timeout_s=2.0,
                                       **esphome))
    pipeline, fakes = fake_pipeline(settings=settings)
    voice = HaVoice(settings.esphome, chosen)
    pipeline.remote = voice
    local = Local()
    pipeline.add_intent_handler(local)
    satellite = Satellite(pipeline, voice, Identity("kitchen", "Kitchen", "02:00:00:00:00:01",
                                                    "0.1.0"))
    return pipeline, fakes, satellite, local


@contextlib.asynccontextmanager
async def running(pipeline: Pipeline, satellite: Satellite) -> AsyncIterator[ScriptedMic]:
    mic = ScriptedMic()
    task = asyncio.create_task(pipeline.run(mic), name="frames")
    events = asyncio.create_task(satellite.follow_events(), name="esphome-events")
    try:
        with pipeline.events.subscribe() as sub:
            mic.say(silence(0.24))
            await next_state(sub, State.IDLE, 5)
        yield mic
    finally:
        pipeline.stop()  # (a turn still listening would wait for frames that never come)
        mic.close()
        events.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        with contextlib.suppress(asyncio.CancelledError):
            await events
        await pipeline.close()


async def connect(satellite: Satellite) -> tuple[FakeHa, Any]:
    """Home Assistant connects the way it does: states, then the voice assistant."""
    ha = FakeHa()
    session = satellite.session(ha)
    await session.handle(pb.SubscribeStatesRequest())
    await session.handle(pb.SubscribeVoiceAssistantRequest(subscribe=True, flags=4))
    return ha, session


def command(mic: ScriptedMic) -> None:
    mic.say(wake_frames())
    mic.say(speech_frames(0.8))
    mic.say(silence(1.0))


async def accept(ha: FakeHa, session: Any, frames: int = 3) -> None:
    """Home Assistant accepts the run, and the command's first frames arrive."""
    await ha.wait_for("VoiceAssistantRequest")
    await session.handle(pb.VoiceAssistantResponse(port=0))
    await ha.wait_for("VoiceAssistantAudio", frames)


async def ha_answers(ha: FakeHa, session: Any, url: str, *, text: str = "Turned on the light.",
                     follow_up: bool = False) -> None:
    """What Home Assistant's pipeline sends for one run that understood the command."""
    await accept(ha, session, 12)  # ~1 s: the preroll, the wake word, speech

    def event(kind: int, **data: str) -> Any:
        return pb.VoiceAssistantEventResponse(event_type=kind, data=[
            pb.VoiceAssistantEventData(name=k, value=v) for k, v in data.items()])

    for message in (
        event(Ev.VOICE_ASSISTANT_RUN_START),
        event(Ev.VOICE_ASSISTANT_STT_VAD_END),
        event(Ev.VOICE_ASSISTANT_STT_END, text="turn on the kitchen light"),
        event(Ev.VOICE_ASSISTANT_INTENT_END, conversation_id="c1",
              continue_conversation="1" if follow_up else "0"),
        event(Ev.VOICE_ASSISTANT_TTS_START, text=text),
        event(Ev.VOICE_ASSISTANT_TTS_END, url=url),
        event(Ev.VOICE_ASSISTANT_RUN_END),
    ):
        await session.handle(message)


# -- entities and commands ----------------------------------------------------------------------


async def test_the_entities_and_their_states_are_listed() -> None:
    pipeline, _, satellite, _ = make()
    ha = FakeHa()
    session = satellite.session(ha)
    await session.handle(pb.DeviceInfoRequest())
    info = ha.of("DeviceInfoResponse")[0]
    assert (info.name, info.friendly_name, info.mac_address) == ("kitchen", "Kitchen",
                                                                 "02:00:00:00:00:01")
    assert info.voice_assistant_feature_flags & 1 and info.voice_assistant_feature_flags & 4
    await session.handle(pb.ListEntitiesRequest())
    names = [type(m).__name__ for m in ha.sent[1:]]
    assert names[-1] == "ListEntitiesDoneResponse"
    assert {"ListEntitiesMediaPlayerResponse", "ListEntitiesSwitchResponse",
            "ListEntitiesSelectResponse", "ListEntitiesNumberResponse",
            "ListEntitiesTextSensorResponse"} <= set(names)
    player = ha.of("ListEntitiesMediaPlayerResponse")[0]
    assert [f.format for f in player.supported_formats] == ["wav", "wav"]
    await session.handle(pb.SubscribeStatesRequest())
    states: dict[int, Any] = {m.key: m for m in ha.sent
                              if hasattr(m, "key") and "State" in type(m).__name__}
    assert states[MEDIA_PLAYER].volume == pytest.approx(pipeline.volume / 100)
    assert states[MUTE].state is False
    assert states[ANSWERED_BY].state == "Home Assistant"
    assert states[THRESHOLD].state == pytest.approx(pipeline.wake_threshold)
    assert states[HEARD].missing_state
    await pipeline.close()


async def test_commands_from_home_assistant_change_the_speaker_and_are_reported_back() -> None:
    pipeline, _, satellite, _ = make(mode="local")
    async with running(pipeline, satellite):
        ha, session = await connect(satellite)
        ha.sent.clear()
        await session.handle(pb.SwitchCommandRequest(key=MUTE, state=True))
        await session.handle(pb.MediaPlayerCommandRequest(key=MEDIA_PLAYER, has_volume=True,
                                                          volume=0.35))
        await session.handle(pb.NumberCommandRequest(key=THRESHOLD, state=0.3))
        await session.handle(pb.SelectCommandRequest(key=ANSWERED_BY, state="Home Assistant"))
        await session.handle(pb.SelectCommandRequest(key=ANSWERED_BY, state="nonsense"))
        assert pipeline.muted and pipeline.volume == 35
        assert pipeline.wake_threshold == pytest.approx(0.3)
        assert satellite.voice.mode == "home-assistant"
        await ha.wait_for("MediaPlayerStateResponse")
        await ha.wait_for("SwitchStateResponse")
        assert ha.of("SwitchStateResponse")[-1].state is True
        assert ha.of("SelectStateResponse")[-1].state == "Home Assistant"
        assert ha.of("MediaPlayerStateResponse")[-1].volume == pytest.approx(0.35)


async def test_the_wake_word_is_chosen_through_the_voice_assistant_configuration() -> None:
    pipeline, _, satellite, _ = make()
    ha = FakeHa()
    session = satellite.session(ha)
    await session.handle(pb.VoiceAssistantConfigurationRequest())
    config = ha.of("VoiceAssistantConfigurationResponse")[0]
    assert [w.id for w in config.available_wake_words] == ["hey_jarvis", "alexa"]
    assert config.available_wake_words[0].wake_word == "Hey Jarvis"
    await session.handle(pb.VoiceAssistantSetConfiguration(active_wake_words=["alexa"]))
    await session.handle(pb.VoiceAssistantSetConfiguration(active_wake_words=["unknown"]))
    assert pipeline.active_wake_word == "alexa"
    await pipeline.close()


async def test_a_second_home_assistant_cannot_take_the_voice_assistant() -> None:
    _, _, satellite, _ = make()
    first, second = FakeHa(), FakeHa()
    assert satellite.voice.subscribe(first, 4)
    assert not satellite.voice.subscribe(second, 4)
    assert not satellite.voice.subscribe(first, 0)  # audio over UDP: not offered
    satellite.voice.unsubscribe(first)
    assert satellite.voice.subscribe(second, 4)


# -- turns in Home Assistant mode -----------------------------------------------------------------


async def test_a_turn_in_home_assistant_mode_is_answered_by_home_assistant(media_url: str) -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await ha_answers(ha, session, f"{media_url}/answer.wav")
            events = await next_state(sub, State.IDLE, 5)
        request = ha.of("VoiceAssistantRequest")[0]
        assert request.start and request.wake_word_phrase == "hey jarvis"
        audio = ha.of("VoiceAssistantAudio")
        assert sum(len(a.data) for a in audio) > 16000  # the command's audio, preroll first
        assert not any(a.end for a in audio[:-1])
        assert [e.text for e in events if isinstance(e, TranscriptReady)] == [
            "turn on the kitchen light"]
        assert local.calls == [] and fakes.player.spoken == []
        assert len(fakes.player.played) == 1  # Home Assistant's own audio
        assert len(fakes.player.played[0][0]) == pytest.approx(0.3 * 22050, rel=0.05)
        assert ha.of("VoiceAssistantAnnounceFinished")[0].success
        assert satellite.texts[HEARD] == "turn on the kitchen light"
        assert not any(m.start is False for m in ha.of("VoiceAssistantRequest")[1:])


async def test_home_assistant_asking_back_listens_again_in_the_same_conversation(
        media_url: str) -> None:
    pipeline, _, satellite, _ = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await ha_answers(ha, session, f"{media_url}/answer.wav", text="Which room?",
                             follow_up=True)
            await next_state(sub, State.LISTENING, 5)
            await ha.wait_for("VoiceAssistantRequest", 2)
            assert ha.of("VoiceAssistantRequest")[1].conversation_id == "c1"


async def test_home_assistant_never_accepting_is_answered_here_and_said_once() -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        await connect(satellite)  # subscribed, but it never answers anything
        for _ in range(2):
            with pipeline.events.subscribe() as sub:
                command(mic)
                await next_state(sub, State.IDLE, 5)
        assert local.calls == ["GetTime", "GetTime"]
        assert fakes.player.spoken == [f"{OUTAGE_NOTICE} Local answer to GetTime.",
                                       "Local answer to GetTime."]


async def test_without_home_assistant_connected_the_turn_is_answered_here() -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.IDLE, 5)
    assert local.calls == ["GetTime"]
    assert fakes.player.spoken[0].startswith(OUTAGE_NOTICE)


async def test_home_assistant_going_away_mid_turn_is_answered_here_and_rests() -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await accept(ha, session)
            ha.is_open = False
            session.closed()
            await next_state(sub, State.IDLE, 5)
        assert local.calls == ["GetTime"]
        assert fakes.player.spoken[0].startswith(OUTAGE_NOTICE)
        assert satellite.voice.run is None and satellite.sessions == []


async def test_an_error_from_home_assistant_is_answered_here_without_the_outage_notice() -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await accept(ha, session, 1)
            await session.handle(pb.VoiceAssistantEventResponse(
                event_type=Ev.VOICE_ASSISTANT_ERROR, data=[
                    pb.VoiceAssistantEventData(name="code", value="stt-no-text-recognized")]))
            await next_state(sub, State.IDLE, 5)
        assert fakes.player.spoken == ["Local answer to GetTime."]
        assert local.calls == ["GetTime"]


async def test_an_answer_whose_audio_cannot_be_had_is_said_with_the_local_voice(
        media_url: str) -> None:
    pipeline, fakes, satellite, local = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await ha_answers(ha, session, f"{media_url}/missing", text="Turned on the light.")
            await next_state(sub, State.IDLE, 5)
        assert fakes.player.spoken == ["Turned on the light."] and local.calls == []


async def test_in_local_mode_home_assistant_is_not_asked_but_sees_what_was_heard() -> None:
    pipeline, fakes, satellite, local = make(mode="local")
    async with running(pipeline, satellite) as mic:
        ha, _ = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.IDLE, 5)
        assert ha.of("VoiceAssistantRequest") == [] and local.calls == ["GetTime"]
        heard = [m for m in ha.of("TextSensorStateResponse") if m.key == HEARD]
        assert heard[-1].state == "what time is it"
        assert fakes.player.spoken == ["Local answer to GetTime."]


async def test_stop_during_a_home_assistant_turn_aborts_its_run() -> None:
    pipeline, _, satellite, _ = make()
    async with running(pipeline, satellite) as mic:
        ha, session = await connect(satellite)
        mic.say(wake_frames())
        mic.say(speech_frames(0.3))
        await ha.wait_for("VoiceAssistantRequest")
        await session.handle(pb.VoiceAssistantResponse(port=0))
        pipeline.stop()
        requests = await ha.wait_for("VoiceAssistantRequest", 2)
        assert requests[-1].start is False


# -- announcements, timers, media ----------------------------------------------------------------


async def test_an_announcement_plays_the_preannounce_sound_then_the_media(media_url: str) -> None:
    pipeline, fakes, satellite, _ = make()
    async with running(pipeline, satellite):
        ha, session = await connect(satellite)
        await session.handle(pb.VoiceAssistantAnnounceRequest(
            media_id=f"{media_url}/answer.wav", text="Dinner is ready",
            preannounce_media_id=f"{media_url}/chime.wav"))
        finished = await ha.wait_for("VoiceAssistantAnnounceFinished")
        assert finished[0].success
        assert len(fakes.player.played[0][0]) == pytest.approx(0.4 * 22050, rel=0.05)
        states = [m.state for m in ha.of("MediaPlayerStateResponse")]
        assert pb.MEDIA_PLAYER_STATE_ANNOUNCING in states


async def test_an_announcement_without_media_says_its_text_and_may_start_a_conversation() -> None:
    pipeline, fakes, satellite, _ = make(mode="local")
    async with running(pipeline, satellite):
        ha, session = await connect(satellite)
        with pipeline.events.subscribe() as sub:
            await session.handle(pb.VoiceAssistantAnnounceRequest(
                media_id="http://127.0.0.1:9/nothing.wav", text="Shall I close the blinds?",
                start_conversation=True))
            await next_state(sub, State.LISTENING, 5)
        assert fakes.player.spoken == ["Shall I close the blinds?"]
        assert (await ha.wait_for("VoiceAssistantAnnounceFinished"))[0].success


async def test_a_media_url_that_is_not_http_is_refused(media_url: str) -> None:
    pipeline, fakes, satellite, _ = make()
    async with running(pipeline, satellite):
        ha, session = await connect(satellite)
        await session.handle(pb.VoiceAssistantAnnounceRequest(media_id="file:///etc/shadow"))
        finished = await ha.wait_for("VoiceAssistantAnnounceFinished")
        assert not finished[0].success and fakes.player.played == []


class FakeRinger:
    def __init__(self) -> None:
        self.started: list[Ringing] = []

    def start(self, item: Ringing) -> None:
        self.started.append(item)


class Installed:
    def __init__(self, ringer: FakeRinger) -> None:
        self.skills = type("Skills", (), {"ringer": ringer})()

    async def uninstall(self) -> None:
        pass


async def test_home_assistant_timers_ring_here_when_they_finish() -> None:
    pipeline, _, satellite, _ = make()
    ringer = FakeRinger()
    pipeline.extensions["skills"] = Installed(ringer)
    T = pb.VoiceAssistantTimerEvent
    for kind in (T.VOICE_ASSISTANT_TIMER_STARTED, T.VOICE_ASSISTANT_TIMER_FINISHED):
        satellite.timer_event(pb.VoiceAssistantTimerEventResponse(
            event_type=kind, timer_id="t1", name="pizza", total_seconds=60, seconds_left=0))
    satellite.timer_event(pb.VoiceAssistantTimerEventResponse(
        event_type=T.VOICE_ASSISTANT_TIMER_STARTED, timer_id="t2", name="", seconds_left=9))
    satellite.timer_event(pb.VoiceAssistantTimerEventResponse(
        event_type=T.VOICE_ASSISTANT_TIMER_CANCELLED, timer_id="t2"))
    assert ringer.started == [Ringing("timer", "ha-t1", "The pizza timer is done.")]
    assert satellite.ha_timers == {}
    await pipeline.close()


async def test_our_own_next_timer_is_a_timestamp_home_assistant_sees() -> None:
    pipeline, _, satellite, _ = make()
    async with running(pipeline, satellite):
        ha, _ = await connect(satellite)
        pipeline.events.publish(UserEvent("next_timer", {"at": "2026-12-01T18:05:00+00:00"}))
        await ha.wait_for("TextSensorStateResponse", 6)
        timers = [m for m in ha.of("TextSensorStateResponse") if m.key == NEXT_TIMER]
        assert timers[-1].state == "2026-12-01T18:05:00+00:00"
        pipeline.events.publish(UserEvent("next_timer", {"at": None}))
        await ha.wait_for("TextSensorStateResponse", 7)
        assert ha.of("TextSensorStateResponse")[-1].missing_state


async def test_media_plays_streamed_ducks_while_the_assistant_is_busy_and_stops(
        media_url: str) -> None:
    pipeline, fakes, satellite, _ = make()
    async with running(pipeline, satellite):
        ha, session = await connect(satellite)
        await session.handle(pb.MediaPlayerCommandRequest(
            key=MEDIA_PLAYER, has_media_url=True, media_url=f"{media_url}/long.wav"))
        states = await ha.wait_for("MediaPlayerStateResponse", 2)
        assert states[-1].state == pb.MEDIA_PLAYER_STATE_PLAYING
        await wait_until(lambda: satellite.media.state == pb.MEDIA_PLAYER_STATE_IDLE)
        assert sum(n for n, _ in fakes.player.streamed) == pytest.approx(3 * 22050, rel=0.02)
        assert {v for _, v in fakes.player.streamed} == {pipeline.volume}
        pipeline.start_listening("button")
        assert satellite.media._volume() == round(pipeline.volume * 0.25)
        satellite.media.speaker_muted = True
        assert satellite.media._volume() == 0
