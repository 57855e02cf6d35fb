"""What the rest of the appliance may ask of the voice pipeline.

Buttons, MQTT and skills talk to the pipeline only through :class:`Controller`; tests can pass
their own recording implementation. The pipeline in ``appliance.pipeline`` is the real one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from appliance.audio.format import Int16Array
from appliance.events import EventBus, State

_LOGGER = logging.getLogger(__name__)

NOT_UNDERSTOOD = "Sorry, I didn't understand."


@dataclass(frozen=True)
class Recognition:
    """A recognised intent: its name, slot values and how sure the engine is (0-1)."""

    name: str
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    text: str = ""


@dataclass(frozen=True)
class Sound:
    """Audio to play as it is (an answer or announcement Home Assistant synthesised)."""

    samples: Int16Array  # mono
    rate_hz: int


@dataclass(frozen=True)
class Reply:
    """What to say back. ``follow_up``: listen again once, without the wake word. ``sound``:
    play that instead of synthesising ``text`` (which is then what it says, for the logs)."""

    text: str
    follow_up: bool = False
    sound: Sound | None = None


@dataclass(frozen=True)
class Moot:
    """Commands that words still to come could not change, in the state a command is heard in:
    the skills' say, so that the turn answers it without waiting for those words.

    ``idle``: intents that would do nothing now, whatever their slots (no timers: "cancel the
    timer ... for the eggs" answers "You have no timers." either way). ``one_target``: intents
    whose slots only pick what they act on, when there is one thing to pick (one timer: "cancel
    the timer" is that timer, so the turn does not wait to hear which).
    """

    idle: frozenset[str] = frozenset()
    one_target: frozenset[str] = frozenset()

    def __or__(self, other: Moot) -> Moot:
        return Moot(self.idle | other.idle, self.one_target | other.one_target)

    @classmethod
    def by_count(cls, count: int, *, idle: frozenset[str], one_target: frozenset[str]) -> Moot:
        """A skill's say for ``count`` things (timers, alarms): none, its ``idle`` intents do
        nothing; one, its ``one_target`` intents can only pick that one; more, nothing."""
        if count == 0:
            return cls(idle=idle)
        return cls(one_target=one_target) if count == 1 else NOTHING_MOOT


NOTHING_MOOT = Moot()


@runtime_checkable
class KnowsMoot(Protocol):
    """An intent handler that can say which longer commands are moot in its present state."""

    def moot(self) -> Moot: ...


class IntentHandler(Protocol):
    """Handles a recognised intent, or returns None to let the next handler try."""

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None: ...


class Handlers:
    """The intent handlers, asked in order until one answers."""

    def __init__(self) -> None:
        self.chain: list[IntentHandler] = []

    def add(self, handler: IntentHandler, position: int | None = None) -> None:
        self.chain.insert(len(self.chain) if position is None else position, handler)

    def remove(self, handler: IntentHandler) -> int:
        """Take ``handler`` out; returns where it was (for a replacement)."""
        position = self.chain.index(handler)
        del self.chain[position]
        return position

    async def handle(self, recognition: Recognition, session_id: str) -> Reply:
        for handler in self.chain:
            reply = await handler.handle(recognition, session_id)
            if reply is not None:
                return reply
        _LOGGER.warning("no handler answered intent %s", recognition.name)
        return Reply(NOT_UNDERSTOOD)

    def moot(self) -> Moot:
        """What every handler that knows says is moot now (called in the event loop)."""
        moot = NOTHING_MOOT
        for handler in self.chain:
            if isinstance(handler, KnowsMoot):
                moot |= handler.moot()
        return moot


class Controller(Protocol):
    events: EventBus

    @property
    def state(self) -> State: ...

    @property
    def volume(self) -> int: ...

    @property
    def muted(self) -> bool: ...

    def start_listening(self, source: str = "button") -> None:
        """Start a command without the wake word (talk button, MQTT)."""

    def stop(self) -> None:
        """Stop whatever is going on (speech, listening, ringing) and go idle."""

    def set_muted(self, muted: bool) -> None:
        """Muted: the microphone is not processed at all."""

    def set_volume(self, volume: int) -> None:
        """0-100, clamped."""

    def set_wake_enabled(self, enabled: bool) -> None:
        """Hotword detection on/off (Hermes toggleOn/toggleOff) without muting."""

    async def say(self, text: str) -> None:
        """Speak ``text`` (an announcement); returns when it has been played or cancelled."""

    def add_intent_handler(self, handler: IntentHandler) -> None:
        """Handlers are tried in the order added, after the built-in skills."""

    # The wake word controls (Home Assistant's wake word select and sensitivity number).
    @property
    def wake_words(self) -> tuple[str, ...]:
        """Names of the loaded wake-word models."""

    @property
    def active_wake_word(self) -> str: ...

    @property
    def wake_threshold(self) -> float:
        """Detection threshold (0.01-0.99) of the active wake word; lower is more sensitive."""

    def set_active_wake_word(self, name: str) -> None: ...

    def set_wake_threshold(self, threshold: float) -> None: ...
