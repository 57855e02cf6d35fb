"""The voice loop: microphone -> wake -> listening -> thinking -> speaking -> idle.

One object owns the assistant's state; every change goes through :meth:`Pipeline._set_state`,
which logs ``old -> new`` and publishes :class:`StateChanged` (LEDs, MQTT and the systemd status
line follow that stream). The microphone loop never waits for models to answer: an interaction
(transcribe, decide, speak) runs as one tracked task, and a new wake word, a button or ``stop()``
cancels it cleanly. Every state has a way out: listening ends by the endpointer (max length),
thinking and speaking by timeouts, errors by a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from appliance.audio.format import FRAME_S, Int16Array, resample, scale
from appliance.audio.source import AudioSource
from appliance.clock import Clock, SystemClock
from appliance.controller import IntentHandler, Recognition, Reply
from appliance.errors import ApplianceError
from appliance.events import (
    ErrorRaised,
    EventBus,
    IntentNotRecognized,
    IntentRecognized,
    ListeningStarted,
    MuteChanged,
    ResponseReady,
    SessionEnded,
    SpeechFinished,
    State,
    StateChanged,
    TranscriptReady,
    VolumeChanged,
    WakeDetected,
)
from appliance.intent.engine import IntentEngine
from appliance.session import Listening, Timing
from appliance.settings import Settings
from appliance.skills.core import NOT_UNDERSTOOD
from appliance.speaker import Speaker
from appliance.stt import Transcriber
from appliance.vad import Endpoint, Endpointer, SileroVad
from appliance.wake import WakeWord

_LOGGER = logging.getLogger(__name__)

# Audio captured while the chime plays (plus this margin) is silenced: it is not the user.
CHIME_MARGIN_S = 0.08


class Pipeline:
    """The real :class:`~appliance.controller.Controller`."""

    def __init__(
        self, settings: Settings, *, wake: WakeWord, vad: SileroVad, stt: Transcriber,
        intents: IntentEngine, speaker: Speaker, events: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.wake, self.vad, self.stt, self.intents, self.speaker = wake, vad, stt, intents, speaker
        self.events = events or EventBus()
        self._state = State.STARTING
        self._muted = False
        self._handlers: list[IntentHandler] = []
        self._ring: deque[bytes] = deque(maxlen=max(1, round(settings.listen.preroll_s / FRAME_S)))
        self._listening: Listening | None = None
        self._task: asyncio.Task[None] | None = None
        self._task_session = ""
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._stop_listeners: list[Callable[[], None]] = []
        self._t_s = 0.0
        self._frame_exec = ThreadPoolExecutor(1, thread_name_prefix="frames")
        self._stt_exec = ThreadPoolExecutor(1, thread_name_prefix="stt")
        self.timing = Timing()
        self.last_reply: Reply | None = None
        self.last_frame_at = time.monotonic()

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def volume(self) -> int:
        return self.speaker.volume

    def _set_state(self, new: State, reason: str = "") -> None:
        old, self._state = self._state, new
        if old is not new:
            _LOGGER.info("state %s -> %s%s", old, new, f" ({reason})" if reason else "")
            self.events.publish(StateChanged(old, new, reason))

    def healthy(self) -> bool:
        """Frames keep flowing, or the microphone loop is (re)trying: the systemd watchdog."""
        if self._state in (State.STARTING, State.ERROR):
            return True
        return time.monotonic() - self.last_frame_at < self.settings.pipeline.watchdog_stall_s

    def _rest_state(self) -> State:
        return State.MUTED if self._muted else State.IDLE

    def ready(self) -> None:
        """Models are loaded and the microphone is open."""
        if self._state in (State.STARTING, State.ERROR):
            self._set_state(self._rest_state(), "ready")

    def fail(self, err: ApplianceError) -> None:
        """A part of the loop is broken (e.g. the microphone): show it until :meth:`ready`."""
        self._cancel_interaction()
        if self._state is not State.ERROR:
            self.events.publish(ErrorRaised(err.code, err.message))
        self._set_state(State.ERROR, err.code)

    # -- controller API -----------------------------------------------------------------------

    def add_intent_handler(self, handler: IntentHandler) -> None:
        self._handlers.append(handler)

    def set_muted(self, muted: bool) -> None:
        if muted == self._muted:
            return
        self._muted = muted
        self.events.publish(MuteChanged(muted))
        if muted:
            self._cancel_interaction()
            self._set_state(State.MUTED, "muted")
        elif self._state is State.MUTED:
            self._set_state(State.IDLE, "unmuted")

    def set_volume(self, volume: int) -> None:
        volume = max(0, min(100, int(volume)))
        if volume != self.speaker.volume:
            self.speaker.volume = volume
            self.events.publish(VolumeChanged(volume))

    def set_wake_enabled(self, enabled: bool) -> None:
        self.wake.enabled = enabled

    # Wake word controls (Home Assistant's select and sensitivity number).
    @property
    def wake_words(self) -> tuple[str, ...]:
        return self.wake.names

    @property
    def active_wake_word(self) -> str:
        return self.wake.active or self.wake.names[0]

    @property
    def wake_threshold(self) -> float:
        return self.wake.threshold

    def set_active_wake_word(self, name: str) -> None:
        self.wake.select(name)

    def set_wake_threshold(self, threshold: float) -> None:
        self.wake.set_threshold(threshold)

    def start_listening(self, source: str = "button") -> None:
        if self._muted or self._state in (State.STARTING, State.ERROR):
            _LOGGER.info("not listening (%s): %s", source, self._state)
            return
        self._begin_listening(source, preroll=False)

    def stop(self) -> None:
        self._cancel_interaction()
        for listener in self._stop_listeners:
            listener()  # e.g. a ringing timer
        if self._state not in (State.STARTING, State.ERROR):
            self._set_state(self._rest_state(), "stopped")

    async def say(self, text: str) -> None:
        self._cancel_interaction()
        session_id = uuid.uuid4().hex
        self._start_task(self._answer(session_id, Reply(text), "announce"), session_id)
        task = self._task
        assert task is not None
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():  # stop(), a wake word or another announcement cut it short
                return
            if self._task is task:  # our caller was cancelled: so is the announcement
                self._cancel_interaction()
                self._set_state(self._rest_state(), "announcement cancelled")
            raise

    def add_stop_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs on every :meth:`stop` (button, MQTT): a skill silences its ring."""
        self._stop_listeners.append(listener)

    async def play_sound(self, samples: Int16Array, rate_hz: int, volume: int) -> None:
        """Play a sound (a ring) without changing state: the wake word is still listened for."""
        out_hz = self.speaker.rate_hz
        async with self.speaker.sink.stream(out_hz) as out:
            await out.write(scale(resample(samples, rate_hz, out_hz), volume))

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background (skills' schedulers); cancelled by :meth:`close`."""
        return self._spawn(coro, name)

    # -- the microphone loop ------------------------------------------------------------------

    async def run(self, source: AudioSource) -> None:
        """Feed frames from ``source`` until it ends; a file source then lets the answer finish."""
        loop = asyncio.get_running_loop()
        async for frame in source.frames():
            self.last_frame_at = time.monotonic()
            if self._state in (State.STARTING, State.ERROR):
                self.ready()
            self._t_s += FRAME_S
            self._ring.append(frame)
            if self._muted:
                continue
            if self._listening is not None:
                prob = await loop.run_in_executor(self._frame_exec, self.vad.process, frame)
                self._on_listening_frame(frame, prob)
            elif self.wake.enabled and self._state is not State.THINKING:
                # (not while thinking: the wake word's model would take the CPU the
                # transcription needs; barge-in works while speaking)
                detection = await loop.run_in_executor(
                    self._frame_exec, self.wake.process, frame, self._t_s
                )
                if detection is not None:
                    self.events.publish(WakeDetected(detection.wake_word, detection.score))
                    self._set_state(State.WAKE, detection.wake_word)
                    self._begin_listening("wake", preroll=True)
        await self.finish()

    async def finish(self) -> None:
        """Wait for the current interaction (if any) to end."""
        while self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
            await asyncio.sleep(0)

    def _begin_listening(self, source: str, *, preroll: bool) -> None:
        self._cancel_interaction()
        session_id = uuid.uuid4().hex
        listening = Listening(session_id, Endpointer(self.settings.listen))
        if preroll:
            listening.frames.extend(self._ring)
        if self.settings.listen.chime:
            listening.mute_until_s = self._t_s + self.speaker.chime_s + CHIME_MARGIN_S
            self._spawn(self.speaker.play_chime(), "chime")
        self.vad.reset()
        self._listening = listening
        self.events.publish(ListeningStarted(source, session_id))
        self._set_state(State.LISTENING, source)

    def _on_listening_frame(self, frame: bytes, prob: float) -> None:
        lst = self._listening
        assert lst is not None
        if self._t_s <= lst.mute_until_s:
            frame, prob = bytes(len(frame)), 0.0
        if prob >= self.settings.listen.vad_threshold:
            lst.last_speech_at = time.monotonic()
        lst.frames.append(frame)
        outcome = lst.endpointer.update(prob, FRAME_S)
        if outcome is Endpoint.PAUSE:
            self._transcribe_early(lst)
        elif outcome in (Endpoint.SPEECH_END, Endpoint.MAX_LENGTH):
            self._listening = None
            self.timing = Timing(end_of_speech=lst.last_speech_at)
            self._start_task(self._respond(lst), lst.session_id)
        elif outcome is Endpoint.NO_SPEECH:
            self._listening = None
            self.events.publish(SessionEnded(lst.session_id, "no-speech"))
            self.wake.reset()
            self._set_state(self._rest_state(), "no speech")

    def _transcribe_early(self, lst: Listening) -> None:
        """The user paused: start transcribing now; kept only if they say nothing more."""
        if lst.early is not None and not lst.early.done():
            return
        loop = asyncio.get_running_loop()
        lst.early = loop.run_in_executor(self._stt_exec, self.stt.transcribe, lst.audio())
        lst.early_speech_s = lst.endpointer.speech_s

    # -- one interaction ----------------------------------------------------------------------

    async def _respond(self, lst: Listening) -> None:
        self._set_state(State.THINKING, "end of speech")
        try:
            async with asyncio.timeout(self.settings.pipeline.thinking_timeout_s):
                text, recognition = await self._understand(lst)
                reply = await self._decide(text, recognition, lst.session_id)
        except TimeoutError:
            _LOGGER.warning(
                "thinking took longer than %ss", self.settings.pipeline.thinking_timeout_s
            )
            reply = Reply("Sorry, that took too long.")
        await self._answer(lst.session_id, reply, "answered")

    async def _understand(self, lst: Listening) -> tuple[str, Recognition | None]:
        """The transcript and the intent found in it (if any)."""
        loop = asyncio.get_running_loop()
        early = lst.early is not None and lst.early_speech_s == lst.endpointer.speech_s
        _LOGGER.debug("transcribing: %s", "early result" if early else "now")
        if early and lst.early is not None:
            transcript = await lst.early
        else:
            transcript = await loop.run_in_executor(
                self._stt_exec, self.stt.transcribe, lst.audio()
            )
        self.timing.transcribed = time.monotonic()
        recognition = self.intents.recognize(transcript.text)
        if recognition is None and transcript.window_s is not None:
            _LOGGER.info("not understood: %r; once more in Whisper's full window", transcript.text)
            transcript = await loop.run_in_executor(
                self._stt_exec, partial(self.stt.transcribe, lst.audio(), full_window=True))
            self.timing.transcribed = time.monotonic()
            recognition = self.intents.recognize(transcript.text)
        _LOGGER.info("heard: %r", transcript.text)
        self.events.publish(TranscriptReady(transcript.text, lst.session_id))
        return transcript.text, recognition

    async def _decide(self, text: str, recognition: Recognition | None,
                      session_id: str) -> Reply:
        self.timing.recognized = time.monotonic()
        if recognition is None:
            self.events.publish(IntentNotRecognized(text, session_id))
            return Reply(NOT_UNDERSTOOD)
        self.events.publish(IntentRecognized(
            recognition.name, recognition.slots, recognition.confidence, text, session_id))
        return await self._handle(recognition, session_id)

    async def _handle(self, recognition: Recognition, session_id: str) -> Reply:
        for handler in self._handlers:
            reply = await handler.handle(recognition, session_id)
            if reply is not None:
                return reply
        _LOGGER.warning("no handler answered intent %s", recognition.name)
        return Reply(NOT_UNDERSTOOD)

    async def _answer(self, session_id: str, reply: Reply, reason: str) -> None:
        if reply.text:  # Reply("") says nothing (e.g. "stop")
            self.last_reply = reply
            await self._speak(session_id, reply, reason)
        self._task_session = ""
        self.events.publish(SessionEnded(session_id, reason))
        if reply.follow_up and not self._muted:
            self._begin_listening("follow-up", preroll=False)
        else:
            self._set_state(self._rest_state(), "answered")

    async def _speak(self, session_id: str, reply: Reply, reason: str) -> None:
        self.events.publish(ResponseReady(reply.text, session_id))
        self._set_state(State.SPEAKING, reason)
        cancelled = True
        try:
            async with asyncio.timeout(self.settings.pipeline.speaking_timeout_s):
                await self.speaker.speak(reply.text, self._first_audio)
            cancelled = False
        except TimeoutError:
            _LOGGER.warning("answer cut at speaking_timeout_s")
        finally:
            self.events.publish(SpeechFinished(reply.text, session_id, cancelled))

    def _first_audio(self) -> None:
        self.timing.first_audio = time.monotonic()

    # -- tasks --------------------------------------------------------------------------------

    def _start_task(self, coro: Coroutine[Any, Any, None], session_id: str) -> None:
        """``coro`` becomes the current interaction: the one a wake word or stop() cancels."""
        self._task = self._spawn(coro, f"session-{session_id[:8]}")
        self._task_session = session_id

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._side_tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        if task.cancelled():
            return
        err = task.exception()
        if isinstance(err, ApplianceError):
            _LOGGER.error("%s: %s", task.get_name(), err)
            self.fail(err)
            self._spawn(self._recover(), "recover")
        elif err is not None:
            _LOGGER.error("%s failed", task.get_name(), exc_info=err)
            self._set_state(self._rest_state(), "internal error")

    async def _recover(self) -> None:
        await asyncio.sleep(self.settings.pipeline.error_retry_s)
        self.ready()

    def _cancel_interaction(self) -> None:
        if self._listening is not None:
            self.events.publish(SessionEnded(self._listening.session_id, "cancelled"))
            self._listening = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
            if self._task_session:
                self.events.publish(SessionEnded(self._task_session, "cancelled"))
        self._task, self._task_session = None, ""

    async def close(self) -> None:
        """Cancel everything still running and wait for it (no orphan tasks)."""
        tasks = list(self._side_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ApplianceError):
                await task
        self._frame_exec.shutdown(wait=False, cancel_futures=True)
        self._stt_exec.shutdown(wait=False, cancel_futures=True)
        self.speaker.close()

