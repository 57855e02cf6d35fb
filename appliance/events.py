"""What happened in the assistant, as one stream of typed events.

The pipeline publishes; LEDs, MQTT, logs and the systemd status line subscribe. Each subscriber
has its own bounded queue: a slow subscriber loses its oldest events (logged once), it never
slows the audio path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_LOGGER = logging.getLogger(__name__)


class State(StrEnum):
    """The assistant's one state. Every change goes through ``Pipeline._set_state``."""

    STARTING = "starting"
    IDLE = "idle"
    WAKE = "wake"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    """Base class of every event; ``at`` is when it happened (monotonic seconds)."""

    at: float = field(default_factory=time.monotonic, kw_only=True, compare=False)


@dataclass(frozen=True)
class StateChanged(Event):
    old: State
    new: State
    reason: str = ""


@dataclass(frozen=True)
class WakeDetected(Event):
    wake_word: str
    score: float


@dataclass(frozen=True)
class ListeningStarted(Event):
    source: str  # "wake" | "button" | "mqtt" | "follow-up"
    session_id: str


@dataclass(frozen=True)
class TranscriptReady(Event):
    text: str
    session_id: str


@dataclass(frozen=True)
class IntentRecognized(Event):
    name: str
    slots: dict[str, Any]
    confidence: float
    text: str
    session_id: str


@dataclass(frozen=True)
class IntentNotRecognized(Event):
    text: str
    session_id: str


@dataclass(frozen=True)
class ResponseReady(Event):
    text: str
    session_id: str


@dataclass(frozen=True)
class SpeechFinished(Event):
    text: str
    session_id: str
    cancelled: bool = False


@dataclass(frozen=True)
class SessionEnded(Event):
    session_id: str
    reason: str  # "answered" | "no-speech" | "cancelled" | "error" | "not-understood"


@dataclass(frozen=True)
class StageStarted(Event):
    """A turn began a stage: ``listen``, ``stt``, ``intent`` or ``answer``."""

    stage: str
    session_id: str


@dataclass(frozen=True)
class StageEnded(Event):
    stage: str
    session_id: str
    outcome: str = ""  # e.g. the endpoint ("speech-end"), the intent's name, "cancelled"


@dataclass(frozen=True)
class VolumeChanged(Event):
    volume: int


@dataclass(frozen=True)
class MuteChanged(Event):
    muted: bool


@dataclass(frozen=True)
class ErrorRaised(Event):
    code: str
    message: str


# UserEvent kind: a message for MQTT to publish as it is ({"topic", "payload", "retain"}).
MQTT_PUBLISH = "mqtt_publish"


@dataclass(frozen=True)
class UserEvent(Event):
    """Something outside the voice loop worth telling home automation (buttons, timers)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """One subscriber's bounded queue of events; iterate it with ``async for``."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._overflowed = False

    def put(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            if not self._overflowed:
                _LOGGER.warning("event subscriber is too slow; dropping its oldest events")
                self._overflowed = True
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def get_nowait(self) -> Event | None:
        return None if self._queue.empty() else self._queue.get_nowait()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Fan-out of events to subscribers. Publishing never blocks and never raises."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, maxsize: int = 256) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            sub.put(event)
