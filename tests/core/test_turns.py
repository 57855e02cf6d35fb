"""Every turn rule on fake stages: no model is loaded and each test runs in milliseconds.

Timeouts, the error state and its recovery, the early transcript, the full-window retry,
follow-up questions, barge-in, stop from every state, a stage that raises, a chime that cannot
play, the debug recordings. The same rules run on the real models in ``test_pipeline.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from appliance.clock import FakeClock
from appliance.controller import NOT_UNDERSTOOD, Moot, Recognition, Reply
from appliance.errors import AudioDeviceError
from appliance.events import (
    ErrorRaised,
    Event,
    ListeningStarted,
    SessionEnded,
    SpeechFinished,
    StageEnded,
    StageStarted,
    State,
    TranscriptReady,
    WakeDetected,
)
from appliance.events import StateChanged as StateChangedEvent
from appliance.pipeline import Pipeline, fresh_scores
from appliance.turn import TOO_LONG
from appliance.vad import ANSWER_PAUSE_S, EARLY_PAUSE_S
from tests.scripted import ScriptedMic, next_state, states

from .fakes import (
    FakeChooser,
    Fakes,
    FakeStt,
    fake_pipeline,
    fake_settings,
    silence,
    speech_frames,
    wake_frames,
)

QUIET = replace(fake_settings(), listen=replace(fake_settings().listen, chime=False))


class Answers:
    """An intent handler that answers every intent by its name (and can ask back once)."""

    def __init__(self, follow_up: bool = False, error: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.follow_up = follow_up
        self.error = error

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        self.calls.append(recognition.name)
        if self.error is not None:
            raise self.error
        if self.follow_up and len(self.calls) == 1:
            return Reply("Which one?", follow_up=True)
        return Reply(f"Answer to {recognition.name}.")


@contextlib.asynccontextmanager
async def running(pipeline: Pipeline) -> AsyncIterator[ScriptedMic]:
    """The pipeline on a scripted microphone, ready (idle) when this yields."""
    mic = ScriptedMic()
    task = asyncio.create_task(pipeline.run(mic), name="frames")
    try:
        with pipeline.events.subscribe() as sub:
            mic.say(silence(0.24))
            await next_state(sub, State.IDLE, 5)
        yield mic
    finally:
        mic.close()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        await pipeline.close()


def command(mic: ScriptedMic, seconds: float = 0.8, then_s: float = 0.6) -> None:
    """The wake word, then speech, then silence (long enough to end the command)."""
    mic.say(wake_frames())
    mic.say(speech_frames(seconds))
    mic.say(silence(then_s))


async def one_command(pipeline: Pipeline, **command_args: float) -> list[Event]:
    """The pipeline running, a command said (:func:`command`), the events until idle again."""
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic, **command_args)
            return await next_state(sub, State.IDLE, 5)


E = TypeVar("E", bound=Event)


def of(kind: type[E], events: list[Event]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_command_runs_its_stages_in_order_with_a_start_and_an_end_each() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            events = await next_state(sub, State.SPEAKING, 5)
            events += await next_state(sub, State.IDLE, 5)
    assert states(events) == ["wake", "listening", "thinking", "speaking", "idle"]
    stages = [(type(e).__name__, e.stage) for e in events
              if isinstance(e, StageStarted | StageEnded)]
    assert stages == [(kind, stage) for stage in ("listen", "stt", "intent", "answer")
                      for kind in ("StageStarted", "StageEnded")]
    ended = of(StageEnded, events)
    assert [e.outcome for e in ended][:3] == ["speech-end", "", "GetTime"]
    assert fakes.player.spoken == ["Answer to GetTime."]
    assert [e.reason for e in of(SessionEnded, events)] == ["answered"]
    assert pipeline.last_reply == Reply("Answer to GetTime.")


async def test_thinking_longer_than_its_timeout_says_so_and_goes_idle() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    fakes.stt.gate.clear()  # the transcriber hangs
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.THINKING, 5)
            events = await next_state(sub, State.IDLE, 5)
            fakes.stt.gate.set()
    assert states(events) == ["speaking", "idle"]
    assert fakes.player.spoken == [TOO_LONG]


async def test_speaking_longer_than_its_timeout_is_cut() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    pipeline.add_intent_handler(Answers())
    fakes.player.hold.clear()  # the answer never ends by itself
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.SPEAKING, 5)
            events = await next_state(sub, State.IDLE, 5)
    (finished,) = of(SpeechFinished, events)
    assert finished.cancelled
    assert fakes.player.finished == []
    assert [e.reason for e in of(SessionEnded, events)] == ["answered"]


async def test_a_failed_turn_shows_the_error_for_error_retry_s_then_recovers() -> None:
    clock = FakeClock(1_900_000_000.0)
    settings = replace(QUIET, pipeline=replace(QUIET.pipeline, error_retry_s=5.0))
    pipeline, fakes = fake_pipeline(settings=settings, clock=clock)
    fakes.stt.error = RuntimeError("decoder exploded")
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            events = await next_state(sub, State.ERROR, 5)
            # Audio keeps flowing, a wake word even: the error stays for error_retry_s.
            mic.say(silence(2.0))
            command(mic)
            mic.say(silence(1.0))
            await asyncio.sleep(0.2)
            assert pipeline.state is State.ERROR
            clock.advance(4.9)
            await asyncio.sleep(0.05)
            assert pipeline.state is State.ERROR
            clock.advance(0.2)
            events += await next_state(sub, State.IDLE, 5)
            command(mic)  # and it hears the wake word again
            events += await next_state(sub, State.LISTENING, 5)
    (error,) = of(ErrorRaised, events)
    assert error.code == "stt_failed" and "decoder exploded" in error.message
    assert len(of(WakeDetected, events)) == 2  # the first command's and the last: none between
    assert "error" in [e.reason for e in of(SessionEnded, events)]


@pytest.mark.parametrize(("break_it", "code"), [
    (lambda f: setattr(f.stt, "error", RuntimeError("no")), "stt_failed"),
    (lambda f: setattr(f.player, "speak_error", RuntimeError("no")), "tts_failed"),
    (lambda f: setattr(f.player, "speak_error", AudioDeviceError("unplugged")),
     "audio_device_unavailable"),
    (None, "intent_failed"),
])
async def test_a_stage_that_raises_becomes_a_typed_error(break_it: object, code: str) -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    pipeline.add_intent_handler(Answers(error=None if break_it else KeyError("slot")))
    if callable(break_it):
        break_it(fakes)
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            events = await next_state(sub, State.ERROR, 5)
    (raised,) = of(ErrorRaised, events)
    assert raised.code == code
    assert [e.reason for e in events if isinstance(e, StateChangedEvent)][-1] == code


async def test_the_early_transcript_is_dropped_when_speech_goes_on() -> None:
    pipeline, fakes = fake_pipeline(Fakes(stt=FakeStt("what", "what time is it")), QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            mic.say(wake_frames())
            mic.say(speech_frames(0.4))
            mic.say(silence(0.24))  # a pause: the early transcript starts ("what")
            mic.say(speech_frames(0.4))  # ... and they go on
            mic.say(silence(0.6))
            events = await next_state(sub, State.IDLE, 5)
    first, second = fakes.stt.calls
    assert second.speech_frames > first.speech_frames  # the whole command, heard again
    assert [e.text for e in of(TranscriptReady, events)] == ["what time is it"]
    assert fakes.player.spoken == ["Answer to GetTime."]


async def test_the_early_transcript_is_used_when_nothing_more_is_said() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.IDLE, 5)
    assert len(fakes.stt.calls) == 1
    assert pipeline.timing.transcribed >= pipeline.timing.end_of_speech > 0


@pytest.mark.parametrize(("full", "answer", "calls"), [
    ("what time is it", "Answer to GetTime.", [False, True]),
    ("the garden looks lovely", "Sorry, I didn't understand.", [False, True]),
])
async def test_a_transcript_not_understood_is_heard_once_more_in_the_full_window(
    full: str, answer: str, calls: list[bool]
) -> None:
    stt = FakeStt("what tim is it", full_window_texts=(full,))
    pipeline, fakes = fake_pipeline(Fakes(stt=stt), QUIET)
    pipeline.add_intent_handler(Answers())
    events = await one_command(pipeline)
    assert [c.full_window for c in stt.calls] == calls  # once, never twice
    assert [e.text for e in of(TranscriptReady, events)] == [full]
    assert fakes.player.spoken == [answer]


async def test_a_transcript_not_understood_is_chosen_among_the_known_commands_first() -> None:
    """The closed-vocabulary step runs on the same audio before the full-window retry; what
    it chooses is acted on, and the transcript published is what Whisper wrote."""
    stt = FakeStt("can't sell it all timers")
    stt.scores = {"can't sell it all timers": -12.0, "cancel all timers": -13.5}
    cancel = Recognition("GetTime", {}, 1.0, "cancel all timers")
    closed = FakeChooser({"can't sell it all timers": cancel})
    pipeline, fakes = fake_pipeline(Fakes(stt=stt, closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    events = await one_command(pipeline)
    assert [c.full_window for c in stt.calls] == [False]  # chosen: no full-window retry
    assert closed.scored == [[-12.0, -13.5]]  # scored against the transcript's own audio
    assert [e.text for e in of(TranscriptReady, events)] == ["can't sell it all timers"]
    assert fakes.player.spoken == ["Answer to GetTime."]
    assert "closed" in pipeline.timing.stages


async def test_nothing_chosen_goes_on_to_the_full_window_then_not_understood() -> None:
    stt = FakeStt("the garden looks lovely", full_window_texts=("the garden looks lovely",))
    pipeline, fakes = fake_pipeline(Fakes(stt=stt, closed=FakeChooser()), QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.IDLE, 5)
    assert [c.full_window for c in stt.calls] == [False, True]
    assert fakes.player.spoken == ["Sorry, I didn't understand."]


def heard_until(events: list[Event]) -> list[str]:
    """How listening ended, for each turn."""
    return [e.outcome for e in of(StageEnded, events) if e.stage == "listen"]


async def test_a_whole_command_is_answered_after_a_short_pause() -> None:
    """Not after the whole end-of-speech silence: the microphone gives 0.24 s of silence and
    then nothing more, and the turn answers (end_silence_s is 0.4 s)."""
    closed = FakeChooser(whole=("what time is it",))
    pipeline, fakes = fake_pipeline(Fakes(closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    assert pipeline.settings.listen.end_silence_s > 0.24
    events = await one_command(pipeline, then_s=0.24)
    assert heard_until(events) == ["complete"]
    assert closed.judged == ["what time is it"]
    assert fakes.player.spoken == ["Answer to GetTime."]
    assert [c.full_window for c in fakes.stt.calls] == [False]  # the early transcript, used


async def test_a_command_that_may_go_on_waits_for_the_end_of_speech_silence() -> None:
    closed = FakeChooser(whole=())  # "set a timer for 10 minutes" ... "for the pasta"
    pipeline, _fakes = fake_pipeline(Fakes(closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic, then_s=0.24)
            with pytest.raises(TimeoutError):
                await next_state(sub, State.THINKING, 0.5)
            mic.say(silence(0.24))
            events = await next_state(sub, State.IDLE, 5)
    assert heard_until(events) == ["speech-end"]
    assert closed.judged == ["what time is it"]


async def test_words_said_after_the_pause_are_waited_for() -> None:
    """The early transcript is held while the user goes on: it is not taken for the command."""
    closed = FakeChooser(whole=("turn it up",))
    stt = FakeStt("turn it up", "turn it up to seven")
    pipeline, _fakes = fake_pipeline(Fakes(stt=stt, closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            stt.gate.clear()  # the early transcript takes its time
            mic.say(wake_frames())
            mic.say(speech_frames(0.5))
            mic.say(silence(0.24))  # a pause: the early transcript starts
            mic.say(speech_frames(0.5))  # and the user goes on
            await asyncio.sleep(0.2)
            stt.gate.set()
            mic.say(silence(0.6))
            events = await next_state(sub, State.IDLE, 5)
    assert heard_until(events) == ["speech-end"]
    assert [e.text for e in of(TranscriptReady, events)] == ["turn it up to seven"]


async def test_a_pause_while_an_earlier_pause_is_transcribed_gets_its_own_transcript() -> None:
    """The transcriber still busy with a first pause's words when the user goes on and stops:
    the last pause is transcribed once it is free, and a whole command is answered then,
    without the rest of the end-of-speech silence (the microphone gives no more)."""
    closed = FakeChooser(whole=("what time is it",))
    stt = FakeStt("what time", "what time is it")
    pipeline, fakes = fake_pipeline(Fakes(stt=stt, closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    assert pipeline.settings.listen.end_silence_s > 0.16
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            stt.gate.clear()  # the first pause's transcript takes its time
            mic.say(wake_frames())
            mic.say(speech_frames(0.5))
            mic.say(silence(0.16))  # a pause: the first early transcript starts ("what time")
            mic.say(speech_frames(0.3))
            mic.say(silence(0.16))  # the end, shorter than end_silence_s
            await asyncio.sleep(0.2)
            stt.gate.set()
            events = await next_state(sub, State.IDLE, 5)
    assert heard_until(events) == ["complete"]
    assert closed.judged == ["what time is it"]  # (the first pause's words: dropped, not judged)
    first, last = fakes.stt.calls
    assert last.speech_frames > first.speech_frames
    assert [e.text for e in of(TranscriptReady, events)] == ["what time is it"]
    assert fakes.player.spoken == ["Answer to GetTime."]


async def test_a_whole_command_is_not_answered_in_a_gap_between_words() -> None:
    """The early transcript starts after one frame of silence and may be judged whole while
    the silence is that short: the turn answers only after ANSWER_PAUSE_S, and the words said
    after the gap are part of the command."""
    closed = FakeChooser(whole=("what time is it",))
    stt = FakeStt("what time is it", "what time is it in tokyo")
    pipeline, fakes = fake_pipeline(Fakes(stt=stt, closed=closed), QUIET)
    pipeline.add_intent_handler(Answers())
    assert EARLY_PAUSE_S < ANSWER_PAUSE_S
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            mic.say(wake_frames())
            mic.say(speech_frames(0.5))
            mic.say(silence(EARLY_PAUSE_S))  # a gap: the early transcript starts
            assert await asyncio.to_thread(closed.asked.wait, 5)  # judged while it lasts,
            await asyncio.sleep(0.1)  # and the verdict has reached the turn
            mic.say(speech_frames(0.4))  # and the user goes on
            mic.say(silence(0.6))
            events = await next_state(sub, State.IDLE, 5)
    assert closed.judged[0] == "what time is it"
    assert heard_until(events) == ["speech-end"]
    assert [e.text for e in of(TranscriptReady, events)] == ["what time is it in tokyo"]
    assert fakes.player.spoken == [NOT_UNDERSTOOD]  # (the fake intents know no Tokyo)


class MootAnswers(Answers):
    """Answers, and says that cancelling a timer is moot now (a skill with no timers)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = Moot(idle=frozenset({"TimerCancel"}))

    def moot(self) -> Moot:
        return self.now


async def test_what_the_skills_say_is_moot_reaches_the_whole_command_check() -> None:
    """Asked in the event loop as each pause starts, from every handler that knows (the
    skills, whose state changes there), and handed with the transcript to the check."""
    closed = FakeChooser(whole=("cancel the timer",))
    pipeline, _fakes = fake_pipeline(Fakes(stt=FakeStt("cancel the timer"), closed=closed),
                                     QUIET)
    handler = MootAnswers()
    pipeline.add_intent_handler(Answers())  # (knows nothing of it)
    pipeline.add_intent_handler(handler)
    first = handler.now
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic, then_s=0.24)  # (shorter than end_silence_s: only a whole command
            events = await next_state(sub, State.IDLE, 5)  # ends it)
            judged = len(closed.judged)
            handler.now = Moot(one_target=frozenset({"AlarmCancel"}))  # the state changed
            command(mic, then_s=0.24)
            events += await next_state(sub, State.IDLE, 5)
    assert heard_until(events) == ["complete", "complete"]
    assert judged and closed.moots[:judged] == [first] * judged
    assert closed.moots[judged:] == [handler.now] * (len(closed.judged) - judged)
    assert len(closed.judged) > judged


async def test_answering_early_can_be_turned_off() -> None:
    settings = replace(QUIET, listen=replace(QUIET.listen, answer_early=False))
    closed = FakeChooser(whole=("what time is it",))
    pipeline, _fakes = fake_pipeline(Fakes(closed=closed), settings)
    pipeline.add_intent_handler(Answers())
    events = await one_command(pipeline)
    assert heard_until(events) == ["speech-end"]
    assert closed.judged == []


async def test_a_question_back_listens_again_without_the_wake_word() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    answers = Answers(follow_up=True)
    pipeline.add_intent_handler(answers)
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            events = await next_state(sub, State.SPEAKING, 5)
            events += await next_state(sub, State.LISTENING, 5)
            mic.say(speech_frames(0.8))
            mic.say(silence(0.6))
            events += await next_state(sub, State.SPEAKING, 5)
            events += await next_state(sub, State.IDLE, 5)
    assert states(events) == ["wake", "listening", "thinking", "speaking", "listening",
                              "thinking", "speaking", "idle"]
    assert [e.source for e in of(ListeningStarted, events)] == ["wake", "follow-up"]
    assert fakes.player.spoken == ["Which one?", "Answer to GetTime."]


async def test_the_wake_word_while_speaking_cuts_the_answer_and_listens() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    pipeline.add_intent_handler(Answers())
    fakes.player.hold.clear()
    settings = replace(QUIET, pipeline=replace(QUIET.pipeline, speaking_timeout_s=30.0))
    pipeline.settings = settings
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.SPEAKING, 5)
            mic.say(wake_frames())
            events = await next_state(sub, State.LISTENING, 5)
            mic.say(silence(5.0))  # then nothing is said
            events += await next_state(sub, State.IDLE, 5)
    (finished,) = of(SpeechFinished, events)
    assert finished.cancelled
    assert [e.reason for e in of(SessionEnded, events)] == ["cancelled", "no-speech"]
    assert fakes.wake.resets == 1  # after the command that was never said


async def _reach(pipeline: Pipeline, fakes: Fakes, mic: ScriptedMic, state: State) -> None:
    with pipeline.events.subscribe() as sub:
        if state is State.LISTENING:
            mic.say(wake_frames())
            mic.say(speech_frames(0.4))
        elif state in (State.THINKING, State.SPEAKING):
            if state is State.THINKING:
                fakes.stt.gate.clear()
            fakes.player.hold.clear()
            command(mic)
        elif state is State.MUTED:
            pipeline.set_muted(True)
        if state is not State.IDLE:
            await next_state(sub, state, 5)


@pytest.mark.parametrize("state", [State.IDLE, State.LISTENING, State.THINKING,
                                   State.SPEAKING, State.MUTED])
async def test_stop_from_each_state_ends_the_turn_and_rests(state: State) -> None:
    settings = replace(QUIET, pipeline=replace(QUIET.pipeline, thinking_timeout_s=30.0,
                                               speaking_timeout_s=30.0))
    pipeline, fakes = fake_pipeline(settings=settings)
    pipeline.add_intent_handler(Answers())
    stopped: list[str] = []
    pipeline.add_stop_listener(lambda: stopped.append("ring"))
    async with running(pipeline) as mic:
        await _reach(pipeline, fakes, mic, state)
        with pipeline.events.subscribe() as sub:
            pipeline.stop()
            fakes.stt.gate.set()
            rest = State.MUTED if state is State.MUTED else State.IDLE
            assert pipeline.state is rest
            mic.say(silence(1.0))
            await asyncio.sleep(0.2)
            assert pipeline.state is rest  # nothing of the stopped turn comes back
            after = [e for _ in range(100) if (e := sub.get_nowait()) is not None]
    assert stopped == ["ring"]
    ended = [e.reason for e in of(SessionEnded, after)]
    assert ended == ([] if state in (State.IDLE, State.MUTED) else ["cancelled"])
    assert fakes.player.finished == []


async def test_a_chime_that_cannot_play_does_not_cost_the_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline, fakes = fake_pipeline()  # the chime on, as by default
    pipeline.add_intent_handler(Answers())
    fakes.player.chime_error = AudioDeviceError("the speaker is unplugged")
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            mic.say(wake_frames())
            mic.say(silence(0.24))  # a person waits for the chime
            mic.say(speech_frames(0.8))
            mic.say(silence(0.6))
            events = await next_state(sub, State.SPEAKING, 5)
            await next_state(sub, State.IDLE, 5)
    assert fakes.player.chimes == 1
    assert states(events) == ["wake", "listening", "thinking", "speaking"]
    assert any("cannot play the chime" in r.getMessage() for r in caplog.records)


async def test_one_chime_at_a_time_however_often_listening_starts() -> None:
    pipeline, fakes = fake_pipeline()
    fakes.player.chime_hold.clear()  # each chime lasts until something cuts it
    async with running(pipeline):
        for _ in range(20):
            pipeline.start_listening("button")
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        assert fakes.player.chimes == 20
        assert fakes.player.chiming == 1
        pipeline.stop()


async def test_a_command_said_under_the_chime_is_heard_from_its_first_frame() -> None:
    pipeline, fakes = fake_pipeline()
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            mic.say(wake_frames())
            mic.say(speech_frames(1.0))
            mic.say(silence(0.6))
            await next_state(sub, State.IDLE, 5)
    assert fakes.player.chimes == 1
    (call,) = fakes.stt.calls
    assert call.speech_frames == 1 + round(1.0 / 0.08)  # the wake frame and every word after it


async def hear_after_the_wake_word(gap_s: float) -> FakeStt:
    """The wake word's end before and after the frame it fires on (the VAD calls it speech),
    ``gap_s`` of silence, then a 1 s command."""
    pipeline, fakes = fake_pipeline()
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            mic.say(speech_frames(0.16))
            mic.say(wake_frames())
            mic.say(speech_frames(0.08))
            mic.say(silence(gap_s))
            mic.say(speech_frames(1.0))
            mic.say(silence(0.6))
            await next_state(sub, State.IDLE, 5)
    return fakes.stt


async def test_the_wake_words_end_is_not_transcribed_when_a_pause_follows_it() -> None:
    stt = await hear_after_the_wake_word(0.4)
    assert stt.calls[-1].speech_frames == round(1.0 / 0.08)  # the command's frames alone


def test_the_pre_roll_is_scored_from_a_fresh_vad_and_left_fresh() -> None:
    log: list[str] = []

    class Vad:
        def process(self, frame: bytes) -> float:
            log.append(f"process {frame!r}")
            return len(frame) / 10

        def reset(self) -> None:
            log.append("reset")

    assert fresh_scores(Vad(), [b"a", b"bb"]) == [0.1, 0.2]
    assert log == ["reset", "process b'a'", "process b'bb'", "reset"]


async def test_speech_run_on_from_the_wake_word_is_all_transcribed() -> None:
    stt = await hear_after_the_wake_word(0.08)  # one frame: a gap between words
    assert stt.calls[-1].speech_frames == 2 + 1 + 1 + round(1.0 / 0.08)


async def test_an_announcement_is_spoken_and_cut_by_stop() -> None:
    pipeline, fakes = fake_pipeline(settings=QUIET)
    async with running(pipeline):
        with pipeline.events.subscribe() as sub:
            await asyncio.wait_for(pipeline.say("Dinner is ready."), 5)
            fakes.player.hold.clear()
            said = asyncio.create_task(pipeline.say("A long one."))
            await next_state(sub, State.SPEAKING, 5)
            pipeline.stop()
            await asyncio.wait_for(said, 5)
    assert fakes.player.spoken == ["Dinner is ready.", "A long one."]
    assert fakes.player.finished == ["Dinner is ready."]
    assert pipeline.state is State.IDLE


async def test_saved_utterances_are_the_commands_heard_private_to_the_service(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "utterances"
    settings = replace(QUIET, debug=replace(QUIET.debug, save_utterances=5, dir=str(folder)))
    pipeline, _fakes = fake_pipeline(settings=settings)
    pipeline.add_intent_handler(Answers())
    async with running(pipeline) as mic:
        with pipeline.events.subscribe() as sub:
            command(mic)
            await next_state(sub, State.IDLE, 5)
            for _ in range(100):
                if list(folder.glob("*.txt")):
                    break
                await asyncio.sleep(0.02)
    (wav,) = folder.glob("utterance-*.wav")
    assert wav.with_suffix(".txt").read_text() == "what time is it\n"
    assert stat.S_IMODE(wav.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert wav.stat().st_size > 44 + 2 * 16000 * 0.8
