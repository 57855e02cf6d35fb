"""The stages a turn runs, behind small protocols, and the one function that builds them.

The pipeline and a turn ask for a wake detector, a voice-activity model, a transcriber, an
intent recogniser and a player by these protocols only: the real ones are
:class:`~appliance.wake.WakeWord`, :class:`~appliance.vad.SileroVad`,
:class:`~appliance.stt.Transcriber`, :class:`~appliance.intent.engine.IntentEngine` and
:class:`~appliance.speaker.Speaker`; tests pass hand-written fakes and run every turn rule in
milliseconds with no model loaded. :func:`build_stages` loads what the settings name, reusing
whatever a reload did not change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from appliance.audio.format import Int16Array
from appliance.controller import NOTHING_MOOT, Moot, Recognition
from appliance.models import loading_allocator
from appliance.stt import Transcript

if TYPE_CHECKING:
    from appliance.audio.sink import AudioSink
    from appliance.intent.closed import Choice, SentenceScorer
    from appliance.settings import Settings
    from appliance.tts import Synthesizer
    from appliance.wake import Detection

T = TypeVar("T")


class WakeDetector(Protocol):
    """Scores 80 ms frames; ``process`` returns a detection once per utterance."""

    enabled: bool
    active: str | None

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def threshold(self) -> float: ...

    def process(self, frame: bytes, t_s: float) -> Detection | None: ...

    def hold(self, frame: bytes, t_s: float) -> bool:
        """True: ``frame`` is kept for the next ``process`` and needs no work now (so no hand-off
        to a worker thread, which costs about 0.3 ms of CPU here)."""

    def select(self, name: str) -> None: ...

    def set_threshold(self, threshold: float) -> None: ...

    def reset(self) -> None: ...


class VoiceActivity(Protocol):
    def process(self, frame: bytes) -> float:
        """The probability (0-1) that ``frame`` holds speech."""

    def reset(self) -> None: ...


class SpeechToText(Protocol):
    """Blocking: a turn calls it from its executor thread."""

    initial_prompt: str | None

    def transcribe(self, samples: Int16Array, *, full_window: bool = False) -> Transcript: ...

    def score(self, transcript: Transcript, texts: Sequence[str]) -> list[float] | None:
        """The log-probability of each text for the transcript's audio (None: cannot)."""


class CommandChooser(Protocol):
    """The closed-vocabulary step (:class:`appliance.intent.closed.ClosedVocabulary`)."""

    def choose(self, transcript: str, scorer: SentenceScorer) -> Choice | None:
        """Which known command the audio holds, when the free transcript was not understood."""

    def is_whole_command(self, transcript: str, moot: Moot = NOTHING_MOOT) -> bool:
        """Understood, and not the start of a longer command that would mean more (more words
        for a command ``moot`` names change nothing)."""


class IntentRecognizer(Protocol):
    @property
    def intent_names(self) -> list[str]: ...

    def recognize(self, text: str) -> Recognition | None: ...

    def add_context(self, provider: Callable[[], dict[str, Any]]) -> None:
        """``provider()``'s values (a pending question) inform every recognition."""

    def remove_context(self, provider: Callable[[], dict[str, Any]]) -> None: ...

    def stt_prompt(self) -> str: ...


class Player(Protocol):
    """Everything the speaker plays, at one volume."""

    volume: int

    @property
    def chime_s(self) -> float: ...

    async def speak(self, text: str, on_first_audio: Callable[[], None] | None = None) -> None:
        """Synthesise and play ``text``; cancelling stops the sound at once."""

    async def play_chime(self) -> None: ...

    async def play(self, samples: Int16Array, rate_hz: int, volume: int) -> None: ...

    async def play_stream(self, chunks: AsyncIterator[Int16Array], rate_hz: int,
                          volume: Callable[[], int]) -> None:
        """Media, played as the chunks come, each at the volume ``volume()`` says then."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Stages:
    """One set of stages; a reload makes a new one (with the unchanged stages reused)."""

    wake: WakeDetector
    vad: VoiceActivity
    stt: SpeechToText
    intents: IntentRecognizer
    player: Player
    closed: CommandChooser | None = None  # built with the intents; None: turned off


class Workers:
    """The threads the blocking stages run in: one for every frame (wake word, VAD), one for
    the transcriber, so a long transcription never holds up the microphone."""

    def __init__(self) -> None:
        self._frames = ThreadPoolExecutor(1, thread_name_prefix="frames")
        self._stt = ThreadPoolExecutor(1, thread_name_prefix="stt")

    async def frame(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._frames, fn, *args)

    async def stt(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._stt, fn)

    def close(self) -> None:
        self._frames.shutdown(wait=False, cancel_futures=True)
        self._stt.shutdown(wait=False, cancel_futures=True)


# Sections whose change means building that stage again (a model load: seconds on a Pi);
# "audio.output" stands for a new output device (the player plays into it).
_REBUILT_BY = {"wake": {"wake"}, "stt": {"stt"}, "tts": {"tts", "audio.output"},
               "intents": {"intent", "wake", "skills"}}


def stages_to_rebuild(changed: Set[str]) -> frozenset[str]:
    """The stages a reload builds again for these changed sections (the rest are kept)."""
    return frozenset(stage for stage, sections in _REBUILT_BY.items() if sections & changed)


async def _load(needed: bool, make: Callable[[], T]) -> T | None:
    return await asyncio.to_thread(make) if needed else None


async def build_stages(settings: Settings, sink: AudioSink, *, previous: Stages | None = None,
                       changed: Set[str] = frozenset()) -> Stages:
    """Load every model the settings name (in parallel threads) and warm them up; with
    ``previous`` (a reload), only the stages whose sections are in ``changed`` are built again.

    New stages start from their configuration: what the user chose at run time (wake word,
    threshold, volume) is carried over by :meth:`appliance.pipeline.Pipeline.reload`.
    """
    from appliance.speaker import Speaker
    from appliance.stt import Transcriber
    from appliance.tts import Synthesizer
    from appliance.vad import SileroVad
    from appliance.wake import WakeWord

    rebuilt = stages_to_rebuild(changed)

    def fresh(stage: str) -> bool:
        return previous is None or stage in rebuilt

    with loading_allocator():  # (what the loads free goes back to the system)
        wake, stt, tts, vad = await asyncio.gather(
            _load(fresh("wake"), lambda: WakeWord(settings.wake)),
            _load(fresh("stt"), lambda: Transcriber(settings.stt)),
            _load(fresh("tts"), lambda: Synthesizer(settings.tts)),
            _load(previous is None, SileroVad),
        )
    await warm_up(stt, tts)
    out = settings.audio.output
    player: Player | None = None if tts is None else Speaker(
        tts, sink, rate_hz=out.rate_hz, volume=out.volume)
    if previous is None:
        if wake is None or stt is None or player is None or vad is None:
            raise RuntimeError("a first build loads every stage")
        intents, closed = await _intents(settings, wake.names)
        return Stages(wake, vad, stt, intents, player, closed)
    wake_stage: WakeDetector = wake or previous.wake
    if fresh("intents"):
        intents, closed = await _intents(settings, wake_stage.names)
    else:
        intents, closed = previous.intents, previous.closed
    return Stages(wake_stage, previous.vad, stt or previous.stt, intents,
                  player or previous.player, closed)


async def _intents(settings: Settings, wake_names: tuple[str, ...]
                   ) -> tuple[IntentRecognizer, CommandChooser | None]:
    """The intent engine and its closed-vocabulary step (expanding the templates: 0.1-0.5 s)."""
    from appliance.intent.closed import ClosedVocabulary
    from appliance.intent.engine import make_engine

    def build() -> tuple[IntentRecognizer, CommandChooser | None]:
        engine = make_engine(settings, wake_names)
        cfg = settings.intent
        closed = ClosedVocabulary(engine, cfg.closed_max_penalty) if cfg.closed_vocabulary \
            else None
        return engine, closed

    return await asyncio.to_thread(build)


def vocabulary_prompt(intents: IntentRecognizer) -> str | None:
    """Whisper's initial prompt: example commands from the sentence files (None: none)."""
    return intents.stt_prompt() or None


async def warm_up(stt: SpeechToText | None, tts: Synthesizer | None) -> None:
    """Run each model once (side by side), so the first answer after boot is as quick as the
    others."""
    jobs: list[Awaitable[object]] = []
    if tts is not None:
        jobs.append(asyncio.to_thread(lambda: list(tts.sentences("Ready."))))
    if stt is not None:
        jobs.append(asyncio.to_thread(stt.transcribe, np.zeros(16000, np.int16)))
    await asyncio.gather(*jobs)
