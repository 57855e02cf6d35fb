"""``appliance bench audio``: spoken commands through the daemon's own pipeline.

Every command of the set (``bench_data/spoken.yaml``, else ``audio_commands.yaml``) is said
by every voice (:mod:`appliance.intent.voices`: Piper, espeak-ng, flite) after "Hey Jarvis",
with a short or a long gap, in each room (:mod:`appliance.intent.rooms`: dry, or reverberation
+ a second talker + pink noise). Each clip goes through one real
:class:`~appliance.pipeline.Pipeline` built as the daemon builds it
(:func:`~appliance.daemon.load_pipeline`: every model, the skills), loaded once: the wake word
must start the turn, the VAD end it, Whisper transcribe it and the intent engine recognise it.

The microphone (:class:`~appliance.intent.audio_rig.BenchSource`) gives the clip's 80 ms frames
as fast as the pipeline takes them (``realtime``: at a microphone's pace), then the clip's room
tone until the turn has ended; while the turn thinks or speaks it is paced as a microphone is.
What the pipeline plays (the wake chime, through the real
:meth:`~appliance.speaker.Speaker.play_chime`) comes back into the microphone frames that
follow, as a room brings it back (:class:`~appliance.intent.rooms.Echo`). Answers are not
synthesised (:class:`~appliance.intent.audio_rig.QuietPlayer`): they would cost time. Skills
run on a :class:`~appliance.clock.FakeClock` and start every clip with no timers, no alarms, no
question pending and the configured volume. Settings: the embedded defaults (the user's file is
not read), built-in sentences only.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from appliance.audio.format import RATE_HZ
from appliance.clock import FakeClock
from appliance.daemon import load_pipeline
from appliance.errors import ApplianceError
from appliance.events import (
    Event,
    EventBus,
    IntentRecognized,
    ListeningStarted,
    SessionEnded,
    State,
    TranscriptReady,
    WakeDetected,
)
from appliance.intent.audio_rig import BenchSource, EchoSink, QuietPlayer
from appliance.intent.audio_score import Outcome, scores
from appliance.intent.bench import DATA_DIR, Case, load_cases
from appliance.intent.rooms import (
    PAUSES_S,
    ROOMS,
    Clip,
    Echo,
    Microphone,
    assemble,
    in_room,
    room_echo,
)
from appliance.intent.voices import VOICE_NAMES, Speech, VoiceBox, check_engines, voice
from appliance.pipeline import Pipeline
from appliance.settings import Settings, load_settings
from appliance.skills.schedule import Schedule
from appliance.skills.service import Installed

WAKE_TEXT = "Hey Jarvis."
# What the second talker says: nothing a command is made of (no numbers, times or devices).
TALKER_SENTENCES = (
    "I think the bakery on the corner closes early on Sundays.",
    "She said the train was late again because of the leaves.",
    "We should paint the fence before the weather turns.",
    "Did you remember to water the plants on the balcony?",
    "The match went to extra time and nobody scored.",
    "My sister is moving to a flat near the river in June.",
)
COMMAND_SETS = ("spoken.yaml", "audio_commands.yaml")
T0 = datetime(2030, 1, 7, 9, 30, tzinfo=UTC).timestamp()  # the skills' time: a Monday morning


@dataclass(frozen=True)
class AudioOptions:
    voices: tuple[str, ...] = VOICE_NAMES
    rooms: tuple[str, ...] = ("dry", "room")
    pauses: tuple[str, ...] = ("none", "pause")
    limit: int | None = None
    commands: Path | None = None  # default: the first of COMMAND_SETS in data_dir
    data_dir: Path | None = None
    chime: bool = True
    realtime: bool = False
    prompts: tuple[bool | None, ...] = (None,)  # skills.stt_prompt; None: the default's
    windows: tuple[float | None, ...] = (None,)  # stt.window_s; None: the default's


@dataclass(frozen=True)
class Trial:
    voice: str
    room: str
    pause: str
    index: int
    case: Case

    @property
    def seed(self) -> int:
        return zlib.crc32(f"{self.voice}|{self.index}|{self.pause}".encode())


# -- one pipeline, many clips -----------------------------------------------------------------

class Bench:
    def __init__(self, pipeline: Pipeline, sink: EchoSink, clock: FakeClock) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self.clock = clock
        self.volume = pipeline.settings.audio.output.volume

    @classmethod
    async def load(cls, settings: Settings) -> Bench:
        clock, sink = FakeClock(T0), EchoSink()
        pipeline = await load_pipeline(settings, sink, EventBus(), clock=clock)
        pipeline.stages = replace(pipeline.stages, player=QuietPlayer(pipeline.stages.player))
        return cls(pipeline, sink, clock)

    def fresh(self) -> None:
        """No timer, alarm, ring or question from the clip before; the configured volume."""
        installed = self.pipeline.extensions.get("skills")
        if isinstance(installed, Installed):
            skills = installed.skills
            skills.on_stop()
            if skills.book.schedule.sorted_timers() or skills.book.schedule.sorted_alarms():
                skills.book.schedule = Schedule()
                skills.book.commit()
        self.pipeline.set_volume(self.volume)
        self.pipeline.last_reply = None
        self.pipeline.stages.wake.reset()

    async def run(self, trial: Trial, clip: Clip, echo: Echo, *, realtime: bool) -> Outcome:
        self.fresh()
        mic = Microphone(clip, echo)
        self.sink.mic = mic
        source = BenchSource(mic, self.pipeline, realtime=realtime)
        with self.pipeline.events.subscribe(4096) as sub:
            await self.pipeline.run(source)
            events = list(iter(sub.get_nowait, None))
        self.sink.mic = None
        await self._recover()
        return outcome(trial, clip, events, source, mic.heard_at)

    async def _recover(self) -> None:
        """A failed turn holds the error state for ``error_retry_s`` of the (fake) clock."""
        if self.pipeline.state is State.ERROR:
            self.clock.advance(self.pipeline.settings.pipeline.error_retry_s)
            for _ in range(20):
                await asyncio.sleep(0)

    async def close(self) -> None:
        await self.pipeline.close()


def outcome(trial: Trial, clip: Clip, events: list[Event], source: BenchSource,
            heard_at: list[int]) -> Outcome:
    """What the events of one clip say happened to its command."""
    timing = source.timing
    session = next((e.session_id for e in events
                    if isinstance(e, ListeningStarted) and e.source == "wake"), None)
    mine = [e for e in events if session and getattr(e, "session_id", None) == session]
    text = next((e.text for e in mine if isinstance(e, TranscriptReady)), None)
    intent = next((e for e in mine if isinstance(e, IntentRecognized)), None)
    ended = next((e.reason for e in mine if isinstance(e, SessionEnded)), None)
    transcript_s = recognize_s = None
    if session is not None and timing is not None and timing.transcribed:
        if timing.end_of_speech:
            transcript_s = timing.transcribed - timing.end_of_speech
        if timing.recognized:
            recognize_s = timing.recognized - timing.transcribed
    chime_s = (heard_at[0] - clip.command[0]) / RATE_HZ if heard_at and session else None
    wake_s = ((source.woke_at - clip.wake[1]) / RATE_HZ
              if session and source.woke_at is not None else None)
    return Outcome(trial.voice, trial.room, trial.pause, trial.case, session is not None,
                   text, intent.name if intent else None, dict(intent.slots) if intent else {},
                   ended, transcript_s, recognize_s, chime_s, wake_s,
                   sum(isinstance(e, WakeDetected) for e in events), source.gave_up,
                   timing.stages.get("closed") if session and timing is not None else None)


# -- the clips ----------------------------------------------------------------------------------

def prepare(speech: Speech, trials: list[Trial]) -> None:
    """Every clip's speech, made (or read from the cache) before the pipeline loads."""
    for t in trials:
        speech(t.voice, WAKE_TEXT)
        speech(t.voice, t.case.text)
        if ROOMS[t.room].talker_db is not None:
            speech(voice(t.voice).talker, talker_text(t.index))


def talker_text(index: int) -> str:
    return TALKER_SENTENCES[index % len(TALKER_SENTENCES)]


def make_clip(speech: Speech, trial: Trial) -> tuple[Clip, Echo]:
    dry = assemble(speech(trial.voice, WAKE_TEXT), speech(trial.voice, trial.case.text),
                   PAUSES_S[trial.pause])
    room = ROOMS[trial.room]
    talker = (speech(voice(trial.voice).talker, talker_text(trial.index))
              if room.talker_db is not None else None)
    return in_room(dry, room, talker, trial.seed).clip, room_echo(room, trial.seed + 1)


def plan(cases: list[Case], options: AudioOptions) -> list[Trial]:
    return [Trial(v, room, pause, i, case) for v in options.voices for pause in options.pauses
            for room in options.rooms for i, case in enumerate(cases)]


def check_options(options: AudioOptions) -> None:
    """Names the run does not know are one error line each, before anything loads."""
    for name, given, known in (("--conditions", options.rooms, tuple(ROOMS)),
                               ("--pauses", options.pauses, tuple(PAUSES_S))):
        unknown = [g for g in given if g not in known]
        if unknown or not given:
            raise ApplianceError(f"{name}: {', '.join(unknown) or 'nothing'} is not one of "
                                 f"{', '.join(known)}", fix=f"{name} {','.join(known)}",
                                 code="bench_data")
    if options.limit is not None and options.limit < 1:
        raise ApplianceError(f"--limit {options.limit}: at least one command is needed",
                             fix="--limit 10, or no --limit for every command", code="bench_data")
    if not options.voices:
        raise ApplianceError("--voices: no voice given", fix=f"--voices {VOICE_NAMES[0]}",
                             code="bench_data")
    voices = [voice(v) for v in options.voices]
    talkers = [voice(v.talker) for v in voices] if "room" in options.rooms else []
    check_engines([*voices, *talkers])


def commands_file(options: AudioOptions) -> Traversable:
    """``--commands``: a file, or the name of one of the sets (``spoken2.yaml``)."""
    folder: Traversable = options.data_dir or DATA_DIR
    if options.commands is not None:
        named = folder.joinpath(options.commands.name)
        if not options.commands.exists() and options.commands.name == str(options.commands) \
                and named.is_file():
            return named
        return options.commands
    for name in COMMAND_SETS:
        if folder.joinpath(name).is_file():
            return folder.joinpath(name)
    return folder.joinpath(COMMAND_SETS[-1])


# -- the run ------------------------------------------------------------------------------------

def bench_settings(state_dir: str, options: AudioOptions, prompt: bool | None,
                   window_s: float | None) -> Settings:
    skills: dict[str, Any] = {"state_dir": state_dir}
    overrides: dict[str, Any] = {"intent": {"sentences_dirs": []}, "skills": skills,
                                 "listen": {"chime": options.chime}}
    if prompt is not None:
        skills["stt_prompt"] = prompt
    if window_s is not None:
        overrides["stt"] = {"window_s": window_s}
    return load_settings(overrides=overrides)


@dataclass(frozen=True)
class Ran:
    outcomes: list[Outcome]
    load_s: float  # loading the models and the skills
    run_s: float  # every clip through the pipeline


async def run_trials(settings: Settings, speech: Speech, trials: list[Trial], *,
                     realtime: bool = False) -> Ran:
    """Load the pipeline once and run every trial's clip through it."""
    started = time.monotonic()
    bench = await Bench.load(settings)
    loaded = time.monotonic()
    try:
        outcomes = []
        for trial in trials:
            clip, echo = make_clip(speech, trial)
            outcomes.append(await bench.run(trial, clip, echo, realtime=realtime))
        return Ran(outcomes, round(loaded - started, 1), round(time.monotonic() - loaded, 1))
    finally:
        await bench.close()


def run_audio(options: AudioOptions) -> dict[str, Any]:
    check_options(options)
    source = commands_file(options)
    cases = load_cases(source)[: options.limit]
    speech = Speech(VoiceBox(load_settings().tts))
    trials = plan(cases, options)
    prepare(speech, trials)
    results: dict[str, Any] = {
        "commands": len(cases), "commands_file": str(source), "voices": list(options.voices),
        "conditions": [f"{r}/{p}" for r in options.rooms for p in options.pauses],
        "chime": options.chime, "fed": "real time" if options.realtime else "unpaced",
        "clips_synthesised": speech.box.synthesised, "runs": []}
    with tempfile.TemporaryDirectory(prefix="appliance-bench-audio-") as state:
        for prompt in options.prompts:
            for window in options.windows:
                settings = bench_settings(state, options, prompt, window)
                ran = asyncio.run(run_trials(settings, speech, trials,
                                             realtime=options.realtime))
                results["runs"].append({
                    "stt_prompt": settings.skills.stt_prompt,
                    "stt_window_s": settings.stt.window_s,
                    "load_s": ran.load_s, "seconds": ran.run_s, **scores(ran.outcomes),
                    "outcomes": [o.to_json() for o in ran.outcomes]})
    return results
