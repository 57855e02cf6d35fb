"""Speed and memory of the installed models on this machine (``appliance bench``).

Every figure comes from the real code path, measured the way a person (and the CPU) feels it:

- the wake word as the daemon spends it: the pipeline fed 80 ms frames at a microphone's pace
  over a minute of silence and a minute of speech, the whole process's CPU as % of one core
  (and, labelled as such, the engine fed frames back to back, which is cheaper per frame);
- end of command -> first answer audio from the *real* end of the spoken command (the last
  sample the bench put in the audio), fed in real time, so the wait for silence is included;
  then each stage's own time (the wait, transcription, intent, Piper's first audio), over
  several commands (time, timers, volume, stop);
- Whisper on a short command and Piper's first audio on their own, the peak memory.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from appliance.audio.format import FRAME_BYTES, FRAME_S, RATE_HZ, Int16Array, resample
from appliance.audio.sink import WavSink
from appliance.daemon import load_pipeline
from appliance.events import (
    Event,
    EventBus,
    ListeningStarted,
    ResponseReady,
    SessionEnded,
    StageEnded,
    WakeDetected,
)
from appliance.pipeline import Pipeline
from appliance.settings import Settings
from appliance.speaker import Speaker
from appliance.stages import SpeechToText
from appliance.stt import Transcript
from appliance.tts import Synthesizer
from appliance.turn import Timing
from appliance.wake import PairedWakeEngine, WakeEngine, WakeWord

COMMAND = "Set a timer for ten minutes, please."
# The end-to-end commands, in an order that leaves no timer behind: the time, timers, volume,
# stop (answered by silence: its figure is the end of the turn).
COMMANDS = ("What time is it?", COMMAND, "How much time is left on the timer?",
            "Turn the volume down.", "Cancel the timer.", "What's the date today?", "Stop.")
ANSWER = "It's 4:35 PM. Your pasta timer has nine minutes left."
SPEECH = "It's 4:35 PM. Your pasta timer has nine minutes left, and the tea is ready."
DAEMON_S = 60.0  # each of silence and speech; --quick: QUICK_DAEMON_S
QUICK_DAEMON_S = 5.0
ROUNDS, QUICK_ROUNDS = 2, 1  # of COMMANDS
LEAD_S, PAUSE_S, TAIL_S = 0.4, 0.5, 1.5  # silence before the wake word, after it, after all
SPEECH_END_DB = -40.0  # the command ends at its last sample this far under its peak
ROOM_TONE = 8.0  # standard deviation (int16) of the "silence": a quiet room, not zeros


def speech(tts: Synthesizer, text: str) -> Int16Array:
    audio = np.concatenate(list(tts.sentences(text)))
    return resample(audio, tts.rate_hz, RATE_HZ)


def last_sound(samples: Int16Array, db: float = SPEECH_END_DB) -> int:
    """The index of the last sample louder than ``db`` under the peak (-1: all silent)."""
    level = np.abs(samples.astype(np.int32))
    peak = int(level.max()) if len(level) else 0
    loud = np.flatnonzero(level > peak * 10 ** (db / 20)) if peak else np.zeros(0, np.int64)
    return int(loud[-1]) if len(loud) else -1


def room_tone(seconds: float, seed: int = 0) -> Int16Array:
    noise = np.random.default_rng(seed).normal(0.0, ROOM_TONE, int(seconds * RATE_HZ))
    return noise.astype(np.int16)


def clip(wake: Int16Array, command: Int16Array) -> tuple[Int16Array, int]:
    """A microphone's audio for one command after the wake word, and the index of the
    command's last sample of sound (its real end of speech)."""
    lead, pause, tail = room_tone(LEAD_S, 1), room_tone(PAUSE_S, 2), room_tone(TAIL_S, 3)
    start = len(lead) + len(wake) + len(pause)
    audio = np.concatenate([lead, wake, pause, command, tail])
    return audio, start + last_sound(command)


def looped(samples: Int16Array, seconds: float, gap_s: float = 0.3) -> Int16Array:
    """``samples`` said again and again (``gap_s`` apart) for ``seconds``."""
    once = np.concatenate([samples, room_tone(gap_s)])
    repeats = int(np.ceil(seconds * RATE_HZ / len(once)))
    return np.tile(once, repeats)[: int(seconds * RATE_HZ)]


class PacedSource:
    """A microphone playing ``samples`` in real time. Frame n is delivered n frames after the
    first, as a capture device delivers a frame once its last sample is recorded."""

    name = "bench"

    def __init__(self, samples: Int16Array) -> None:
        self._data = samples.astype("<i2").tobytes()
        self.started_at = 0.0  # monotonic seconds, when the first frame was delivered

    async def __aenter__(self) -> PacedSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()  # its time() is time.monotonic()
        self.started_at = loop.time()
        for n, offset in enumerate(range(0, len(self._data), FRAME_BYTES)):
            yield self._data[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            await asyncio.sleep(max(0.0, self.started_at + (n + 1) * FRAME_S - loop.time()))

    def recorded_at(self, sample: int) -> float:
        """When a microphone recorded ``sample`` (monotonic seconds)."""
        return self.started_at + (sample + 1) / RATE_HZ - FRAME_S


# -- the wake word ----------------------------------------------------------------------------

class _TimedEngine:
    """The wake engine, adding up the CPU its own thread spends per frame."""

    def __init__(self, engine: WakeEngine) -> None:
        self.engine = engine
        self.names = engine.names
        self.cpu_s: list[float] = []

    def scores(self, frame: bytes) -> dict[str, float]:
        start = time.thread_time()
        try:
            return self.engine.scores(frame)
        finally:
            self.cpu_s.append(time.thread_time() - start)

    def reset(self) -> None:
        self.engine.reset()


class _TimedPairedEngine(_TimedEngine):
    """The same for an engine that scores two frames in a run: half its CPU to each."""

    def __init__(self, engine: PairedWakeEngine) -> None:
        super().__init__(engine)
        self.paired = engine

    def scores_pair(self, first: bytes, second: bytes
                    ) -> tuple[dict[str, float], dict[str, float]]:
        start = time.thread_time()
        try:
            return self.paired.scores_pair(first, second)
        finally:
            self.cpu_s += [(time.thread_time() - start) / 2] * 2


def _timed(engine: WakeEngine) -> _TimedEngine:
    return _TimedPairedEngine(engine) if isinstance(engine, PairedWakeEngine) else \
        _TimedEngine(engine)


def bench_wake_back_to_back(wake: WakeWord, audio: Int16Array) -> dict[str, float]:
    """Frames fed as fast as the engine takes them: warm caches, so less than the daemon."""
    raw = audio.astype("<i2").tobytes()
    frames = [raw[i : i + FRAME_BYTES] for i in range(0, len(raw) - FRAME_BYTES, FRAME_BYTES)]
    frames = (frames * (1 + 250 // max(1, len(frames))))[:250]
    wake.engine.scores(frames[0])  # the first frame fills buffers
    start = time.process_time()
    for frame in frames[1:]:
        wake.engine.scores(frame)
    per_frame_s = (time.process_time() - start) / (len(frames) - 1)
    wake.reset()
    return {"back_to_back_us_per_frame": round(per_frame_s * 1e6),
            "back_to_back_core_percent": round(100 * per_frame_s / FRAME_S, 2)}


async def bench_wake_daemon(pipeline: Pipeline, wake: WakeWord, audio: Int16Array,
                            label: str) -> dict[str, float]:
    """The idle daemon on ``audio`` at a microphone's pace: the whole process's CPU over the
    wall time (% of one core), the engine's own CPU per frame, and the wake words heard."""
    timed, engine = _timed(wake.engine), wake.engine
    wake.engine = timed
    with pipeline.events.subscribe(64) as sub:
        cpu, wall = time.process_time(), time.monotonic()
        try:
            await pipeline.run(PacedSource(audio))
        finally:
            wake.engine = engine
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        woke = sum(isinstance(e, WakeDetected) for e in iter(sub.get_nowait, None))
    # the mean: the CPU a frame costs on average (what adds up), not a typical frame
    engine_s = statistics.fmean(timed.cpu_s[1:]) if len(timed.cpu_s) > 1 else float("nan")
    return {f"{label}_core_percent": round(100 * cpu / wall, 2),
            f"{label}_engine_us_per_frame": round(engine_s * 1e6),
            f"{label}_wakes": woke}


# -- end of command -> first answer audio -----------------------------------------------------

class TimedStt:
    """The transcriber, recording when each transcription started and finished (monotonic):
    which one a turn used, and when recognition was really done."""

    def __init__(self, stt: SpeechToText, clock: Callable[[], float] = time.monotonic) -> None:
        self.stt = stt
        self.clock = clock
        self.calls: list[tuple[float, float]] = []

    @property
    def initial_prompt(self) -> str | None:
        return self.stt.initial_prompt

    @initial_prompt.setter
    def initial_prompt(self, prompt: str | None) -> None:
        self.stt.initial_prompt = prompt

    def transcribe(self, samples: Int16Array, *, full_window: bool = False) -> Transcript:
        started = self.clock()
        try:
            return self.stt.transcribe(samples, full_window=full_window)
        finally:
            self.calls.append((started, self.clock()))

    def score(self, transcript: Transcript, texts: Sequence[str]) -> list[float] | None:
        return self.stt.score(transcript, texts)


def used_call(calls: Sequence[tuple[float, float]], picked_at: float
              ) -> tuple[float, float] | None:
    """The transcription a turn used: the last to finish before the turn picked its
    transcript up (they run one at a time, in one thread)."""
    done = [call for call in calls if call[1] <= picked_at]
    return done[-1] if done else None


@dataclass(frozen=True)
class TurnMarks:
    """When the parts of one turn happened (monotonic seconds)."""

    spoken_end: float  # the command's last sample, as the microphone recorded it
    decided: float  # listening ended: the wait for silence is over
    transcribed: float  # the transcription used finished
    transcription_s: float  # its own time
    replied: float  # the reply was ready (the intent stage ended)
    first_audio: float | None  # None: answered by silence ("stop")
    ended: float  # the turn's end


def turn_figures(m: TurnMarks) -> dict[str, float]:
    """The figures of one turn, from the real end of speech; ``response_s``: the first
    answer audio, or the end of a turn answered by silence."""
    ready = max(m.decided, m.transcribed)
    out = {
        "wait_for_silence_s": m.decided - m.spoken_end,
        "end_of_speech_to_transcript_s": m.transcribed - m.spoken_end,
        "transcription_s": m.transcription_s,
        "transcription_after_wait_s": ready - m.decided,
        "intent_s": m.replied - ready,
        "response_s": (m.first_audio if m.first_audio is not None else m.ended) - m.spoken_end,
    }
    if m.first_audio is not None:
        out["tts_first_audio_s"] = m.first_audio - m.replied
        out["end_of_speech_to_first_audio_s"] = m.first_audio - m.spoken_end
        out["processing_s"] = m.first_audio - m.decided
    return {key: round(value, 3) for key, value in out.items()}


def stage_ends(events: Sequence[Event]) -> dict[str, StageEnded]:
    """The end of each stage of the turn the wake word started (empty: it did not wake)."""
    session = next((e.session_id for e in events
                    if isinstance(e, ListeningStarted) and e.source == "wake"), None)
    return {e.stage: e for e in events if isinstance(e, StageEnded) and e.session_id == session}


def turn_marks(events: Sequence[Event], timing: Timing, calls: Sequence[tuple[float, float]],
               spoken_end: float) -> TurnMarks | None:
    """The marks of the turn the wake word started (None: no wake word, or no reply)."""
    ends = {stage: e.at for stage, e in stage_ends(events).items()}
    session = next((e.session_id for e in stage_ends(events).values()), None)
    ended = next((e.at for e in events
                  if isinstance(e, SessionEnded) and e.session_id == session), None)
    call = used_call(calls, timing.transcribed) if timing.transcribed else None
    if session is None or ended is None or call is None or not {"listen", "intent"} <= set(ends):
        return None
    return TurnMarks(spoken_end, ends["listen"], call[1], call[1] - call[0], ends["intent"],
                     timing.first_audio or None, ended)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and range (NaN when there is nothing to measure)."""
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


async def bench_turn(pipeline: Pipeline, stt: TimedStt, audio: Int16Array,
                     end: int) -> dict[str, Any]:
    source = PacedSource(audio)
    stt.calls.clear()
    with pipeline.events.subscribe(1024) as sub:
        await pipeline.run(source)
        events = list(iter(sub.get_nowait, None))
    marks = turn_marks(events, pipeline.timing, stt.calls, source.recorded_at(end))
    intent = stage_ends(events).get("intent")
    answer = next((e.text for e in events if isinstance(e, ResponseReady)), None)
    figures: dict[str, Any] = {"woke": bool(stage_ends(events)),
                               "intent": intent.outcome or None if intent else None,
                               "answer": answer}
    if marks is not None:
        figures |= turn_figures(marks)
        figures["timing_stages"] = {k: round(v, 3) for k, v in pipeline.timing.stages.items()}
    return figures


async def bench_commands(pipeline: Pipeline, tts: Synthesizer, rounds: int) -> dict[str, Any]:
    """Each of :data:`COMMANDS` after "Hey Jarvis", fed in real time, ``rounds`` times."""
    real = pipeline.stages.stt
    timed = TimedStt(real)
    pipeline.stages = replace(pipeline.stages, stt=timed)
    wake = speech(tts, "Hey Jarvis.")
    clips = {text: clip(wake, speech(tts, text)) for text in COMMANDS}
    turns = []
    try:
        for _ in range(rounds):
            for text, (audio, end) in clips.items():
                turns.append({"command": text} | await bench_turn(pipeline, timed, audio, end))
                pipeline.set_volume(pipeline.settings.audio.output.volume)
    finally:
        pipeline.stages = replace(pipeline.stages, stt=real)
    return {"turns": len(turns), "woke": sum(t["woke"] for t in turns),
            "end_silence_s": pipeline.settings.listen.end_silence_s,
            "answer_early": pipeline.settings.listen.answer_early,
            **{key: spread([t[key] for t in turns if key in t]) for key in (
                "end_of_speech_to_first_audio_s", "processing_s", "wait_for_silence_s",
                "end_of_speech_to_transcript_s", "transcription_s",
                "transcription_after_wait_s", "intent_s", "tts_first_audio_s")},
            "per_turn": turns}


# -- the models on their own ------------------------------------------------------------------

def bench_stt(pipeline: Pipeline, command: Int16Array) -> dict[str, float]:
    pipeline.stages.stt.transcribe(command)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        pipeline.stages.stt.transcribe(command)
        times.append(time.perf_counter() - start)
    latency = statistics.median(times)
    audio_s = len(command) / RATE_HZ
    return {"command_s": round(audio_s, 2), "latency_s": round(latency, 3),
            "rtf": round(latency / audio_s, 3)}


def bench_tts(tts: Synthesizer, runs: int = 3) -> dict[str, float]:
    """Piper on :data:`ANSWER`, warm: the first audio (median of ``runs``), the real-time
    factor."""
    firsts, factors = [], []
    for _ in range(runs):
        start = time.perf_counter()
        first, samples = 0.0, 0
        for sentence in tts.sentences(ANSWER):
            first = first or time.perf_counter() - start
            samples += len(sentence)
        firsts.append(first)
        factors.append((time.perf_counter() - start) / (samples / tts.rate_hz))
    return {"first_audio_s": round(statistics.median(firsts), 3),
            "rtf": round(statistics.median(factors), 3)}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def _run(settings: Settings, quick: bool) -> dict[str, Any]:
    pipeline = await load_pipeline(settings, WavSink(None, realtime=True), EventBus())
    daemon_s = QUICK_DAEMON_S if quick else DAEMON_S
    results: dict[str, Any] = {"wake": {"engine": settings.wake.engine, "daemon_s": daemon_s},
                               "peak_rss_mb": {"models_loaded": peak_rss_mb()}}
    try:
        player, wake = pipeline.stages.player, pipeline.stages.wake
        if not isinstance(player, Speaker) or not isinstance(wake, WakeWord):
            raise TypeError("load_pipeline builds the real Speaker and WakeWord")
        tts = player.tts
        command = speech(tts, COMMAND)
        # (both clips made first: Piper's run is not the daemon's, and its after-effects,
        # cold caches and a heap given back, are not counted in the speech figure)
        talk = looped(speech(tts, SPEECH), daemon_s)
        results["wake"] |= bench_wake_back_to_back(wake, command)
        results["wake"] |= await bench_wake_daemon(pipeline, wake, room_tone(daemon_s),
                                                   "silence")
        results["wake"] |= await bench_wake_daemon(pipeline, wake, talk, "speech")
        results["peak_rss_mb"]["after_wake"] = peak_rss_mb()
        results["end_of_command"] = await bench_commands(
            pipeline, tts, QUICK_ROUNDS if quick else ROUNDS)
        results["peak_rss_mb"]["after_commands"] = peak_rss_mb()
        results["stt"] = {"model": settings.stt.model, "threads": settings.stt.threads,
                          **bench_stt(pipeline, command)}
        results["tts"] = {"threads": settings.tts.threads, **bench_tts(tts)}
    finally:
        await pipeline.close()
    results["peak_rss_mb"]["end"] = peak_rss_mb()
    return results


def run_bench(settings: Settings, *, quick: bool = False) -> dict[str, Any]:
    """``quick``: seconds instead of a minute of each wake figure, one round of commands."""
    from appliance.hardware import bench_animator

    with tempfile.TemporaryDirectory(prefix="appliance-bench-") as state:
        # not the speaker's own timers and alarms: none rings into the figures, none is used up
        skills = replace(settings.skills, state_dir=state)
        results = asyncio.run(_run(replace(settings, skills=skills), quick))
    animator = bench_animator(1.0 if quick else 3.0)
    results["led_animator_core_percent"] = round(animator["cpu_percent"], 2)
    results["led_animator_fps"] = round(animator["fps"], 1)
    return results
