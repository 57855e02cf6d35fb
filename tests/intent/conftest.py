"""Fixtures for the intent engine and household skills: a recording host and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.clock import FakeClock
from appliance.controller import IntentHandler, Reply
from appliance.events import EventBus, State, StateChanged
from appliance.intent.engine import IntentEngine, make_engine
from appliance.settings import Settings, load_settings
from appliance.skills.service import Skills

# 2030-01-07 (a Monday) 06:50:00 UTC
T0 = datetime(2030, 1, 7, 6, 50, tzinfo=UTC).timestamp()


class RecordingHost:
    """The pipeline as the skills see it; records what they asked for (real code, no mocks)."""

    def __init__(self) -> None:
        self.events = EventBus()
        self._state = State.IDLE
        self._volume = 50
        self.muted = False
        self.said: list[str] = []
        self.sounds: list[int] = []  # the volume of each sound played
        self.last_reply: Reply | None = None
        self.stops = 0
        self.handlers: list[IntentHandler] = []

    @property
    def state(self) -> State:
        return self._state

    def set_state(self, new: State) -> None:
        old, self._state = self._state, new
        self.events.publish(StateChanged(old, new))

    @property
    def volume(self) -> int:
        return self._volume

    def set_volume(self, volume: int) -> None:
        self._volume = volume

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def set_wake_enabled(self, enabled: bool) -> None:
        pass

    # The wake word controls: the skills never use them.
    wake_words = ("hey_jarvis",)
    active_wake_word = "hey_jarvis"
    wake_threshold = 0.5

    def set_active_wake_word(self, name: str) -> None:
        raise AssertionError("skills do not choose the wake word")

    def set_wake_threshold(self, threshold: float) -> None:
        raise AssertionError("skills do not set the wake threshold")

    def start_listening(self, source: str = "button") -> None:
        pass

    def stop(self) -> None:
        self.stops += 1

    async def say(self, text: str) -> None:
        self.said.append(text)

    async def play_sound(self, samples: Any, rate_hz: int, volume: int) -> None:
        self.sounds.append(volume)

    def add_intent_handler(self, handler: IntentHandler) -> None:
        self.handlers.append(handler)


def skill_settings(tmp: Path, **skills: Any) -> Settings:
    return load_settings(overrides={"intent": {"sentences_dirs": []},
                                    "skills": {"state_dir": str(tmp), **skills}})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0, UTC)


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost()


@pytest.fixture(scope="session")
def engine() -> IntentEngine:
    return make_engine(load_settings(overrides={"intent": {"sentences_dirs": []}}),
                       ("hey_jarvis",))


@pytest.fixture
async def skills(tmp_path: Path, host: RecordingHost, clock: FakeClock, engine: IntentEngine
                 ) -> AsyncIterator[Skills]:
    """Skills on a fake clock, their scheduler running, their questions known to ``engine``."""
    import asyncio
    import contextlib

    s = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)
    engine.add_context(s.conversation.context)
    task = asyncio.create_task(s.run(), name="skills")
    try:
        yield s
    finally:
        engine._contexts.remove(s.conversation.context)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
