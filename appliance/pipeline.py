"""The voice loop's lasting state: microphone frames in, one turn at a time, the state out.

:class:`Pipeline` owns what lasts across interactions (the state, mute, the wake word and what
the user chose at run time, the audio just before the wake word, the intent handlers) and the
frame loop. Each interaction is one :class:`~appliance.turn.Turn`, run as one task: a new wake
word, a button, ``stop()`` or mute cancels it whole. Every state change goes through
:meth:`Pipeline._set_state`, which logs ``old -> new`` and publishes :class:`StateChanged`
(LEDs, MQTT and the systemd status line follow that stream). Every state has a way out:
listening ends by the endpointer, thinking and speaking by timeouts, a failed turn's error
state after ``pipeline.error_retry_s``, a microphone error when audio flows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from appliance.audio.format import FRAME_S, Int16Array
from appliance.audio.source import AudioSource
from appliance.choices import Choices, carry_wake_choices
from appliance.clock import Clock, SystemClock
from appliance.controller import Handlers, IntentHandler, Reply
from appliance.errors import ApplianceError
from appliance.events import (
    ErrorRaised,
    EventBus,
    ListeningStarted,
    MuteChanged,
    State,
    StateChanged,
    VolumeChanged,
    WakeDetected,
)
from appliance.remote import RemoteAssist
from appliance.settings import Settings
from appliance.stages import Stages, VoiceActivity, Workers, vocabulary_prompt
from appliance.supervisor import Supervisor
from appliance.system.debug import save_utterance
from appliance.turn import Timing, Turn, TurnContext

_LOGGER = logging.getLogger(__name__)

class Extension(Protocol):
    """Something installed into the pipeline (the household skills): removed on close."""

    async def uninstall(self) -> None: ...


class Pipeline:
    """The real :class:`~appliance.controller.Controller`."""

    def __init__(self, settings: Settings, stages: Stages, *, events: EventBus | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.stages = stages
        self.events = events or EventBus()
        self.clock = clock or SystemClock()
        self.supervisor = Supervisor(sleep=self.clock.sleep, monotonic=self.clock.monotonic)
        self.choices = Choices()
        self.last_reply: Reply | None = None
        self.last_frame_at = time.monotonic()
        self._state = State.STARTING
        self._muted = False
        self._error_held = False
        self.handlers = Handlers()
        self._stop_listeners: list[Callable[[], None]] = []
        self._contexts: list[Callable[[], dict[str, Any]]] = []
        self.extensions: dict[str, Extension] = {}
        self._ring: deque[bytes] = deque(maxlen=_preroll_frames(settings))
        self._turn: Turn | None = None
        self._task: asyncio.Task[None] | None = None
        self._chime: asyncio.Task[None] | None = None
        self._last_turn: Turn | None = None
        self._t_s = 0.0
        self._workers = Workers()
        # Set by the ESPHome service in Home Assistant mode: who answers the turns instead.
        self.remote: RemoteAssist | None = None
        self._apply_prompt()

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def volume(self) -> int:
        return self.stages.player.volume

    @property
    def timing(self) -> Timing:
        """Where the time of the last turn went."""
        return self._last_turn.timing if self._last_turn is not None else Timing()

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
        """Models are loaded and the microphone delivers audio."""
        if self._state is State.STARTING or (self._state is State.ERROR and not self._error_held):
            self._set_state(self._rest_state(), "ready")

    def fail(self, err: ApplianceError, *, hold_s: float | None = None) -> None:
        """Something is broken: show it. A microphone error (no ``hold_s``) lasts until audio
        flows again; a failed turn's lasts ``hold_s`` whatever the microphone does."""
        self._cancel_turn()
        if self._state is not State.ERROR:
            self.events.publish(ErrorRaised(err.code, err.message))
        self._set_state(State.ERROR, err.code)
        if hold_s is not None and not self._error_held:
            self._error_held = True
            self.supervisor.fire(self._recover(hold_s), "recover")

    async def _recover(self, hold_s: float) -> None:
        try:
            await self.clock.sleep(hold_s)
        finally:
            self._error_held = False
        self.ready()

    # -- controller API -----------------------------------------------------------------------

    def add_intent_handler(self, handler: IntentHandler, position: int | None = None) -> None:
        """Handlers are asked in order; ``position`` None: after the others."""
        self.handlers.add(handler, position)

    def remove_intent_handler(self, handler: IntentHandler) -> int:
        return self.handlers.remove(handler)

    def add_stop_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs on every :meth:`stop` (button, MQTT): a skill silences its ring."""
        self._stop_listeners.append(listener)

    def remove_stop_listener(self, listener: Callable[[], None]) -> None:
        self._stop_listeners.remove(listener)

    def add_intent_context(self, provider: Callable[[], dict[str, Any]]) -> None:
        """``provider()`` informs every recognition (a skill's pending question); kept across
        reloads."""
        self._contexts.append(provider)
        self.stages.intents.add_context(provider)

    def remove_intent_context(self, provider: Callable[[], dict[str, Any]]) -> None:
        self._contexts.remove(provider)
        self.stages.intents.remove_context(provider)

    def set_muted(self, muted: bool) -> None:
        if muted == self._muted:
            return
        self._muted = muted
        self.events.publish(MuteChanged(muted))
        if muted:
            self._cancel_turn()
            if self._state is not State.ERROR:
                self._set_state(State.MUTED, "muted")
        elif self._state is State.MUTED:
            self._set_state(State.IDLE, "unmuted")

    def set_volume(self, volume: int) -> None:
        volume = max(0, min(100, int(volume)))
        if volume != self.stages.player.volume:
            self.stages.player.volume = volume
            self.events.publish(VolumeChanged(volume))

    def set_wake_enabled(self, enabled: bool) -> None:
        self.choices = replace(self.choices, wake_enabled=enabled)
        self.stages.wake.enabled = enabled

    # Wake word controls (Home Assistant's select and sensitivity number).
    @property
    def wake_words(self) -> tuple[str, ...]:
        return self.stages.wake.names

    @property
    def active_wake_word(self) -> str:
        return self.stages.wake.active or self.stages.wake.names[0]

    @property
    def wake_threshold(self) -> float:
        return self.stages.wake.threshold

    def set_active_wake_word(self, name: str) -> None:
        self.stages.wake.select(name)
        self.choices = replace(self.choices, wake_word=name)

    def set_wake_threshold(self, threshold: float) -> None:
        self.stages.wake.set_threshold(threshold)
        self.choices = replace(self.choices, wake_threshold=self.stages.wake.threshold)

    def start_listening(self, source: str = "button") -> None:
        if self._muted or self._state in (State.STARTING, State.ERROR):
            _LOGGER.info("not listening (%s): %s", source, self._state)
            return
        self._start_turn(source, preroll=False)

    def stop(self) -> None:
        self._cancel_turn()
        for listener in self._stop_listeners:
            listener()  # e.g. a ringing timer
        if self._state not in (State.STARTING, State.ERROR):
            self._set_state(self._rest_state(), "stopped")

    async def say(self, text: str) -> None:
        """Speak ``text`` as an announcement; returns when played or cut short."""
        await self.announce(Reply(text))

    async def announce(self, reply: Reply) -> None:
        """Play ``reply`` (its sound, or its text spoken) as an announcement; with
        ``follow_up``, listen for an answer after it. Returns when played or cut short."""
        self._cancel_turn()
        task = self._begin(Turn(self._context(), uuid.uuid4().hex, "announce", reply=reply))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():  # stop(), a wake word or another announcement cut it short
                return
            if self._task is task:  # our caller was cancelled: so is the announcement
                self._cancel_turn()
                self._set_state(self._rest_state(), "announcement cancelled")
            raise

    async def play_sound(self, samples: Int16Array, rate_hz: int, volume: int) -> None:
        """Play a sound (a ring) without changing state: the wake word is still listened for."""
        await self.stages.player.play(samples, rate_hz, volume)

    # -- reload -------------------------------------------------------------------------------

    def reload(self, settings: Settings, stages: Stages) -> None:
        """New settings and stages (from :func:`~appliance.stages.build_stages`); what the user
        chose at run time is carried over, unless the new configuration changed that very
        setting. A turn using a replaced stage is cancelled."""
        old_settings, old = self.settings, self.stages
        if stages != old:
            self._cancel_turn()
            if self._state in (State.THINKING, State.SPEAKING, State.LISTENING, State.WAKE):
                self._set_state(self._rest_state(), "reloaded")
        self.settings, self.stages = settings, stages
        if stages.player is not old.player:
            stages.player.volume = old.player.volume
            old.player.close()
        if settings.audio.output.volume != old_settings.audio.output.volume:
            self.set_volume(settings.audio.output.volume)
        if stages.wake is not old.wake:
            self.choices = carry_wake_choices(self.choices, stages.wake, old_settings, settings)
        if stages.intents is not old.intents:
            for provider in self._contexts:
                stages.intents.add_context(provider)
        if self._ring.maxlen != _preroll_frames(settings):
            self._ring = deque(self._ring, maxlen=_preroll_frames(settings))
        self._apply_prompt()

    def _apply_prompt(self) -> None:
        """Whisper's initial prompt: example commands from the sentence files (if enabled)."""
        self.stages.stt.initial_prompt = (vocabulary_prompt(self.stages.intents)
                                          if self.settings.skills.stt_prompt else None)

    # -- the microphone loop ------------------------------------------------------------------

    async def run(self, source: AudioSource) -> None:
        """Feed frames from ``source`` until it ends; a file source then lets the turn end."""
        async for frame in source.frames():
            self.last_frame_at = time.monotonic()
            self.ready()
            self._t_s += FRAME_S
            self._ring.append(frame)
            if self._muted or self._state is State.ERROR:
                continue
            stages, turn = self.stages, self._turn
            if turn is not None and turn.listening:
                prob = await self._workers.frame(stages.vad.process, frame)
                turn.hear(frame, prob)
            elif stages.wake.enabled and self._state is not State.THINKING:
                # (not while thinking: the wake word's model would take the CPU the
                # transcription needs; barge-in works while speaking)
                if stages.wake.hold(frame, self._t_s):
                    continue  # scored with the next frame
                detection = await self._workers.frame(stages.wake.process, frame, self._t_s)
                if detection is not None:
                    self.events.publish(WakeDetected(detection.wake_word, detection.score))
                    self._set_state(State.WAKE, detection.wake_word)
                    self._start_turn("wake", preroll=True, wake_word=detection.wake_word)
                    await self._score_preroll()
        await self.finish()

    async def finish(self) -> None:
        """Wait for the current turn (and any follow-up) to end."""
        while self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
            await asyncio.sleep(0)

    # -- turns --------------------------------------------------------------------------------

    def _context(self) -> TurnContext:
        save = self._save_utterance if self.settings.debug.save_utterances > 0 else None
        return TurnContext(self.settings, self.stages, self.events, self._set_state,
                           self.handlers.handle, self._workers.stt, save, self.remote,
                           self.handlers.moot)

    def _start_turn(self, source: str, *, preroll: bool, wake_word: str = "") -> None:
        self._cancel_turn()
        if self.settings.listen.chime:
            # What the microphone hears under the chime is kept: a command said straight after
            # the wake word starts there. The chime itself is not speech: the VAD scores it
            # near 0 and Whisper writes nothing for it (tests/core/test_chime.py).
            if self._chime is not None:  # one chime at a time: a new turn cuts the last one
                self._chime.cancel()
            self._chime = self.supervisor.fire(self.stages.player.play_chime(), "chime",
                                               on_error=_chime_failed)
        self.stages.vad.reset()
        turn = Turn(self._context(), uuid.uuid4().hex, source,
                    preroll=list(self._ring) if preroll else (), wake_word=wake_word)
        self._begin(turn)
        self.events.publish(ListeningStarted(source, turn.session_id))
        self._set_state(State.LISTENING, source)

    async def _score_preroll(self) -> None:
        """The VAD's say on the new turn's pre-roll (before its next frame), from a fresh
        state and leaving it fresh: what tells the wake word's end from the command."""
        turn = self._turn
        if turn is not None and turn.preroll:
            turn.preroll_heard(await self._workers.frame(
                fresh_scores, self.stages.vad, turn.frames[: turn.preroll]))

    def _begin(self, turn: Turn) -> asyncio.Task[None]:
        self._turn = self._last_turn = turn
        self._task = self.supervisor.fire(self._run_turn(turn), f"turn-{turn.session_id[:8]}")
        return self._task

    async def _run_turn(self, turn: Turn) -> None:
        """The turn, then what follows it: rest, a follow-up question, or the error state."""
        try:
            reply = await turn.run()
        except ApplianceError as err:
            _LOGGER.error("turn failed: %s", err)
            self._turn_failed(turn, err)
            return
        except Exception as err:
            _LOGGER.error("turn failed", exc_info=err)
            self._turn_failed(turn, ApplianceError(f"internal error: {err}", code="internal"))
            return
        if self._turn is not turn:
            return
        self._turn = None
        if reply is None:  # nothing was said
            self.stages.wake.reset()
            self._set_state(self._rest_state(), "no speech")
            return
        if reply.text:
            self.last_reply = reply
        if reply.follow_up and not self._muted:
            self._start_turn("follow-up", preroll=False)
        else:
            self._set_state(self._rest_state(), "answered")

    def _turn_failed(self, turn: Turn, err: ApplianceError) -> None:
        turn.end("error")
        if self._turn is turn:
            self._turn, self._task = None, None
            self.fail(err, hold_s=self.settings.pipeline.error_retry_s)

    def _save_utterance(self, audio: Int16Array, text: str) -> None:
        """``debug.save_utterances``: in a thread, never in the way of the answer."""
        self.supervisor.fire(asyncio.to_thread(
            save_utterance, self.settings.debug, audio.astype("<i2").tobytes(), text),
            "save-utterance")

    def _cancel_turn(self) -> None:
        turn, task = self._turn, self._task
        self._turn, self._task = None, None
        if turn is not None:
            turn.end("cancelled")
        if task is not None and not task.done():
            task.cancel()

    async def close(self) -> None:
        """Cancel everything still running and wait for it (no orphan tasks)."""
        self._cancel_turn()
        for extension in list(self.extensions.values()):
            await extension.uninstall()
        self.extensions.clear()
        await self.supervisor.close()
        self._workers.close()
        self.stages.player.close()


def fresh_scores(vad: VoiceActivity, frames: list[bytes]) -> list[float]:
    """The VAD's probabilities for ``frames`` alone (reset before and after)."""
    vad.reset()
    try:
        return [vad.process(frame) for frame in frames]
    finally:
        vad.reset()


def _preroll_frames(settings: Settings) -> int:
    return max(1, round(settings.listen.preroll_s / FRAME_S))


def _chime_failed(err: BaseException) -> None:
    """A chime that cannot play (speaker unplugged) is not worth the command: keep listening."""
    _LOGGER.warning("cannot play the chime: %s", err)
