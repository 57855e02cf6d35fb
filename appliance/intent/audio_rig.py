"""The microphone, the speaker and the player ``appliance bench audio`` gives the pipeline.

:class:`BenchSource` is the microphone for one clip: its 80 ms frames as fast as the pipeline
takes them (``realtime``: at a microphone's pace), then the clip's room tone while the turn is
busy. :class:`EchoSink` is the speaker in the room: whatever the pipeline plays goes back into
that microphone (:meth:`~appliance.intent.rooms.Microphone.play`). :class:`QuietPlayer` is the
real :class:`~appliance.speaker.Speaker` for the chime and sounds, but keeps an answer's text
instead of synthesising it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from appliance.audio.format import FRAME_S, RATE_HZ, Int16Array, resample
from appliance.events import State
from appliance.intent.rooms import Microphone
from appliance.pipeline import Pipeline
from appliance.stages import Player
from appliance.turn import Timing

MAX_TAIL_S = 40.0  # room tone after the clip: a turn still busy by then is given up on
BUSY = (State.WAKE, State.LISTENING, State.THINKING, State.SPEAKING)


class QuietPlayer:
    """The real speaker's chime and sounds; an answer is recorded, not synthesised."""

    def __init__(self, speaker: Player) -> None:
        self.speaker = speaker
        self.said: list[str] = []

    @property
    def volume(self) -> int:
        return self.speaker.volume

    @volume.setter
    def volume(self, volume: int) -> None:
        self.speaker.volume = volume

    @property
    def chime_s(self) -> float:
        return self.speaker.chime_s

    async def speak(self, text: str, on_first_audio: Callable[[], None] | None = None) -> None:
        self.said.append(text)
        if on_first_audio is not None:
            on_first_audio()

    async def play_chime(self) -> None:
        await self.speaker.play_chime()

    async def play(self, samples: Int16Array, rate_hz: int, volume: int) -> None:
        await self.speaker.play(samples, rate_hz, volume)

    async def play_stream(self, chunks: AsyncIterator[Int16Array], rate_hz: int,
                          volume: Callable[[], int]) -> None:
        await self.speaker.play_stream(chunks, rate_hz, volume)

    def close(self) -> None:
        self.speaker.close()


class _Heard:
    def __init__(self, sink: EchoSink, rate_hz: int) -> None:
        self.sink = sink
        self.rate_hz = rate_hz

    async def write(self, samples: Int16Array) -> None:
        self.sink.heard(samples, self.rate_hz)
        await asyncio.sleep(0)


class EchoSink:
    """A speaker in the room: what is played goes back into the current :attr:`mic`."""

    name = "bench room"

    def __init__(self) -> None:
        self.mic: Microphone | None = None
        self.played = 0  # sounds played

    @contextlib.asynccontextmanager
    async def stream(self, rate_hz: int) -> AsyncIterator[_Heard]:
        yield _Heard(self, rate_hz)

    def heard(self, samples: Int16Array, rate_hz: int) -> None:
        self.played += 1
        if self.mic is not None:
            self.mic.play(resample(samples, rate_hz, RATE_HZ))


class BenchSource:
    """The microphone for one clip: its frames, then room tone while the turn is busy."""

    name = "bench"

    def __init__(self, mic: Microphone, pipeline: Pipeline, *, realtime: bool) -> None:
        self.mic = mic
        self.pipeline = pipeline
        self.realtime = realtime
        self.timing: Timing | None = None  # the turn the wake word started
        self.woke_at: int | None = None  # the microphone's sample when it started
        self.gave_up = False

    async def __aenter__(self) -> BenchSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def frames(self) -> AsyncIterator[bytes]:
        start = asyncio.get_running_loop().time()
        tail_frames = round(MAX_TAIL_S / FRAME_S)
        n = 0
        while not self.mic.clip_done or self.pipeline.state in BUSY:
            if self.mic.clip_done:
                tail_frames -= 1
                if tail_frames < 0:
                    self.gave_up = True
                    return
            yield self.mic.frame()
            n += 1
            if self.timing is None and self.pipeline.state is State.LISTENING:
                self.timing, self.woke_at = self.pipeline.timing, self.mic.position
            await asyncio.sleep(self._delay(start, n))

    def _delay(self, start: float, n: int) -> float:
        """With ``realtime`` at a microphone's pace; else as fast as the pipeline takes the
        frames, but one frame's time apart while the turn thinks or speaks (the pipeline only
        keeps them for the pre-roll: what is said then is lost, as it would be)."""
        if self.realtime:
            return max(0.0, start + n * FRAME_S - asyncio.get_running_loop().time())
        return FRAME_S if self.pipeline.state in (State.THINKING, State.SPEAKING) else 0.0
