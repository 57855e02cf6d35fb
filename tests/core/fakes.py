"""Hand-written fake stages (no model loaded) and a pipeline built on them.

The microphone speaks in three kinds of 80 ms frame: the wake word (:func:`wake_frames`),
speech (:func:`speech_frames`, any non-zero samples) and silence (zeros). :class:`FakeWake`
fires on a wake frame, :class:`FakeVad` calls any non-zero frame speech, :class:`FakeStt`
returns the texts it is given (and records what it was asked), :class:`FakePlayer` records
what it played and can be made to hold or fail.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from appliance.audio.format import FRAME_SAMPLES, Int16Array
from appliance.clock import FakeClock
from appliance.controller import NOTHING_MOOT, Moot, Recognition
from appliance.events import EventBus
from appliance.intent.closed import Choice, SentenceScorer
from appliance.pipeline import Pipeline
from appliance.settings import Settings, load_settings
from appliance.stages import Stages
from appliance.stt import Transcript
from appliance.wake import Detection

WAKE = 1234  # the first sample of a frame that holds the wake word
SPEECH = 500
T0 = 1_900_000_000.0


def wake_frames() -> Int16Array:
    frame = np.zeros(FRAME_SAMPLES, np.int16)
    frame[0] = WAKE
    return frame


def speech_frames(seconds: float) -> Int16Array:
    return np.full(round(seconds / 0.08) * FRAME_SAMPLES, SPEECH, np.int16)


def silence(seconds: float) -> Int16Array:
    return np.zeros(round(seconds / 0.08) * FRAME_SAMPLES, np.int16)


class FakeWake:
    def __init__(self, names: tuple[str, ...] = ("hey_jarvis", "alexa"),
                 threshold: float = 0.5) -> None:
        self._names = names
        self.thresholds = dict.fromkeys(names, threshold)
        self.enabled = True
        self.active: str | None = None
        self.resets = 0

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def threshold(self) -> float:
        return self.thresholds[self.active or self._names[0]]

    def process(self, frame: bytes, t_s: float) -> Detection | None:
        heard = np.frombuffer(frame, np.int16)[0] == WAKE
        if not heard or not self.enabled:
            return None
        return Detection(self.active or self._names[0], 0.9)

    def hold(self, frame: bytes, t_s: float) -> bool:
        return False

    def select(self, name: str) -> None:
        if name not in self._names:
            raise ValueError(f"no wake word {name!r}")
        self.active = name

    def set_threshold(self, threshold: float) -> None:
        for name in [self.active] if self.active else self._names:
            self.thresholds[name] = min(0.99, max(0.01, threshold))

    def reset(self) -> None:
        self.resets += 1


class FakeVad:
    def __init__(self) -> None:
        self.resets = 0

    def process(self, frame: bytes) -> float:
        return 1.0 if np.frombuffer(frame, np.int16).any() else 0.0

    def reset(self) -> None:
        self.resets += 1


@dataclass
class SttCall:
    speech_frames: int  # how many speech frames the audio held
    full_window: bool


class FakeStt:
    """Returns ``texts`` in turn (the last one again when they run out); ``window_s`` 10 for
    the quick window, None for the full one. ``gate`` (cleared) holds every call; ``error``
    makes the next call raise it."""

    def __init__(self, *texts: str, full_window_texts: tuple[str, ...] = ()) -> None:
        self.texts = list(texts) or ["what time is it"]
        self.full_window_texts = list(full_window_texts)
        self.calls: list[SttCall] = []
        self.initial_prompt: str | None = None
        self.gate = threading.Event()
        self.gate.set()
        self.error: Exception | None = None
        self.scores: dict[str, float] = {}  # a sentence's log-probability (else -100)

    def score(self, transcript: Transcript, texts: Sequence[str]) -> list[float] | None:
        return [self.scores.get(text.strip(), -100.0) for text in texts]

    def transcribe(self, samples: Int16Array, *, full_window: bool = False) -> Transcript:
        self.gate.wait(10)
        speech = int(np.count_nonzero(samples.reshape(-1, FRAME_SAMPLES).any(axis=1)))
        self.calls.append(SttCall(speech, full_window))
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        source = self.full_window_texts if full_window and self.full_window_texts else self.texts
        text = source.pop(0) if len(source) > 1 else source[0]
        return Transcript(text, len(samples) / 16000, None if full_window else 10.0)


class FakeIntents:
    """Recognises exactly the sentences it is given (lower case, no punctuation)."""

    def __init__(self, sentences: dict[str, Recognition] | None = None) -> None:
        self.sentences = sentences or {
            "what time is it": Recognition("GetTime"),
            "what can you do": Recognition("ListCapabilities"),
            "set a timer": Recognition("TimerSet"),
        }
        self.contexts: list[Callable[[], dict[str, Any]]] = []
        self.prompt = "What time is it?"

    @property
    def intent_names(self) -> list[str]:
        return sorted({r.name for r in self.sentences.values()})

    def recognize(self, text: str) -> Recognition | None:
        found = self.sentences.get(text.lower().strip(" .?!"))
        return None if found is None else replace(found, text=text)

    def add_context(self, provider: Callable[[], dict[str, Any]]) -> None:
        self.contexts.append(provider)

    def remove_context(self, provider: Callable[[], dict[str, Any]]) -> None:
        self.contexts.remove(provider)

    def stt_prompt(self) -> str:
        return self.prompt


class FakePlayer:
    """Records what was spoken and played. ``hold`` (cleared) keeps ``speak`` playing until
    it is set or the turn is cancelled; ``error`` makes ``speak``/``play_chime`` raise."""

    def __init__(self, volume: int = 60) -> None:
        self.volume = volume
        self.spoken: list[str] = []
        self.finished: list[str] = []
        self.chimes = 0
        self.chiming = 0  # chimes playing now
        self.chime_hold = asyncio.Event()  # cleared: a chime plays until cancelled
        self.chime_hold.set()
        self.sounds: list[int] = []
        self.played: list[tuple[Int16Array, int]] = []
        self.streamed: list[tuple[int, int]] = []  # (samples, volume) of each media chunk
        self.hold = asyncio.Event()
        self.hold.set()
        self.speak_error: Exception | None = None
        self.chime_error: Exception | None = None
        self.closed = False

    @property
    def chime_s(self) -> float:
        return 0.2

    async def speak(self, text: str, on_first_audio: Callable[[], None] | None = None) -> None:
        if self.speak_error is not None:
            raise self.speak_error
        self.spoken.append(text)
        if on_first_audio is not None:
            on_first_audio()
        await self.hold.wait()
        self.finished.append(text)

    async def play_chime(self) -> None:
        self.chimes += 1
        self.chiming += 1
        try:
            if self.chime_error is not None:
                raise self.chime_error
            await self.chime_hold.wait()
        finally:
            self.chiming -= 1

    async def play(self, samples: Int16Array, rate_hz: int, volume: int) -> None:
        self.sounds.append(volume)
        self.played.append((samples, rate_hz))

    async def play_stream(self, chunks: AsyncIterator[Int16Array], rate_hz: int,
                          volume: Callable[[], int]) -> None:
        async for chunk in chunks:
            self.streamed.append((len(chunk), volume()))

    def close(self) -> None:
        self.closed = True


class FakeChooser:
    """The closed-vocabulary step: ``choices`` maps a transcript to the command it stands for;
    it records the scores its scorer gave for ``[transcript, command]``. ``whole``: the
    transcripts that are whole commands (the rest may go on); it records what it was asked."""

    def __init__(self, choices: dict[str, Recognition] | None = None,
                 whole: tuple[str, ...] = ()) -> None:
        self.choices = choices or {}
        self.whole = whole
        self.scored: list[list[float] | None] = []
        self.judged: list[str] = []
        self.moots: list[Moot] = []  # what the turn said is moot, with each transcript
        self.asked = threading.Event()  # set once it has judged a transcript

    def is_whole_command(self, transcript: str, moot: Moot = NOTHING_MOOT) -> bool:
        self.judged.append(transcript)
        self.moots.append(moot)
        self.asked.set()
        return transcript in self.whole

    def choose(self, transcript: str, scorer: SentenceScorer) -> Choice | None:
        found = self.choices.get(transcript)
        if found is None:
            return None
        scores = scorer([transcript, found.text])
        self.scored.append(scores)
        penalty = 0.0 if scores is None else scores[0] - scores[1]
        return Choice(found, found.text, penalty)


@dataclass
class Fakes:
    wake: FakeWake = field(default_factory=FakeWake)
    vad: FakeVad = field(default_factory=FakeVad)
    stt: FakeStt = field(default_factory=FakeStt)
    intents: FakeIntents = field(default_factory=FakeIntents)
    player: FakePlayer = field(default_factory=FakePlayer)
    closed: FakeChooser | None = None

    def stages(self) -> Stages:
        return Stages(self.wake, self.vad, self.stt, self.intents, self.player, self.closed)


def fake_settings(thinking_timeout_s: float = 0.3, speaking_timeout_s: float = 0.3) -> Settings:
    """The defaults, with the turn's timeouts short (they are real seconds)."""
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    return replace(settings, pipeline=replace(
        settings.pipeline, thinking_timeout_s=thinking_timeout_s,
        speaking_timeout_s=speaking_timeout_s))


def fake_pipeline(fakes: Fakes | None = None, settings: Settings | None = None,
                  clock: FakeClock | None = None) -> tuple[Pipeline, Fakes]:
    fakes = fakes or Fakes()
    pipeline = Pipeline(settings or fake_settings(), fakes.stages(), events=EventBus(),
                        clock=clock or FakeClock(T0))
    return pipeline, fakes


def frames_of(*parts: Int16Array) -> Iterator[bytes]:
    raw = np.concatenate(parts).astype("<i2").tobytes()
    for i in range(0, len(raw), FRAME_SAMPLES * 2):
        yield raw[i : i + FRAME_SAMPLES * 2]
