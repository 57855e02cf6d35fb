"""Everything the speaker plays: answers (sentence-streamed TTS), the wake chime, at one volume.

Synthesis of a sentence runs in its own thread while the previous one plays, so the first
sentence is heard as soon as it is ready. Cancelling ``speak`` stops the sound at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from appliance.audio.format import Int16Array, chime, resample, scale
from appliance.audio.sink import AudioSink
from appliance.tts import Synthesizer

_LOGGER = logging.getLogger(__name__)


class Speaker:
    def __init__(self, tts: Synthesizer, sink: AudioSink, *, rate_hz: int, volume: int) -> None:
        self.tts = tts
        self.sink = sink
        self.rate_hz = rate_hz or tts.rate_hz
        self.volume = volume
        self._chime = chime(self.rate_hz)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tts")
        # Set by speak(): monotonic time the first audio of the last answer went to the device.
        self.first_audio_at: float | None = None

    @property
    def chime_s(self) -> float:
        return len(self._chime) / self.rate_hz

    def _prepare(self, samples: Int16Array, from_hz: int) -> Int16Array:
        return scale(resample(samples, from_hz, self.rate_hz), self.volume)

    async def play_chime(self) -> None:
        async with self.sink.stream(self.rate_hz) as out:
            await out.write(scale(self._chime, self.volume))

    async def play(self, samples: Int16Array, rate_hz: int, volume: int) -> None:
        """Play a sound (a ring) at ``volume``, whatever the answers' volume."""
        async with self.sink.stream(self.rate_hz) as out:
            await out.write(scale(resample(samples, rate_hz, self.rate_hz), volume))

    async def play_stream(self, chunks: AsyncIterator[Int16Array], rate_hz: int,
                          volume: Callable[[], int]) -> None:
        """Play media as it arrives, each chunk at ``volume()`` then (ducking follows it)."""
        async with self.sink.stream(self.rate_hz) as out:
            async for chunk in chunks:
                await out.write(scale(resample(chunk, rate_hz, self.rate_hz), volume()))

    async def speak(self, text: str, on_first_audio: Callable[[], None] | None = None) -> None:
        """Synthesise and play ``text``, sentence by sentence."""
        loop = asyncio.get_running_loop()
        sentences: Iterator[Int16Array] = self.tts.sentences(text)
        self.first_audio_at = None
        async with self.sink.stream(self.rate_hz) as out:
            while True:
                sentence = await loop.run_in_executor(self._executor, next, sentences, None)
                if sentence is None:
                    break
                if self.first_audio_at is None:
                    self.first_audio_at = time.monotonic()
                    if on_first_audio is not None:
                        on_first_audio()
                await out.write(self._prepare(sentence, self.tts.rate_hz))

    def synthesize_all(self, text: str) -> Int16Array:
        """The whole answer at the output rate (blocking; for files and the CLI)."""
        import numpy as np

        parts = [self._prepare(s, self.tts.rate_hz) for s in self.tts.sentences(text)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
