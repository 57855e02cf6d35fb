"""A Controller for tests of what drives the pipeline (buttons, MQTT): it records each call."""

from __future__ import annotations

import asyncio

from appliance.controller import IntentHandler
from appliance.events import EventBus, MuteChanged, State, StateChanged, VolumeChanged


class RecordingController:
    """A Controller that records what it was asked (real code, no mocks)."""

    def __init__(self, state: State = State.IDLE, volume: int = 50) -> None:
        self.events = EventBus()
        self.calls: list[tuple[str, object]] = []
        self._state = state
        self._volume = volume
        self._muted = False
        self._wake_words = ("hey_jarvis", "alexa")
        self._active_wake_word = "hey_jarvis"
        self._wake_threshold = 0.5
        self._called = asyncio.Event()

    @property
    def state(self) -> State:
        return self._state

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def muted(self) -> bool:
        return self._muted

    def start_listening(self, source: str = "button") -> None:
        self._record("start_listening", source)

    def stop(self) -> None:
        self._record("stop", None)

    def set_muted(self, muted: bool) -> None:
        self._record("set_muted", muted)
        self._muted = muted
        self.events.publish(MuteChanged(muted))

    def set_volume(self, volume: int) -> None:
        self._record("set_volume", volume)
        self._volume = volume
        self.events.publish(VolumeChanged(volume))

    def set_wake_enabled(self, enabled: bool) -> None:
        self._record("set_wake_enabled", enabled)

    @property
    def wake_words(self) -> tuple[str, ...]:
        return self._wake_words

    @property
    def active_wake_word(self) -> str:
        return self._active_wake_word

    @property
    def wake_threshold(self) -> float:
        return self._wake_threshold

    def set_active_wake_word(self, name: str) -> None:
        self._record("set_active_wake_word", name)
        self._active_wake_word = name

    def set_wake_threshold(self, threshold: float) -> None:
        self._record("set_wake_threshold", threshold)
        self._wake_threshold = threshold

    async def say(self, text: str) -> None:
        self._record("say", text)

    def add_intent_handler(self, handler: IntentHandler) -> None:
        self._record("add_intent_handler", handler)

    def _record(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))
        self._called.set()

    def named(self, name: str) -> list[object]:
        return [arg for call, arg in self.calls if call == name]

    async def wait_for(self, name: str, count: int = 1, timeout_s: float = 5.0) -> list[object]:
        """The arguments of the first ``count`` calls of ``name``, once there are that many."""
        async with asyncio.timeout(timeout_s):
            while len(self.named(name)) < count:
                self._called.clear()
                await self._called.wait()
        return self.named(name)

    def set_state(self, new: State) -> None:
        old, self._state = self._state, new
        self.events.publish(StateChanged(old, new))
