"""Home Assistant's own client library against the satellite: aioesphomeapi's ``APIClient``
talks to the real server and device layer over loopback, on fake stages (no model loaded).

What Home Assistant's ESPHome integration does with a voice device, call for call: device info
with the voice assistant flags, the entities and their states, the voice assistant subscription
and a whole Home Assistant-mode turn, an announcement it awaits, a timer, mute and volume, and
the client going away in the middle of a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioesphomeapi.client import APIClient
from aioesphomeapi.model import (
    MediaPlayerInfo,
    NumberInfo,
    SelectInfo,
    SwitchInfo,
    TextSensorInfo,
    VoiceAssistantAudioSettings,
    VoiceAssistantEventType,
    VoiceAssistantFeature,
    VoiceAssistantTimerEventType,
)

from appliance.esphome.connection import Limits
from appliance.esphome.device import MEDIA_PLAYER, MUTE, Satellite
from appliance.esphome.server import ApiServer
from appliance.events import State
from appliance.pipeline import Pipeline
from tests.core.fakes import Fakes
from tests.scripted import ScriptedMic, next_state

from .conftest import TIMEOUT_S, esphome_settings, wait_until
from .test_satellite import command, make, running


class Ha:
    """The calls Home Assistant's assist satellite makes, recorded."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.starts: list[tuple[str, int, str | None]] = []
        self.audio = bytearray()
        self.stops: list[bool] = []
        self.finished: list[bool] = []
        self.started = asyncio.Event()

    async def handle_start(self, conversation_id: str, flags: int,
                           audio_settings: VoiceAssistantAudioSettings,
                           wake_word_phrase: str | None) -> int | None:
        self.starts.append((conversation_id, flags, wake_word_phrase))
        self.started.set()
        return 0  # audio over the API

    async def handle_stop(self, abort: bool) -> None:
        self.stops.append(abort)

    async def handle_audio(self, data: bytes, data2: bytes | None = None) -> None:
        self.audio += data

    async def handle_announcement_finished(self, finished: Any) -> None:
        self.finished.append(finished.success)

    def subscribe(self) -> None:
        self.client.subscribe_voice_assistant(
            handle_start=self.handle_start, handle_stop=self.handle_stop,
            handle_audio=self.handle_audio,
            handle_announcement_finished=self.handle_announcement_finished)


@contextlib.asynccontextmanager
async def satellite_served(mode: str = "home-assistant", **esphome: Any
                           ) -> AsyncIterator[tuple[Pipeline, Fakes, Satellite, ScriptedMic,
                                                    APIClient]]:
    pipeline, fakes, satellite, _ = make(mode, **esphome)
    settings = esphome_settings(mode=mode)
    server = ApiServer(settings, satellite.session, server_info="appliance test",
                       mac=satellite.identity.mac, limits=Limits())
    task = asyncio.create_task(server.run(), name="esphome server")
    async with running(pipeline, satellite) as mic:
        await server.started()
        client = APIClient("127.0.0.1", server.port, None)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await client.connect(login=True)
            yield pipeline, fakes, satellite, mic, client
        finally:
            await client.disconnect(force=True)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_home_assistant_sees_a_voice_device_with_its_entities_and_states() -> None:
    async with satellite_served() as (pipeline, _, _, _, client):
        info = await client.device_info()
        assert client.api_version is not None
        flags = info.voice_assistant_feature_flags_compat(client.api_version)
        assert flags & VoiceAssistantFeature.VOICE_ASSISTANT
        assert flags & VoiceAssistantFeature.API_AUDIO
        assert flags & VoiceAssistantFeature.ANNOUNCE and flags & VoiceAssistantFeature.TIMERS
        assert info.name == "kitchen" and info.mac_address == "02:00:00:00:00:01"
        entities, _ = await client.list_entities_services()
        kinds = {type(e) for e in entities}
        assert {MediaPlayerInfo, SwitchInfo, SelectInfo, NumberInfo, TextSensorInfo} <= kinds
        player = next(e for e in entities if isinstance(e, MediaPlayerInfo))
        assert player.supported_formats[0].format == "wav"
        states: dict[int, Any] = {}
        client.subscribe_states(lambda s: states.__setitem__(s.key, s))
        await wait_until(lambda: MUTE in states and MEDIA_PLAYER in states)
        assert states[MEDIA_PLAYER].volume == pytest.approx(pipeline.volume / 100)
        config = await client.get_voice_assistant_configuration(TIMEOUT_S)
        assert config.active_wake_words == ["hey_jarvis"]


async def test_mute_and_volume_from_home_assistant() -> None:
    async with satellite_served() as (pipeline, _, _, _, client):
        states: dict[int, Any] = {}
        client.subscribe_states(lambda s: states.__setitem__(s.key, s))
        client.switch_command(MUTE, True)
        client.media_player_command(MEDIA_PLAYER, volume=0.4)
        await wait_until(lambda: pipeline.muted and pipeline.volume == 40)
        await wait_until(lambda: MUTE in states and states[MUTE].state is True)
        await wait_until(lambda: states[MEDIA_PLAYER].volume == pytest.approx(0.4))


async def test_a_whole_turn_through_home_assistants_client(media_url: str) -> None:
    async with satellite_served() as (pipeline, fakes, _, mic, client):
        ha = Ha(client)
        ha.subscribe()
        await asyncio.sleep(0.05)  # (the subscription reaches the server)
        with pipeline.events.subscribe() as sub:
            command(mic)
            async with asyncio.timeout(TIMEOUT_S):
                await ha.started.wait()
            await wait_until(lambda: len(ha.audio) > 16000)
            for kind, data in (
                (VoiceAssistantEventType.VOICE_ASSISTANT_RUN_START, {}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_STT_VAD_END, {}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_STT_END,
                 {"text": "turn on the kitchen light"}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_INTENT_END,
                 {"conversation_id": "c9", "continue_conversation": "0"}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_TTS_START, {"text": "Done."}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_TTS_END,
                 {"url": f"{media_url}/answer.wav"}),
                (VoiceAssistantEventType.VOICE_ASSISTANT_RUN_END, {}),
            ):
                client.send_voice_assistant_event(kind, data)
            await next_state(sub, State.IDLE, TIMEOUT_S)
        assert ha.starts == [("", 1, "hey jarvis")]
        assert len(fakes.player.played) == 1 and fakes.player.spoken == []
        await wait_until(lambda: ha.finished == [True])


async def test_an_announcement_home_assistant_awaits(media_url: str) -> None:
    async with satellite_served() as (_, fakes, _, _, client):
        done = await client.send_voice_assistant_announcement_await_response(
            f"{media_url}/answer.wav", TIMEOUT_S, "Dinner is ready")
        assert done.success
        assert len(fakes.player.played) == 1


async def test_a_timer_home_assistant_started_rings_here() -> None:
    async with satellite_served() as (_, fakes, satellite, _, client):
        client.send_voice_assistant_timer_event(
            VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_STARTED, "t1", "tea", 5, 5, True)
        await wait_until(lambda: satellite.ha_timers == {"t1": "tea"})
        client.send_voice_assistant_timer_event(
            VoiceAssistantTimerEventType.VOICE_ASSISTANT_TIMER_FINISHED, "t1", "tea", 5, 0, False)
        await wait_until(lambda: "The tea timer is done." in fakes.player.spoken)


async def test_the_client_going_away_mid_turn_ends_the_turn_here() -> None:
    async with satellite_served() as (pipeline, fakes, satellite, mic, client):
        ha = Ha(client)
        ha.subscribe()
        await asyncio.sleep(0.05)
        with pipeline.events.subscribe() as sub:
            command(mic)
            async with asyncio.timeout(TIMEOUT_S):
                await ha.started.wait()
            await client.disconnect(force=True)
            await next_state(sub, State.IDLE, TIMEOUT_S)
        assert satellite.voice.run is None and satellite.voice.subscriber is None
        assert fakes.player.spoken and "Home Assistant" in fakes.player.spoken[0]
