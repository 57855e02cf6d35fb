"""A scripted microphone and event helpers for tests that drive the real pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType

import numpy as np

from appliance.audio.format import FRAME_BYTES, RATE_HZ, Int16Array
from appliance.events import Event, State, StateChanged, Subscription


class ScriptedMic:
    """A microphone the test speaks into, frame by frame (the room is outside the machine)."""

    name = "scripted"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def __aenter__(self) -> ScriptedMic:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    def say(self, samples: Int16Array, silence_s: float = 0.0) -> None:
        pcm = np.concatenate([samples, np.zeros(int(silence_s * RATE_HZ), np.int16)])
        raw = pcm.astype("<i2").tobytes()
        for i in range(0, len(raw), FRAME_BYTES):
            self.queue.put_nowait(raw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def frames(self) -> AsyncIterator[bytes]:
        while (frame := await self.queue.get()) is not None:
            yield frame


async def next_state(sub: Subscription, state: State, timeout_s: float = 30) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(timeout_s):
        while True:
            event = await sub.get()
            seen.append(event)
            if isinstance(event, StateChanged) and event.new is state:
                return seen


async def next_event(sub: Subscription, kind: type[Event], timeout_s: float = 10) -> Event:
    async with asyncio.timeout(timeout_s):
        while not isinstance(event := await sub.get(), kind):
            pass
        return event


def states(events: list[Event]) -> list[str]:
    return [e.new.value for e in events if isinstance(e, StateChanged)]
