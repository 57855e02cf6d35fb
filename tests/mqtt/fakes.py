"""A hand-written controller: records what MQTT asked of it, emits events like the pipeline."""

from __future__ import annotations

import asyncio
from typing import Any

from appliance.control import IntentHandler
from appliance.events import (
    EventBus,
    ListeningStarted,
    MuteChanged,
    SpeechFinished,
    State,
    StateChanged,
    VolumeChanged,
)


class FakeController:
    def __init__(self) -> None:
        self.events = EventBus()
        self.calls: list[tuple[str, Any]] = []
        self.handlers: list[IntentHandler] = []
        self.wake_enabled = True
        self._state = State.IDLE
        self._volume = 50
        self._muted = False
        self._sessions = 0
        self.spoken = asyncio.Queue[str]()

    @property
    def state(self) -> State:
        return self._state

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def muted(self) -> bool:
        return self._muted

    def set_state(self, new: State) -> None:
        old, self._state = self._state, new
        self.events.publish(StateChanged(old, new))

    def start_listening(self, source: str = "button") -> None:
        self.calls.append(("start_listening", source))
        self._sessions += 1
        self.set_state(State.LISTENING)
        self.events.publish(ListeningStarted(source, f"fake-{self._sessions}"))

    def stop(self) -> None:
        self.calls.append(("stop", None))
        self.set_state(State.IDLE)

    def set_muted(self, muted: bool) -> None:
        self.calls.append(("set_muted", muted))
        self._muted = muted
        self.events.publish(MuteChanged(muted))
        self.set_state(State.MUTED if muted else State.IDLE)

    def set_volume(self, volume: int) -> None:
        self.calls.append(("set_volume", volume))
        self._volume = max(0, min(100, volume))
        self.events.publish(VolumeChanged(self._volume))

    def set_wake_enabled(self, enabled: bool) -> None:
        self.calls.append(("set_wake_enabled", enabled))
        self.wake_enabled = enabled

    async def say(self, text: str) -> None:
        self.calls.append(("say", text))
        self.set_state(State.SPEAKING)
        await asyncio.sleep(0)
        self.events.publish(SpeechFinished(text, ""))
        self.set_state(State.IDLE)
        self.spoken.put_nowait(text)

    def add_intent_handler(self, handler: IntentHandler) -> None:
        self.calls.append(("add_intent_handler", handler))
        self.handlers.append(handler)


class FakeWakeController(FakeController):
    """Also has the proposed wake-word controls (see appliance.mqtt.capabilities)."""

    def __init__(self) -> None:
        super().__init__()
        self._wake_words = ("hey_jarvis", "alexa")
        self._active = "hey_jarvis"
        self._threshold = 0.5

    @property
    def wake_words(self) -> tuple[str, ...]:
        return self._wake_words

    @property
    def active_wake_word(self) -> str:
        return self._active

    @property
    def wake_threshold(self) -> float:
        return self._threshold

    def set_active_wake_word(self, name: str) -> None:
        self.calls.append(("set_active_wake_word", name))
        self._active = name

    def set_wake_threshold(self, threshold: float) -> None:
        self.calls.append(("set_wake_threshold", threshold))
        self._threshold = threshold
