"""``appliance bench soak``: many wake cycles on the real models, as fast as the machine goes.

Each cycle says the wake word and a command (the time, timers that ring a few seconds later,
alarms, "what can you do", cancelling, the volume) into the real pipeline; every tenth cycle an
announcement as long as MQTT accepts comes in too. The speaker plays into a sink that only counts
samples (nothing is kept). It prints the wakes detected, the turns answered, the stuck turns (a
cycle that did not end within its limit) and the resident memory at the start, after 100 cycles,
at the end and after the longest announcement.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from appliance.audio.format import FRAME_BYTES, RATE_HZ, Int16Array
from appliance.clock import SystemClock
from appliance.daemon import load_pipeline
from appliance.events import EventBus, ListeningStarted, SessionEnded, Subscription
from appliance.pipeline import Pipeline
from appliance.settings import Settings
from appliance.speaker import Speaker
from appliance.tts import Synthesizer

COMMANDS = (
    "What time is it?",
    "Set a timer for five seconds.",
    "What can you do?",
    "Set an alarm for 7 am.",
    "How much time is left on the timer?",
    "Turn the volume down.",
    "Cancel all timers.",
    "Cancel all alarms.",
    "Turn the volume up.",
    "What's the date today?",
)
CYCLE_LIMIT_S = 60.0  # a cycle that has not ended by then is stuck


def rss_mb() -> float:
    """The resident memory now (not the peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class CountingSink:
    """A speaker that keeps nothing: it counts the samples played."""

    name = "counting"

    def __init__(self) -> None:
        self.samples = 0

    @contextlib.asynccontextmanager
    async def stream(self, rate_hz: int) -> AsyncIterator[CountingSink]:
        yield self

    async def write(self, samples: Int16Array) -> None:
        self.samples += len(samples)
        await asyncio.sleep(0)


class FeedSource:
    """A microphone: what the soak says comes as fast as the pipeline takes it; between
    commands the room is silent, in real time (80 ms a frame), as a microphone delivers it."""

    name = "soak"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
        self._feeding = False

    async def __aenter__(self) -> FeedSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def feed(self, samples: Int16Array) -> None:
        raw = samples.astype("<i2").tobytes()
        self._feeding = True
        try:
            for i in range(0, len(raw), FRAME_BYTES):
                await self.queue.put(raw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
        finally:
            self._feeding = False

    async def room(self) -> None:
        """Silence whenever nothing is said, until cancelled."""
        while True:
            if not self._feeding and self.queue.empty():
                self.queue.put_nowait(bytes(FRAME_BYTES))
            await asyncio.sleep(0.08)

    async def frames(self) -> AsyncIterator[bytes]:
        while (frame := await self.queue.get()) is not None:
            yield frame


@dataclass
class Tally:
    cycles: int = 0
    wakes: int = 0
    missed_wakes: int = 0
    answered: int = 0
    stuck: int = 0
    rss_mb: dict[str, float] = field(default_factory=dict)


def run_soak(settings: Settings, cycles: int, say_chars: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="appliance-soak-") as state:
        settings = _soak_settings(settings, state)
        return asyncio.run(_soak(settings, cycles, say_chars))


def _soak_settings(settings: Settings, state: str) -> Settings:
    return replace(settings, skills=replace(settings.skills, state_dir=state),
                   listen=replace(settings.listen, chime=False))


async def _soak(settings: Settings, cycles: int, say_chars: int) -> dict[str, Any]:
    pipeline = await load_pipeline(settings, CountingSink(), EventBus(), SystemClock())
    player = pipeline.stages.player
    assert isinstance(player, Speaker)
    speech = _Speech(player.tts)
    source, tally = FeedSource(), Tally()
    started = time.monotonic()
    frames = asyncio.create_task(pipeline.run(source), name="soak-frames")
    room = asyncio.create_task(source.room(), name="soak-room")
    try:
        await source.feed(np.zeros(RATE_HZ // 2, np.int16))
        tally.rss_mb["start"] = round(rss_mb(), 1)
        for n in range(cycles):
            await _cycle(pipeline, source, speech, COMMANDS[n % len(COMMANDS)], tally)
            if n % 10 == 9:
                await _announce(pipeline, "This is a long announcement. " * 4)
            if n == 99:
                tally.rss_mb["after_100"] = round(rss_mb(), 1)
        tally.rss_mb["end"] = round(rss_mb(), 1)
        longest = ("a" * 9 + " ") * (say_chars // 10)
        await _announce(pipeline, longest)
        tally.rss_mb[f"after_{say_chars}_char_say"] = round(rss_mb(), 1)
    finally:
        room.cancel()
        await source.queue.put(None)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(frames, 30)
        await pipeline.close()
    return {"cycles": tally.cycles, "wakes_detected": tally.wakes,
            "wakes_missed": tally.missed_wakes,
            "turns_answered": tally.answered, "stuck_turns": tally.stuck,
            "rss_mb": tally.rss_mb, "seconds": round(time.monotonic() - started, 1)}


class _Speech:
    """Piper's voice as the microphone hears it (16 kHz), each text made once."""

    def __init__(self, tts: Synthesizer) -> None:
        self._tts = tts
        self._made: dict[str, Int16Array] = {}

    def __call__(self, text: str) -> Int16Array:
        if text not in self._made:
            from appliance.audio.format import resample

            audio = np.concatenate(list(self._tts.sentences(text)))
            self._made[text] = resample(audio, self._tts.rate_hz, RATE_HZ)
        return self._made[text]


async def _cycle(pipeline: Pipeline, source: FeedSource, speech: _Speech, command: str,
                 tally: Tally) -> None:
    """One wake word and command; the turn it starts is followed to its end."""
    gap = np.zeros(int(0.3 * RATE_HZ), np.int16)
    tally.cycles += 1
    with pipeline.events.subscribe(4096) as sub:
        await source.feed(np.concatenate([gap, speech("Hey Jarvis."), gap, speech(command)]))
        session = await _woken(sub)
        if session is None:
            tally.missed_wakes += 1
            return
        tally.wakes += 1
        try:
            async with asyncio.timeout(CYCLE_LIMIT_S):
                while not (isinstance(event := await sub.get(), SessionEnded)
                           and event.session_id == session):
                    pass
            tally.answered += event.reason == "answered"
        except TimeoutError:
            tally.stuck += 1
    await pipeline.finish()


async def _woken(sub: Subscription) -> str | None:
    """The session the wake word started, or None if it was not heard within a few seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5.0):
            while True:
                event = await sub.get()
                if isinstance(event, ListeningStarted) and event.source == "wake":
                    return event.session_id
    return None


async def _announce(pipeline: Pipeline, text: str) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CYCLE_LIMIT_S * 5):
            await pipeline.say(text)
