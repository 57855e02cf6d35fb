"""What Home Assistant sees of the speaker over the ESPHome API, and what it may do with it.

One :class:`Satellite` per daemon owns the entities and follows the event bus; each client
connection gets a :class:`DeviceSession` that answers its requests. The entities:

- ``media_player`` "Speaker": the volume (and a speaker mute), playing a URL (media, streamed,
  ducked while the assistant listens or speaks; announcements);
- ``switch`` "Mute": the microphone;
- ``select`` "Answered by": a turn is answered here (our recognition, skills and voice) or by
  Home Assistant's Assist pipeline (``voice.py``);
- ``number`` "Wake word threshold" (lower is more sensitive); the wake word itself is chosen in
  Home Assistant's own select, through the voice assistant configuration messages;
- ``text_sensor`` "State", "Heard" and "Answer" (what the assistant does, its last transcript
  and answer: in both modes), "Next timer" and "Next alarm" (timestamps of our own).

Home Assistant's timers (started by its intents) ring here; its announcements play here, with
its pre-announcement sound, and may open the microphone for an answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import Message

from appliance.controller import Reply, Sound
from appliance.esphome import media
from appliance.esphome.announce import ESPHOME_VERSION
from appliance.esphome.messages import message, pb
from appliance.esphome.playback import MediaPlayback
from appliance.esphome.voice import API_AUDIO, HaVoice, Sender
from appliance.events import (
    Event,
    MuteChanged,
    ResponseReady,
    StateChanged,
    TranscriptReady,
    UserEvent,
    VolumeChanged,
)
from appliance.pipeline import Pipeline
from appliance.skills.ring import Ringing

_LOGGER = logging.getLogger(__name__)

# Entity keys: fixed, so Home Assistant keeps its entity ids across restarts.
MEDIA_PLAYER, MUTE, ANSWERED_BY, THRESHOLD = 1, 2, 3, 4
STATE, HEARD, ANSWER, NEXT_TIMER, NEXT_ALARM = 10, 11, 12, 13, 14
TEXT_SENSORS = {STATE: "state", HEARD: "heard", ANSWER: "answer", NEXT_TIMER: "next_timer",
                NEXT_ALARM: "next_alarm"}
ANSWERED_BY_OPTIONS = {"local": "Speaker", "home-assistant": "Home Assistant"}
FEATURES = 1 | API_AUDIO | (1 << 3) | (1 << 4) | (1 << 5)  # voice, API audio, timers,
# announce, start conversation (not SPEAKER: answers come as URLs, played by us)
MEDIA_FEATURES = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 10) | (1 << 12) \
    | (1 << 14) | (1 << 20)  # pause, volume set/mute/step, play media, stop, play, announce
VOLUME_STEP = 5
ANNOUNCE_FETCH_S = 10.0  # to fetch an announcement's sound
COMMANDS = (pb.SwitchCommandRequest, pb.SelectCommandRequest, pb.NumberCommandRequest,
            pb.MediaPlayerCommandRequest)
MS = pb.MediaPlayerState
Cmd = pb.MediaPlayerCommand
Timer = pb.VoiceAssistantTimerEvent


def _text(key: int, object_id: str, name: str, icon: str, *, device_class: str = "",
          diagnostic: bool = False) -> Message:
    return message(pb.ListEntitiesTextSensorResponse(
        key=key, object_id=object_id, name=name, icon=icon, device_class=device_class,
        entity_category=pb.ENTITY_CATEGORY_DIAGNOSTIC if diagnostic else 0))


def entity_list() -> list[Message]:
    formats = [pb.MediaPlayerSupportedFormat(format="wav", sample_rate=media.SOUND_RATE_HZ,
                                             num_channels=1, purpose=purpose, sample_bytes=2)
               for purpose in (pb.MEDIA_PLAYER_FORMAT_PURPOSE_DEFAULT,
                               pb.MEDIA_PLAYER_FORMAT_PURPOSE_ANNOUNCEMENT)]
    return [
        pb.ListEntitiesMediaPlayerResponse(
            key=MEDIA_PLAYER, object_id="speaker", name="Speaker", icon="mdi:speaker",
            supports_pause=True, supported_formats=formats, feature_flags=MEDIA_FEATURES),
        pb.ListEntitiesSwitchResponse(key=MUTE, object_id="mute", name="Mute",
                                      icon="mdi:microphone-off"),
        pb.ListEntitiesSelectResponse(
            key=ANSWERED_BY, object_id="answered_by", name="Answered by",
            icon="mdi:home-assistant", options=list(ANSWERED_BY_OPTIONS.values()),
            entity_category=pb.ENTITY_CATEGORY_CONFIG),
        pb.ListEntitiesNumberResponse(
            key=THRESHOLD, object_id="wake_word_threshold", name="Wake word threshold",
            icon="mdi:ear-hearing", min_value=0.01, max_value=0.99, step=0.01,
            entity_category=pb.ENTITY_CATEGORY_CONFIG),
        _text(STATE, "state", "State", "mdi:state-machine"),
        _text(HEARD, "heard", "Heard", "mdi:account-voice"),
        _text(ANSWER, "answer", "Answer", "mdi:message-reply-text"),
        _text(NEXT_TIMER, "next_timer", "Next timer", "mdi:timer-outline",
              device_class="timestamp"),
        _text(NEXT_ALARM, "next_alarm", "Next alarm", "mdi:alarm", device_class="timestamp"),
    ]


@dataclass(frozen=True)
class Identity:
    name: str
    friendly_name: str
    mac: str
    version: str


class Satellite:
    """The speaker as Home Assistant sees it: one per daemon, whatever connects."""

    def __init__(self, pipeline: Pipeline, voice: HaVoice, identity: Identity) -> None:
        self.pipeline = pipeline
        self.voice = voice
        self.identity = identity
        self.sessions: list[DeviceSession] = []
        self.media = MediaPlayback(pipeline, self._media_changed)
        self.texts: dict[int, str | None] = dict.fromkeys(TEXT_SENSORS)
        self.ha_timers: dict[str, str] = {}  # Home Assistant's running timers: id -> name
        self._announcing: asyncio.Task[None] | None = None
        voice.on_mode = lambda _mode: self.broadcast(self._answered_by_state())

    def session(self, connection: Sender) -> DeviceSession:
        session = DeviceSession(self, connection)
        self.sessions.append(session)
        return session

    def broadcast(self, *messages: Message) -> None:
        for session in self.sessions:
            if session.subscribed and session.connection.is_open:
                session.connection.send(*messages)

    # -- states -------------------------------------------------------------------------

    def states(self) -> list[Message]:
        p = self.pipeline
        out: list[Message] = [
            self._media_state(),
            pb.SwitchStateResponse(key=MUTE, state=p.muted),
            self._answered_by_state(),
            pb.NumberStateResponse(key=THRESHOLD, state=p.wake_threshold),
        ]
        out += [self._text_state(key) for key in TEXT_SENSORS]
        return out

    def _media_state(self) -> Message:
        state = self.media.state
        if state == MS.MEDIA_PLAYER_STATE_IDLE and self._announcing is not None:
            state = MS.MEDIA_PLAYER_STATE_ANNOUNCING
        return message(pb.MediaPlayerStateResponse(key=MEDIA_PLAYER, state=state,
                                           volume=self.pipeline.volume / 100,
                                           muted=self.media.speaker_muted))

    def _answered_by_state(self) -> Message:
        return message(pb.SelectStateResponse(key=ANSWERED_BY,
                                              state=ANSWERED_BY_OPTIONS[self.voice.mode]))

    def _text_state(self, key: int) -> Message:
        value = self.texts[key]
        return message(pb.TextSensorStateResponse(key=key, state=value or "",
                                          missing_state=value is None))

    def _set_text(self, key: int, value: str | None) -> None:
        if self.texts[key] != value:
            self.texts[key] = value
            self.broadcast(self._text_state(key))

    def _media_changed(self) -> None:
        self.broadcast(self._media_state())

    async def follow_events(self) -> None:
        """The event bus -> the entities' states (in both modes)."""
        self.texts[STATE] = self.pipeline.state.value
        with self.pipeline.events.subscribe() as events:
            async for event in events:
                self.on_event(event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self._set_text(STATE, event.new.value)
        elif isinstance(event, TranscriptReady):
            self._set_text(HEARD, event.text)
        elif isinstance(event, ResponseReady):
            self._set_text(ANSWER, event.text)
        elif isinstance(event, VolumeChanged):
            self.broadcast(self._media_state())
        elif isinstance(event, MuteChanged):
            self.broadcast(pb.SwitchStateResponse(key=MUTE, state=event.muted))
        elif isinstance(event, UserEvent) and event.kind in ("next_timer", "next_alarm"):
            at = event.data.get("at")
            self._set_text(NEXT_TIMER if event.kind == "next_timer" else NEXT_ALARM,
                           at if isinstance(at, str) else None)

    # -- commands -------------------------------------------------------------------------

    def command(self, message: Message) -> None:
        p = self.pipeline
        if isinstance(message, pb.SwitchCommandRequest) and message.key == MUTE:
            p.set_muted(message.state)
        elif isinstance(message, pb.SelectCommandRequest) and message.key == ANSWERED_BY:
            modes = {label: mode for mode, label in ANSWERED_BY_OPTIONS.items()}
            if message.state in modes:
                self.voice.set_mode(modes[message.state])
            else:
                _LOGGER.warning("ignored 'Answered by' = %.40r: not one of %s", message.state,
                                ", ".join(modes))
        elif isinstance(message, pb.NumberCommandRequest) and message.key == THRESHOLD:
            p.set_wake_threshold(message.state)
            self.broadcast(pb.NumberStateResponse(key=THRESHOLD, state=p.wake_threshold))
        elif isinstance(message, pb.MediaPlayerCommandRequest) and message.key == MEDIA_PLAYER:
            self._media_command(message)
        else:
            _LOGGER.debug("ignored %s for key %s", type(message).__name__,
                          getattr(message, "key", "?"))

    def _media_command(self, m: Any) -> None:
        p = self.pipeline
        if m.has_volume:
            p.set_volume(round(max(0.0, min(1.0, m.volume)) * 100))
        if m.has_media_url:
            if m.has_announcement and m.announcement:
                self.announce(m.media_url, "", "", start_conversation=False)
            else:
                self.media.play(m.media_url)
        if m.has_command:
            command = m.command
            if command in (Cmd.MEDIA_PLAYER_COMMAND_MUTE, Cmd.MEDIA_PLAYER_COMMAND_UNMUTE):
                self.media.speaker_muted = command == Cmd.MEDIA_PLAYER_COMMAND_MUTE
                self.broadcast(self._media_state())
            elif command == Cmd.MEDIA_PLAYER_COMMAND_VOLUME_UP:
                p.set_volume(p.volume + VOLUME_STEP)
            elif command == Cmd.MEDIA_PLAYER_COMMAND_VOLUME_DOWN:
                p.set_volume(p.volume - VOLUME_STEP)
            elif command == Cmd.MEDIA_PLAYER_COMMAND_PAUSE:
                self.media.pause()
            elif command == Cmd.MEDIA_PLAYER_COMMAND_PLAY:
                self.media.resume()
            elif command == Cmd.MEDIA_PLAYER_COMMAND_TOGGLE:
                (self.media.resume if self.media.state == MS.MEDIA_PLAYER_STATE_PAUSED
                 else self.media.pause)()
            elif command == Cmd.MEDIA_PLAYER_COMMAND_STOP:
                self.media.stop()

    # -- announcements and timers -------------------------------------------------------------

    def announce(self, media_id: str, text: str, preannounce_id: str, *,
                 start_conversation: bool, reply_to: Sender | None = None) -> None:
        if self._announcing is not None:
            self._announcing.cancel()
        self._announcing = self.pipeline.supervisor.fire(
            self._announce(media_id, text, preannounce_id, start_conversation, reply_to),
            "esphome-announce")
        self.broadcast(self._media_state())

    async def _announce(self, media_id: str, text: str, preannounce_id: str,
                        start_conversation: bool, reply_to: Sender | None) -> None:
        success = False
        try:
            parts = [await self._sound(url) for url in (preannounce_id, media_id) if url]
            sounds = [s for s in parts if s is not None]
            main_missing = bool(media_id) and parts[-1] is None
            if main_missing and not text:
                _LOGGER.warning("announcement not played: its media could not be had")
                return
            if main_missing or not media_id:  # say the text with our own voice
                if sounds:
                    await self.pipeline.play_sound(sounds[0].samples, sounds[0].rate_hz,
                                                   self.pipeline.volume)
                await self.pipeline.announce(Reply(text, follow_up=start_conversation))
            else:
                samples = np.concatenate([s.samples for s in sounds])
                await self.pipeline.announce(Reply(
                    text or "(announcement)", follow_up=start_conversation,
                    sound=Sound(samples, media.SOUND_RATE_HZ)))
            success = True
        finally:
            if self._announcing is asyncio.current_task():
                self._announcing = None
            if reply_to is not None and reply_to.is_open:
                reply_to.send(pb.VoiceAssistantAnnounceFinished(success=success))
            self.broadcast(self._media_state())

    async def _sound(self, url: str) -> Sound | None:
        try:
            return await asyncio.to_thread(media.fetch_sound, url, ANNOUNCE_FETCH_S)
        except media.MediaError as err:
            _LOGGER.warning("%s", err)
            return None

    def timer_event(self, m: Any) -> None:
        """Home Assistant's timers: kept while they run, rung here when they finish (the ring,
        the LEDs, "stop" by voice, button or MQTT, as our own timers)."""
        if m.event_type in (Timer.VOICE_ASSISTANT_TIMER_STARTED,
                            Timer.VOICE_ASSISTANT_TIMER_UPDATED):
            self.ha_timers[m.timer_id] = m.name
            _LOGGER.info("Home Assistant timer %s: %d s left", m.name or m.timer_id,
                         m.seconds_left)
        elif m.event_type == Timer.VOICE_ASSISTANT_TIMER_CANCELLED:
            self.ha_timers.pop(m.timer_id, None)
        elif m.event_type == Timer.VOICE_ASSISTANT_TIMER_FINISHED:
            self.ha_timers.pop(m.timer_id, None)
            ringer = _ringer(self.pipeline)
            said = f"The {m.name} timer is done." if m.name else "Your timer is done."
            if ringer is not None:
                ringer.start(Ringing("timer", f"ha-{m.timer_id}", said))
            else:
                self.pipeline.supervisor.fire(self.pipeline.say(said), "esphome-timer")

    def closed(self, session: DeviceSession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        self.voice.unsubscribe(session.connection)


def _ringer(pipeline: Pipeline) -> Any:
    installed = pipeline.extensions.get("skills")
    skills = getattr(installed, "skills", None)
    return getattr(skills, "ringer", None)


class DeviceSession:
    """One client's view (the :class:`~appliance.esphome.server.Session` of a connection)."""

    def __init__(self, satellite: Satellite, connection: Sender) -> None:
        self.satellite = satellite
        self.connection = connection
        self.subscribed = False
        self._routes: dict[type, Callable[[Any], None]] = {
            pb.DeviceInfoRequest: self._device_info,
            pb.ListEntitiesRequest: self._list_entities,
            pb.SubscribeStatesRequest: self._subscribe_states,
            pb.SubscribeVoiceAssistantRequest: self._subscribe_voice,
            pb.VoiceAssistantConfigurationRequest: self._configuration,
            pb.VoiceAssistantSetConfiguration: self._set_configuration,
            pb.VoiceAssistantAnnounceRequest: self._announce,
            pb.VoiceAssistantTimerEventResponse: self._timer,
        }

    async def handle(self, msg: Message) -> None:
        route = self._routes.get(type(msg))
        if route is not None:
            route(msg)
        elif self.satellite.voice.handle(self.connection, msg):
            pass
        elif type(msg) in COMMANDS:
            self.satellite.command(msg)
        else:
            _LOGGER.debug("ignored %s from %s", type(msg).__name__,
                          getattr(self.connection, "peer", "?"))

    def _device_info(self, _msg: Any) -> None:
        i = self.satellite.identity
        self.connection.send(pb.DeviceInfoResponse(
            uses_password=False, name=i.name, friendly_name=i.friendly_name,
            mac_address=i.mac, esphome_version=ESPHOME_VERSION, project_name="appliance.speaker",
            project_version=i.version, manufacturer="appliance", model="Offline speaker",
            voice_assistant_feature_flags=FEATURES, api_encryption_supported=True))

    def _list_entities(self, _msg: Any) -> None:
        self.connection.send(*entity_list(), pb.ListEntitiesDoneResponse())

    def _subscribe_states(self, _msg: Any) -> None:
        self.subscribed = True
        self.connection.send(*self.satellite.states())

    def _subscribe_voice(self, msg: Any) -> None:
        voice = self.satellite.voice
        if msg.subscribe:
            voice.subscribe(self.connection, msg.flags)
        else:
            voice.unsubscribe(self.connection)

    def _configuration(self, _msg: Any) -> None:
        self.connection.send(self._voice_configuration())

    def _set_configuration(self, msg: Any) -> None:
        pipeline = self.satellite.pipeline
        for name in msg.active_wake_words[:1]:
            if name in pipeline.wake_words:
                pipeline.set_active_wake_word(name)
            else:
                _LOGGER.warning("Home Assistant chose the wake word %.40r, which is not loaded; "
                                "add it to [[wake.models]]", name)

    def _announce(self, msg: Any) -> None:
        self.satellite.announce(msg.media_id, msg.text, msg.preannounce_media_id,
                                start_conversation=msg.start_conversation,
                                reply_to=self.connection)

    def _timer(self, msg: Any) -> None:
        self.satellite.timer_event(msg)

    def _voice_configuration(self) -> Message:
        p = self.satellite.pipeline
        words = [pb.VoiceAssistantWakeWord(id=name, wake_word=_spoken(name),
                                           trained_languages=["en"]) for name in p.wake_words]
        return message(pb.VoiceAssistantConfigurationResponse(
            available_wake_words=words, active_wake_words=[p.active_wake_word],
            max_active_wake_words=1))

    def closed(self) -> None:
        self.satellite.closed(self)


def _spoken(name: str) -> str:
    """``hey_jarvis`` -> "Hey Jarvis"."""
    return " ".join(word.capitalize() for word in name.replace("-", "_").split("_") if word)
