"""A hand-written controller: records what MQTT asked of it, emits events like the pipeline."""

from __future__ import annotations

import asyncio

from appliance.controller import IntentHandler
from appliance.events import ListeningStarted, SpeechFinished, State, VolumeChanged
from tests.controllers import RecordingController


class FakeController(RecordingController):
    """Also moves through the states and emits the events as the pipeline does."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[IntentHandler] = []
        self.wake_enabled = True
        self._sessions = 0
        self.spoken = asyncio.Queue[str]()

    def start_listening(self, source: str = "button") -> None:
        super().start_listening(source)
        self._sessions += 1
        self.set_state(State.LISTENING)
        self.events.publish(ListeningStarted(source, f"fake-{self._sessions}"))

    def stop(self) -> None:
        super().stop()
        self.set_state(State.IDLE)

    def set_muted(self, muted: bool) -> None:
        super().set_muted(muted)
        self.set_state(State.MUTED if muted else State.IDLE)

    def set_volume(self, volume: int) -> None:
        self._record("set_volume", volume)
        self._volume = max(0, min(100, volume))  # kept in range, as the pipeline does
        self.events.publish(VolumeChanged(self._volume))

    def set_wake_enabled(self, enabled: bool) -> None:
        super().set_wake_enabled(enabled)
        self.wake_enabled = enabled

    async def say(self, text: str) -> None:
        await super().say(text)
        self.set_state(State.SPEAKING)
        await asyncio.sleep(0)
        self.events.publish(SpeechFinished(text, ""))
        self.set_state(State.IDLE)
        self.spoken.put_nowait(text)

    def add_intent_handler(self, handler: IntentHandler) -> None:
        super().add_intent_handler(handler)
        self.handlers.append(handler)

