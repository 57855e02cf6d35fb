"""Home Assistant mode: a turn after our wake word runs in Home Assistant's Assist pipeline.

ESPHome's voice assistant messages, device side: we send ``VoiceAssistantRequest(start)`` and the
command's audio (``VoiceAssistantAudio``); Home Assistant accepts with ``VoiceAssistantResponse``
and reports its pipeline as ``VoiceAssistantEventResponse`` events (speech end, transcript, the
answer's text and the URL of its audio). We play that audio and send
``VoiceAssistantAnnounceFinished``. The turn keeps its own audio: when Home Assistant is not
connected, refuses, fails, goes away or is slow, the turn is answered here from the same audio,
and the first such turn of an outage says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.message import Message

from appliance.controller import Sound
from appliance.esphome import media
from appliance.esphome.chosen import ChosenMode
from appliance.esphome.messages import pb
from appliance.esphome.settings import EsphomeSettings
from appliance.remote import NotAnswered, RemoteAnswer, RemoteRun

_LOGGER = logging.getLogger(__name__)

OUTAGE_NOTICE = "Home Assistant isn't answering, so I'm answering myself."
USE_VAD = 1  # VoiceAssistantCommandFlag: Home Assistant detects the end of speech too
API_AUDIO = 4  # VoiceAssistantSubscriptionFlag / feature: audio in API messages

Ev = pb.VoiceAssistantEvent


class Sender(Protocol):
    """The connection Home Assistant subscribed on (``server.Connection`` satisfies it)."""

    def send(self, *messages: Message) -> None: ...

    @property
    def is_open(self) -> bool: ...


@dataclass
class _Progress:
    """What Home Assistant has told about one run so far."""

    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    refused: str = ""
    speech_ended: bool = False
    transcript: str = ""
    text: str = ""
    url: str = ""
    follow_up: bool = False
    conversation_id: str = ""
    error: str = ""
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # TTS_END, RUN_END or error


class HaVoice:
    """The :class:`~appliance.remote.RemoteAssist` of the ESPHome service (one per daemon)."""

    def __init__(self, settings: EsphomeSettings, chosen: ChosenMode | None = None) -> None:
        self.settings = settings
        self.chosen = chosen or ChosenMode(None, settings.mode)
        self.mode = self.chosen.load()  # (the last choice made in Home Assistant, if any)
        self.subscriber: Sender | None = None
        self.run: HaRun | None = None
        self.outage_said = False
        self.conversation_id = ""
        self.on_mode: Callable[[str], None] | None = None

    # -- the subscriber (Home Assistant's connection) -------------------------------------

    def subscribe(self, sender: Sender, flags: int) -> bool:
        """``SubscribeVoiceAssistantRequest``; False: another client has it (as ESPHome does,
        the second one is refused) or it wants audio over UDP, which we do not send."""
        if self.subscriber is not None and self.subscriber is not sender \
                and self.subscriber.is_open:
            _LOGGER.warning("a second Home Assistant asked for the voice assistant: refused "
                            "(one at a time)")
            return False
        if not flags & API_AUDIO:
            _LOGGER.warning("Home Assistant asked for audio over UDP: not supported; update "
                            "Home Assistant (2024.9 or later uses the API)")
            return False
        self.subscriber = sender
        self.outage_said = False
        return True

    def unsubscribe(self, sender: Sender) -> None:
        if self.subscriber is sender:
            self.subscriber = None
            if self.run is not None:
                self.run.lost("Home Assistant disconnected")

    def set_mode(self, mode: str) -> None:
        if mode != self.mode:
            _LOGGER.info("turns are now answered by %s", "Home Assistant"
                         if mode == "home-assistant" else "the speaker itself")
            self.mode = mode
            self.chosen.save(mode)
            if self.on_mode is not None:
                self.on_mode(mode)

    def handle(self, sender: Sender, message: Message) -> bool:
        """A voice message from ``sender``; False if it is not one of ours."""
        run = self.run
        if isinstance(message, pb.VoiceAssistantResponse):
            if run is not None and sender is self.subscriber:
                run.accepted(not message.error)
            return True
        if isinstance(message, pb.VoiceAssistantEventResponse):
            if run is not None and sender is self.subscriber:
                run.event(message.event_type, {d.name: d.value for d in message.data})
            return True
        return False

    # -- RemoteAssist -----------------------------------------------------------------------

    def begin(self, session_id: str, wake_word: str,
              on_speech_end: Callable[[], None]) -> RemoteRun | None:
        if self.mode != "home-assistant":
            return None
        if self.run is not None:
            self.run.cancel()
        sender = self.subscriber
        run = HaRun(self, sender if sender is not None and sender.is_open else None,
                    on_speech_end)
        self.run = run
        if run.sender is not None:
            run.start(wake_word, self.conversation_id)
        return run

    def finished(self, run: HaRun, answered: bool) -> None:
        if self.run is run:
            self.run = None
        if answered:
            self.outage_said = False
            self.conversation_id = run.progress.conversation_id if run.progress.follow_up else ""

    def notice(self) -> str:
        """The outage notice, the first time only."""
        if self.outage_said:
            return ""
        self.outage_said = True
        return OUTAGE_NOTICE


class HaRun:
    """One turn in Home Assistant's pipeline (:class:`~appliance.remote.RemoteRun`)."""

    def __init__(self, voice: HaVoice, sender: Sender | None,
                 on_speech_end: Callable[[], None]) -> None:
        self.voice = voice
        self.sender = sender
        self.progress = _Progress()
        self._on_speech_end = on_speech_end
        self._streaming = sender is not None
        self._done = False
        self._lost = ""

    def start(self, wake_word: str, conversation_id: str) -> None:
        self._send(pb.VoiceAssistantRequest(
            start=True, conversation_id=conversation_id, flags=USE_VAD,
            audio_settings=pb.VoiceAssistantAudioSettings(volume_multiplier=1.0),
            wake_word_phrase=wake_word.replace("_", " ")))

    def _send(self, *messages: Message) -> None:
        if self.sender is not None and self.sender.is_open:
            self.sender.send(*messages)

    # -- from Home Assistant ----------------------------------------------------------------

    def accepted(self, ok: bool) -> None:
        if not ok:
            self.progress.refused = "Home Assistant could not start its pipeline"
            self.progress.ended.set()
        self.progress.accepted.set()

    def event(self, kind: int, data: dict[str, str]) -> None:
        p = self.progress
        if kind in (Ev.VOICE_ASSISTANT_STT_VAD_END, Ev.VOICE_ASSISTANT_STT_END):
            if self._streaming:
                self._streaming = False
                self._on_speech_end()
            if kind == Ev.VOICE_ASSISTANT_STT_END:
                p.transcript = data.get("text", "").strip()
        elif kind == Ev.VOICE_ASSISTANT_INTENT_END:
            p.follow_up = data.get("continue_conversation") == "1"
            p.conversation_id = data.get("conversation_id", "")
        elif kind == Ev.VOICE_ASSISTANT_TTS_START:
            p.text = data.get("text", "").strip()
        elif kind == Ev.VOICE_ASSISTANT_TTS_END:
            p.url = data.get("url", "")
            p.ended.set()
        elif kind == Ev.VOICE_ASSISTANT_ERROR:
            p.error = f"{data.get('code', 'error')}: {data.get('message', '')}".strip(": ")
            p.ended.set()
        elif kind == Ev.VOICE_ASSISTANT_RUN_END:
            p.ended.set()
        p.accepted.set()  # any event: the run is under way

    def lost(self, reason: str) -> None:
        self._lost = reason
        self._streaming = False
        self.progress.ended.set()
        self.progress.accepted.set()

    # -- RemoteRun ----------------------------------------------------------------------------

    def audio(self, frame: bytes) -> None:
        if self._streaming:
            self._send(pb.VoiceAssistantAudio(data=frame))

    def end_audio(self) -> None:
        if self._streaming:
            self._streaming = False
            self._send(pb.VoiceAssistantAudio(end=True))

    async def answer(self) -> RemoteAnswer | NotAnswered:
        settings, p = self.voice.settings, self.progress
        if self.sender is None:
            return self._not_answered("Home Assistant is not connected", outage=True)
        try:
            async with asyncio.timeout(settings.ha_start_timeout_s):
                await p.accepted.wait()
        except TimeoutError:
            return self._not_answered("Home Assistant did not accept the turn within "
                                      f"{settings.ha_start_timeout_s:g} s", outage=True)
        try:
            async with asyncio.timeout(settings.ha_answer_timeout_s):
                await p.ended.wait()
                if self._lost or p.refused:
                    return self._not_answered(self._lost or p.refused, outage=True)
                if p.error and not p.url:
                    return self._not_answered(f"Home Assistant: {p.error}", outage=False)
                sound = await self._fetch(p.url) if p.url else None
        except TimeoutError:
            return self._not_answered("Home Assistant did not answer within "
                                      f"{settings.ha_answer_timeout_s:g} s", outage=True)
        if sound is None and not p.text:
            return self._not_answered("Home Assistant's answer had no text and no audio",
                                      outage=False)
        self.voice.finished(self, answered=True)
        return RemoteAnswer(p.transcript, p.text, sound, p.follow_up)

    async def _fetch(self, url: str) -> Sound | None:
        """The answer's audio; None (its text is spoken here instead) if it cannot be had."""
        timeout_s = self.voice.settings.ha_answer_timeout_s
        try:
            return await asyncio.to_thread(media.fetch_sound, url, timeout_s)
        except media.MediaError as err:
            _LOGGER.warning("%s; saying Home Assistant's answer with the local voice", err)
            return None

    def _not_answered(self, reason: str, *, outage: bool) -> NotAnswered:
        self._abort()
        self.voice.finished(self, answered=False)
        return NotAnswered(reason, self.voice.notice() if outage else "")

    def spoken(self) -> None:
        if not self._done:
            self._done = True
            self._send(pb.VoiceAssistantAnnounceFinished(success=True))
            self.voice.finished(self, answered=True)

    def cancel(self) -> None:
        self._abort()
        self.voice.finished(self, answered=False)

    def _abort(self) -> None:
        if not self._done:
            self._done = True
            self._streaming = False
            self._send(pb.VoiceAssistantRequest(start=False))
