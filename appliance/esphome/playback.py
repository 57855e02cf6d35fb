"""The media player entity's one stream: a URL decoded in a thread, half a second at a time,
played at the speaker's volume and ducked while the assistant listens, thinks or speaks."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable

import numpy as np

from appliance.audio.format import Int16Array
from appliance.esphome import media
from appliance.esphome.messages import pb
from appliance.pipeline import Pipeline

_LOGGER = logging.getLogger(__name__)

DUCK_VOLUME = 0.25  # media volume while the assistant listens, thinks or speaks
MEDIA_QUEUE = 8  # decoded half-seconds waiting to be played
BUSY = frozenset({"wake", "listening", "thinking", "speaking"})
MS = pb.MediaPlayerState


class MediaPlayback:
    """The media player's one stream: played chunk by chunk at the speaker's volume, ducked
    while the assistant is busy, paused and resumed, stopped by a new one or ``stop``."""

    def __init__(self, pipeline: Pipeline, changed: Callable[[], None]) -> None:
        self.pipeline = pipeline
        self.state: int = MS.MEDIA_PLAYER_STATE_IDLE
        self.speaker_muted = False
        self._changed = changed
        self._task: asyncio.Task[None] | None = None
        self._resume = asyncio.Event()
        self._resume.set()

    def play(self, url: str) -> None:
        self.stop()
        self._resume.set()
        self._task = self.pipeline.supervisor.fire(self._play(url), "esphome-media")
        self._set(MS.MEDIA_PLAYER_STATE_PLAYING)

    async def _play(self, url: str) -> None:
        try:
            await self.pipeline.stages.player.play_stream(
                self._chunks(url), media.SOUND_RATE_HZ, self._volume)
        except media.MediaError as err:
            _LOGGER.warning("%s", err)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
                self._set(MS.MEDIA_PLAYER_STATE_IDLE)

    async def _chunks(self, url: str) -> AsyncIterator[Int16Array]:
        """The stream decoded in a thread, half a second at a time; held while paused."""
        chunks: queue.Queue[Int16Array | Exception | None] = queue.Queue(MEDIA_QUEUE)
        stop = threading.Event()
        producer = asyncio.get_running_loop().run_in_executor(
            None, _decode_into, url, chunks, stop)
        try:
            while True:
                item = await asyncio.to_thread(chunks.get)
                if item is None:
                    return
                if isinstance(item, Exception):
                    raise item
                await self._resume.wait()
                yield item
        finally:
            stop.set()
            producer.add_done_callback(lambda f: f.exception())

    def _volume(self) -> int:
        if self.speaker_muted:
            return 0
        busy = self.pipeline.state.value in BUSY
        volume = self.pipeline.volume
        return round(volume * DUCK_VOLUME) if busy else volume

    def pause(self) -> None:
        if self._task is not None:
            self._resume.clear()
            self._set(MS.MEDIA_PLAYER_STATE_PAUSED)

    def resume(self) -> None:
        if self._task is not None:
            self._resume.set()
            self._set(MS.MEDIA_PLAYER_STATE_PLAYING)

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        self._set(MS.MEDIA_PLAYER_STATE_IDLE)

    def _set(self, state: int) -> None:
        if state != self.state:
            self.state = state
            self._changed()


def _decode_into(url: str, chunks: queue.Queue[Int16Array | Exception | None],
                 stop: threading.Event) -> None:
    """The media decoder's thread: half-second chunks into ``chunks``, then None (or the
    error); it gives up as soon as ``stop`` is set."""
    pending: list[Int16Array] = []
    size = int(media.CHUNK_S * media.SOUND_RATE_HZ)

    def put(item: Int16Array | Exception | None) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for part in media.decode_stream(url, media.SOUND_RATE_HZ):
            pending.append(part)
            if sum(len(p) for p in pending) >= size:
                if not put(np.concatenate(pending)):
                    return
                pending = []
        if pending and not put(np.concatenate(pending)):
            return
        put(None)
    except Exception as err:  # handed to the player, which logs it
        put(err)
