"""Ringing: a finished timer or alarm plays a short ring again and again until it is stopped.

Stopped by "stop" (voice), a button or MQTT (``controller.stop()``), or the ring timeout. The ring
pauses while the assistant is busy (wake word heard, listening, answering) so the user can say
"stop" or "snooze", and resumes after. LEDs follow the ``timer_ringing`` / ``timer_stopped``
events on the bus.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from appliance.audio.format import Int16Array
from appliance.clock import Clock
from appliance.events import EventBus, State, StateChanged, Subscription, UserEvent
from appliance.skills.settings import SkillsSettings

_LOGGER = logging.getLogger(__name__)

RING_RATE_HZ = 22050
GAP_S = 1.0  # silence between two rings
BUSY_POLL_S = 0.25
QUIET_STATES = frozenset({State.IDLE, State.MUTED, State.STARTING, State.ERROR})


class RingHost(Protocol):
    """What ringing needs from the pipeline."""

    events: EventBus

    @property
    def state(self) -> State: ...

    @property
    def volume(self) -> int: ...

    async def play_sound(self, samples: Int16Array, rate_hz: int, volume: int) -> None: ...

    async def say(self, text: str) -> None: ...


@dataclass(frozen=True)
class Ringing:
    kind: str  # "timer" | "alarm"
    id: str
    announcement: str  # said once, after the first ring ("Your pasta timer is done.")


def ring_sound(rate_hz: int = RING_RATE_HZ) -> Int16Array:
    """Two short rising double beeps (~1.1 s)."""
    parts = []
    for _ in range(2):
        for freq in (880.0, 1320.0):
            t = np.arange(int(0.16 * rate_hz)) / rate_hz
            envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
            parts.append(0.5 * envelope * np.sin(2 * np.pi * freq * t))
            parts.append(np.zeros(int(0.06 * rate_hz)))
        parts.append(np.zeros(int(0.2 * rate_hz)))
    samples: Int16Array = (np.concatenate(parts) * 32767).astype(np.int16)
    return samples


class Ringer:
    def __init__(self, host: RingHost, clock: Clock, settings: SkillsSettings) -> None:
        self.host = host
        self.clock = clock
        self.settings = settings
        self.ringing: dict[str, Ringing] = {}
        self._announce: list[Ringing] = []
        self._task: asyncio.Task[None] | None = None
        self._sound = ring_sound()

    @property
    def active(self) -> bool:
        return bool(self.ringing)

    def start(self, item: Ringing) -> None:
        _LOGGER.info("ringing: %s %s", item.kind, item.id)
        self.ringing[item.id] = item
        self._announce.append(item)
        self.host.events.publish(UserEvent("timer_ringing", {"kind": item.kind, "id": item.id}))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._ring())
            self._task.set_name("ringing")

    def stop(self, reason: str) -> list[Ringing]:
        """Silence everything ringing; returns what was."""
        stopped = list(self.ringing.values())
        self.ringing.clear()
        self._announce.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        for item in stopped:
            _LOGGER.info("ringing stopped (%s): %s %s", reason, item.kind, item.id)
            self.host.events.publish(UserEvent(
                "timer_stopped", {"kind": item.kind, "id": item.id, "reason": reason}))
        return stopped

    async def _ring(self) -> None:
        started = self.clock.monotonic()
        while self.ringing:
            if self.clock.monotonic() - started >= self.settings.ring_timeout_s:
                self.stop("timeout")
                return
            if self.host.state not in QUIET_STATES:
                await self.clock.sleep(BUSY_POLL_S)
                continue
            await self._one_ring()
            await self._announce_once()
            await self.clock.sleep(GAP_S)

    async def _one_ring(self) -> None:
        """One ring, cut short if the assistant becomes busy (the wake word was heard)."""
        volume = max(self.host.volume, self.settings.ring_min_volume)
        with self.host.events.subscribe() as sub:
            play = asyncio.ensure_future(self.host.play_sound(self._sound, RING_RATE_HZ, volume))
            busy = asyncio.ensure_future(_until_busy(sub))
            try:
                await asyncio.wait({play, busy}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(play, busy)
            if play.done() and not play.cancelled() and play.exception() is not None:
                _LOGGER.warning("cannot play the ring: %s", play.exception())

    async def _announce_once(self) -> None:
        if not self._announce or self.host.state not in QUIET_STATES:
            return
        text = " ".join(item.announcement for item in self._announce)
        self._announce.clear()
        await say(self.host, text)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)


async def _until_busy(sub: Subscription) -> None:
    while True:
        event = await sub.get()
        if isinstance(event, StateChanged) and event.new not in QUIET_STATES:
            return


async def say(host: RingHost | Any, text: str) -> None:
    """``host.say(text)``, but a cancellation of the caller is not lost: ``Pipeline.say``
    returns normally when cancelled (it suppresses CancelledError), so re-raise it here."""
    await host.say(text)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel ``tasks`` and wait for them to end. A cancellation of the *caller* while waiting
    still propagates (``gather`` raises it; the tasks' own CancelledErrors are only returned)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
