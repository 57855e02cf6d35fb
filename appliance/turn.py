"""One turn, one object: hearing a command, understanding it and answering it.

The pipeline makes a :class:`Turn` for every interaction (the wake word, a button, MQTT, a
follow-up question, an announcement) and runs :meth:`Turn.run` as its one task, so cancelling
that task cancels the whole turn. While the turn listens, the pipeline's frame loop hands it each
frame with its speech probability (:meth:`Turn.hear`); everything after that is the turn's:

    listen -> stt (the early transcript, the full-window retry) -> intent -> answer

Each stage publishes :class:`StageStarted` and :class:`StageEnded`. A stage that fails raises a
typed :class:`~appliance.errors.ApplianceError` (``stt_failed``, ``intent_failed``,
``tts_failed``, ``audio_device_unavailable``); what that means for the assistant's state is the
pipeline's decision, not the turn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, TypeVar

import numpy as np

from appliance.audio.format import FRAME_S, Int16Array
from appliance.controller import NOT_UNDERSTOOD, NOTHING_MOOT, Moot, Recognition, Reply
from appliance.errors import ApplianceError, IntentError, SttError, TtsError
from appliance.events import (
    EventBus,
    IntentNotRecognized,
    IntentRecognized,
    ResponseReady,
    SessionEnded,
    SpeechFinished,
    StageEnded,
    StageStarted,
    State,
    TranscriptReady,
)
from appliance.remote import NotAnswered, RemoteAssist, RemoteRun
from appliance.settings import Settings
from appliance.stages import Stages
from appliance.stt import Transcript
from appliance.vad import Endpoint, Endpointer, wake_tail_frames

_LOGGER = logging.getLogger(__name__)

TOO_LONG = "Sorry, that took too long."

T = TypeVar("T")


class RunBlocking(Protocol):
    """Runs a blocking call in the stage's worker thread."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


@dataclass
class Timing:
    """Where the time of a turn went (monotonic seconds; for ``listen`` and ``bench``)."""

    end_of_speech: float = 0.0
    transcribed: float = 0.0
    recognized: float = 0.0
    first_audio: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnContext:
    """What a turn may use: fixed when it starts (a reload does not swap a stage under it)."""

    settings: Settings
    stages: Stages
    events: EventBus
    set_state: Callable[[State, str], None]
    handle: Callable[[Recognition, str], Awaitable[Reply]]
    run_blocking: RunBlocking  # the transcriber's thread
    save_utterance: Callable[[Int16Array, str], None] | None = None
    remote: RemoteAssist | None = None  # Home Assistant's pipeline, when it answers turns
    moot: Callable[[], Moot] = lambda: NOTHING_MOOT  # the skills' say, asked per early transcript


class Turn:
    """One interaction. ``reply`` given: an announcement (nothing to hear, just say it)."""

    def __init__(self, ctx: TurnContext, session_id: str, source: str, *,
                 reply: Reply | None = None, preroll: Iterable[bytes] = (),
                 wake_word: str = "") -> None:
        self.ctx = ctx
        self.session_id = session_id
        self.source = source
        self.timing = Timing()
        self.endpointer = Endpointer(ctx.settings.listen)
        self.frames: list[bytes] = list(preroll)
        self.preroll = len(self.frames)
        # The VAD's per frame: the pre-roll's (given by the pipeline once scored), the rest's
        self._preroll_probabilities: list[float] | None = None
        self._probabilities: list[float] = []
        self.listening = reply is None
        self._reply = reply
        self._last_speech_at = 0.0
        self._heard: asyncio.Future[Endpoint] = asyncio.get_running_loop().create_future()
        self._early: asyncio.Future[Transcript] | None = None
        self._early_speech_s = -1.0
        self._judging: asyncio.Future[bool] | None = None
        self._whole: asyncio.Future[Transcript] | None = None  # judged a whole command
        self._ended = False
        self._remote: RemoteRun | None = None
        if self.listening:
            self._stage_started("listen")
            if ctx.remote is not None:
                self._remote = ctx.remote.begin(session_id, wake_word, self._remote_heard_end)
            if self._remote is not None:
                for frame in self.frames:
                    self._remote.audio(frame)

    # -- listening (driven by the pipeline's frame loop) ------------------------------------

    def audio(self, skip: int | None = None) -> Int16Array:
        """What was said: the frames heard, without the first ``skip`` (by default the wake
        word's end, :meth:`wake_tail`)."""
        skip = self.wake_tail() if skip is None else skip
        return np.frombuffer(b"".join(self.frames[skip:]), dtype=np.int16).copy()

    def preroll_heard(self, probabilities: Iterable[float]) -> None:
        """The VAD's probabilities for the pre-roll's frames."""
        self._preroll_probabilities = list(probabilities)

    def wake_tail(self) -> int:
        """How many of the first frames hold the wake word's end, not the command."""
        if not self.preroll or self._preroll_probabilities is None:
            return 0
        return wake_tail_frames(self._preroll_probabilities + self._probabilities,
                                self.preroll, self.ctx.settings.listen.vad_threshold, FRAME_S)

    def hear(self, frame: bytes, probability: float) -> None:
        """One frame and its speech probability."""
        if not self.listening:
            return
        if probability >= self.ctx.settings.listen.vad_threshold:
            self._last_speech_at = time.monotonic()
        self.frames.append(frame)
        self._probabilities.append(probability)
        if self._remote is not None:
            self._remote.audio(frame)
        outcome = self.endpointer.update(probability, FRAME_S)
        if outcome is Endpoint.PAUSE:
            self._transcribe_early()
        elif outcome is not Endpoint.CONTINUE:
            self._stop_listening(outcome)
        elif self._whole is not None:
            self._answer_if_paused_long_enough(self._whole)

    def _stop_listening(self, outcome: Endpoint) -> None:
        self.listening = False
        self.timing.end_of_speech = self._last_speech_at
        if self._remote is not None:
            self._remote.end_audio()
        self._stage_ended("listen", outcome.value)
        self._heard.set_result(outcome)

    def _remote_heard_end(self) -> None:
        """Home Assistant heard the end of the command before our endpointer did."""
        if self.listening and self.endpointer.heard_speech:
            self._stop_listening(Endpoint.REMOTE)

    def _transcribe_early(self) -> None:
        """The user paused: start transcribing now; kept only if they say nothing more.

        If what they said so far is a whole command that cannot go on to mean more
        (``listen.answer_early``), the turn stops listening as soon as that is known and the
        silence has lasted ``ANSWER_PAUSE_S``, without waiting for the rest of
        ``end_silence_s``. (The transcription starts after one frame of silence, so that it is
        mostly done by then; a gap between two words is often that long.)
        """
        if self._remote is not None:
            return  # (a turn Home Assistant answers is transcribed there)
        # one still on an earlier pause's audio is dropped (cancelled while it waits its turn
        # in the transcriber's thread): this pause's starts as soon as that thread is free
        self._discard_early()
        self._early = asyncio.ensure_future(self._transcribe(self.audio()))
        self._early_speech_s = self.endpointer.speech_s
        if self.ctx.settings.listen.answer_early and self.ctx.stages.closed is not None:
            self._early.add_done_callback(self._judge_early)

    def _still_paused(self, early: asyncio.Future[Transcript]) -> bool:
        """Nothing said since ``early`` was started, and it is still the one to use."""
        return (self.listening and early is self._early
                and self.endpointer.speech_s == self._early_speech_s)

    def _judge_early(self, early: asyncio.Future[Transcript]) -> None:
        closed = self.ctx.stages.closed
        if early.cancelled() or early.exception() is not None or closed is None \
                or not self._still_paused(early):
            return
        text = early.result().text
        moot = self.ctx.moot()  # (here in the event loop, where the skills' state changes)
        self._judging = asyncio.ensure_future(
            self.ctx.run_blocking(partial(closed.is_whole_command, text, moot)))
        self._judging.add_done_callback(partial(self._answer_now_if_whole, early))

    def _answer_now_if_whole(self, early: asyncio.Future[Transcript],
                             judged: asyncio.Future[bool]) -> None:
        if judged.cancelled() or judged.exception() is not None:
            return  # the end-of-speech silence decides, as without this
        if judged.result() and self._still_paused(early):
            self._whole = early
            self._answer_if_paused_long_enough(early)

    def _answer_if_paused_long_enough(self, whole: asyncio.Future[Transcript]) -> None:
        """``whole`` was judged a whole command: answer once the silence after it is long
        enough to be the end of it (not a gap between words); drop it if speech resumed."""
        if not self._still_paused(whole):
            self._whole = None
        elif self.endpointer.paused_to_answer:
            _LOGGER.debug("a whole command after %.2fs of silence: answering now",
                          self.endpointer.silence_s)
            self._whole = None
            self._stop_listening(Endpoint.COMPLETE)

    def _discard_early(self) -> None:
        if self._early is not None:
            self._early.cancel()  # (not started: never runs; running: its result is dropped)
            self._early.add_done_callback(_consume)
            self._early = None

    # -- the rest of the turn -----------------------------------------------------------------

    async def run(self) -> Reply | None:
        """The turn, to its end; the reply spoken (None: nothing was said to answer)."""
        try:
            reply = self._reply
            if reply is None:
                if await self._heard is Endpoint.NO_SPEECH:
                    self.end("no-speech")
                    return None
                reply = await self._think()
            await self._answer(reply)
            return reply
        finally:
            self._discard_early()
            if self._judging is not None:
                self._judging.cancel()
            if self._remote is not None:
                self._remote.cancel()  # (nothing once it has answered)

    def end(self, reason: str) -> None:
        """Publish the end of this turn's session, once (``cancelled`` by the pipeline)."""
        if not self._ended:
            self._ended = True
            if self.listening:
                self.listening = False
                self._stage_ended("listen", reason)
            if self._remote is not None and reason != "answered":
                self._remote.cancel()
            self.ctx.events.publish(SessionEnded(self.session_id, reason))

    async def _think(self) -> Reply:
        self.ctx.set_state(State.THINKING, "end of speech")
        timeout_s = self.ctx.settings.pipeline.thinking_timeout_s
        notice = ""
        if self._remote is not None:  # (its wait is bounded by the run's own time limits)
            answer = await self._remote.answer()
            if not isinstance(answer, NotAnswered):
                return self._answered_remotely(answer.transcript, Reply(
                    answer.text, answer.follow_up, answer.sound))
            _LOGGER.info("Home Assistant did not answer (%s): answering here", answer.reason)
            notice = answer.notice
        try:
            async with asyncio.timeout(timeout_s):
                text, recognition = await self._understand()
                reply = await self._decide(text, recognition)
                return replace(reply, text=f"{notice} {reply.text}") if notice else reply
        except TimeoutError:
            _LOGGER.warning("thinking took longer than %ss", timeout_s)
            return Reply(TOO_LONG)

    def _answered_remotely(self, transcript: str, reply: Reply) -> Reply:
        _LOGGER.info("heard (by Home Assistant): %r", transcript)
        self.timing.transcribed = self.timing.recognized = time.monotonic()
        self.ctx.events.publish(TranscriptReady(transcript, self.session_id))
        return reply

    async def _understand(self) -> tuple[str, Recognition | None]:
        """The transcript and the intent found in it (if any)."""
        self._stage_started("stt")
        early = self._early is not None and self._early_speech_s == self.endpointer.speech_s
        _LOGGER.debug("transcribing: %s", "early result" if early else "now")
        if tail := self.wake_tail():
            _LOGGER.debug("the wake word's end and the pause after it (%.2fs) are not "
                          "transcribed", tail * FRAME_S)
        audio = self.audio(tail)
        if early and self._early is not None:
            pending, self._early = self._early, None
            transcript = await pending
        else:
            self._discard_early()
            transcript = await self._transcribe(audio)
        self.timing.transcribed = time.monotonic()
        recognition = self._recognize(transcript.text)
        if recognition is None:
            recognition = await self._choose(transcript)
        if recognition is None and transcript.window_s is not None:
            _LOGGER.info("not understood: %r; once more in Whisper's full window",
                         transcript.text)
            transcript = await self._transcribe(audio, full_window=True)
            self.timing.transcribed = time.monotonic()
            recognition = self._recognize(transcript.text)
        _LOGGER.info("heard: %r", transcript.text)
        self._stage_ended("stt", "")
        self.ctx.events.publish(TranscriptReady(transcript.text, self.session_id))
        if self.ctx.save_utterance is not None:
            self.ctx.save_utterance(audio, transcript.text)
        return transcript.text, recognition

    async def _transcribe(self, audio: Int16Array, *, full_window: bool = False) -> Transcript:
        stt = self.ctx.stages.stt
        with stage_errors(SttError, "transcription failed"):
            return await self.ctx.run_blocking(
                partial(stt.transcribe, audio, full_window=full_window))

    async def _choose(self, transcript: Transcript) -> Recognition | None:
        """The closed-vocabulary step: the known command this audio holds, if any."""
        closed, stt = self.ctx.stages.closed, self.ctx.stages.stt
        if closed is None or not transcript.text.strip():
            return None
        started = time.monotonic()
        with stage_errors(IntentError, f"choosing a command for {transcript.text!r}"):
            choice = await self.ctx.run_blocking(
                partial(closed.choose, transcript.text, partial(stt.score, transcript)))
        self.timing.stages["closed"] = time.monotonic() - started
        if choice is None:
            _LOGGER.info("not understood, and no known command fits: %r", transcript.text)
            return None
        _LOGGER.info("heard %r as the command %r (%.1f nats less likely)", transcript.text,
                     choice.sentence, choice.penalty)
        return choice.recognition

    def _recognize(self, text: str) -> Recognition | None:
        with stage_errors(IntentError, f"intent recognition failed on {text!r}"):
            return self.ctx.stages.intents.recognize(text)

    async def _decide(self, text: str, recognition: Recognition | None) -> Reply:
        self.timing.recognized = time.monotonic()
        self._stage_started("intent")
        if recognition is None:
            self.ctx.events.publish(IntentNotRecognized(text, self.session_id))
            self._stage_ended("intent", "")
            return Reply(NOT_UNDERSTOOD)
        self.ctx.events.publish(IntentRecognized(
            recognition.name, recognition.slots, recognition.confidence, text, self.session_id))
        with stage_errors(IntentError, f"the {recognition.name} handler failed",
                          TimeoutError):  # a handler's timeout is the thinking timeout
            reply = await self.ctx.handle(recognition, self.session_id)
        self._stage_ended("intent", recognition.name)
        return reply

    async def _answer(self, reply: Reply) -> None:
        try:
            if reply.text or reply.sound is not None:  # Reply("") says nothing (e.g. "stop")
                await self._speak(reply)
        finally:
            if self._remote is not None:
                self._remote.spoken()
        self.end("answered" if self._reply is None else "announce")

    async def _speak(self, reply: Reply) -> None:
        self._stage_started("answer")
        self.ctx.events.publish(ResponseReady(reply.text, self.session_id))
        self.ctx.set_state(State.SPEAKING, "answered" if self._reply is None else "announce")
        cancelled = True
        try:
            async with asyncio.timeout(self.ctx.settings.pipeline.speaking_timeout_s):
                with stage_errors(TtsError, "speaking failed", TimeoutError):
                    player = self.ctx.stages.player
                    if reply.sound is None:
                        await player.speak(reply.text, self._first_audio)
                    else:
                        self._first_audio()
                        await player.play(reply.sound.samples, reply.sound.rate_hz,
                                          player.volume)
            cancelled = False
        except TimeoutError:
            _LOGGER.warning("answer cut at speaking_timeout_s")
        finally:
            self.ctx.events.publish(SpeechFinished(reply.text, self.session_id, cancelled))
            self._stage_ended("answer", "cancelled" if cancelled else "")

    def _first_audio(self) -> None:
        self.timing.first_audio = time.monotonic()

    def _stage_started(self, stage: str) -> None:
        self.ctx.events.publish(StageStarted(stage, self.session_id))

    def _stage_ended(self, stage: str, outcome: str) -> None:
        self.ctx.events.publish(StageEnded(stage, self.session_id, outcome))


@contextlib.contextmanager
def stage_errors(kind: type[ApplianceError], what: str,
                 *passing: type[Exception]) -> Iterator[None]:
    """At a stage's boundary: its ApplianceErrors (and ``passing``) go on as they are, any
    other failure becomes ``kind`` (a stable code) saying ``what`` failed and why."""
    let_through: tuple[type[Exception], ...] = (ApplianceError, *passing)
    try:
        yield
    except let_through:
        raise
    except Exception as err:
        raise kind(f"{what}: {type(err).__name__}: {err}") from err


def _consume(future: asyncio.Future[Transcript]) -> None:
    """An early transcript nobody will read: retrieve its result (or error) and drop it."""
    if not future.cancelled():
        future.exception()
