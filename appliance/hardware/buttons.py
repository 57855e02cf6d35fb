"""Buttons: a clock-free gesture detector, and what each gesture asks of the controller.

The detector is fed edges with their timestamps and is told the time (``advance``); it says
when it next needs to be told (``next_deadline``). It never reads a clock, so tests feed it
numbers. Debouncing: a level counts once the raw input has held it for ``debounce_s``.

Gestures of a normal button: ``short`` (released before ``long_press_s``; when the button also
has a double-press action, only once ``double_press_s`` passed without a second press),
``double`` (the second press, on press-down) and ``long`` (while still held, at ``long_press_s``).
A repeating button (volume) gives ``short`` on press-down, then ``repeat`` after
``repeat_delay_s`` and every ``repeat_interval_s`` while held.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from appliance.controller import Controller
from appliance.events import UserEvent
from appliance.hardware.config import ButtonSettings, GestureSettings

_LOGGER = logging.getLogger(__name__)


class Gesture(StrEnum):
    SHORT = "short"
    DOUBLE = "double"
    LONG = "long"
    REPEAT = "repeat"


class Debouncer:
    """A level that follows the raw input once the input has been steady for ``debounce_s``."""

    def __init__(self, debounce_s: float, level: bool = False) -> None:
        self.level = level
        self._debounce_s = debounce_s
        self._raw = level
        self._raw_since_s = 0.0
        self._now_s = -float("inf")

    @property
    def pending_since_s(self) -> float | None:
        """When the raw input changed to a level not yet accepted (None: nothing pending)."""
        return self._raw_since_s if self._raw != self.level else None

    def edge(self, raw: bool, t_s: float) -> list[bool]:
        out = self.advance(t_s)
        if raw != self._raw:
            self._raw = raw
            self._raw_since_s = max(t_s, self._now_s)
        return out

    def next_deadline(self) -> float | None:
        since = self.pending_since_s
        return None if since is None else since + self._debounce_s

    def advance(self, t_s: float) -> list[bool]:
        """The accepted level changes up to ``t_s`` (at most one)."""
        self._now_s = max(self._now_s, t_s)
        deadline = self.next_deadline()
        if deadline is None or deadline > t_s:
            return []
        self.level = self._raw
        return [self.level]


class GestureDetector:
    """Edges and time in, gestures out. ``double``: the button has a double-press action."""

    def __init__(self, timing: GestureSettings, *, double: bool, repeat: bool) -> None:
        self._t = timing
        self._double = double
        self._repeat = repeat
        self._debouncer = Debouncer(timing.debounce_s)
        self._pressed_at: float | None = None
        self._long_due = False
        self._next_repeat: float | None = None
        self._released_at: float | None = None

    def edge(self, pressed: bool, t_s: float) -> list[Gesture]:
        out = self.advance(t_s)
        self._debouncer.edge(pressed, t_s)
        return out + self.advance(t_s)

    def advance(self, t_s: float) -> list[Gesture]:
        out: list[Gesture] = []
        while (deadline := self.next_deadline()) is not None and deadline <= t_s:
            out += self._fire(deadline)
        self._debouncer.advance(t_s)
        return out

    def next_deadline(self) -> float | None:
        times = [t for t in self._deadlines() if t is not None]
        return min(times) if times else None

    def _deadlines(self) -> tuple[float | None, float | None, float | None]:
        long_at = None
        if self._pressed_at is not None and self._long_due:
            long_at = self._pressed_at + self._t.long_press_s
        return self._debouncer.next_deadline(), long_at, self._next_repeat_or_short()

    def _next_repeat_or_short(self) -> float | None:
        if self._next_repeat is not None:
            return self._next_repeat
        if self._released_at is None:
            return None
        due = self._released_at + self._t.double_press_s
        pending = self._debouncer.pending_since_s
        if pending is not None and not self._debouncer.level and pending <= due:
            return None  # a second press is being debounced: wait for it
        return due

    def _fire(self, deadline: float) -> list[Gesture]:
        debounce_at, long_at, timer_at = self._deadlines()
        if deadline == debounce_at:
            since = self._debouncer.pending_since_s
            since = deadline if since is None else since
            (level,) = self._debouncer.advance(deadline)
            return self._on_press(since) if level else self._on_release(since)
        if deadline == long_at:
            self._long_due = False
            return [Gesture.LONG]
        if self._next_repeat is not None and deadline == timer_at:
            self._next_repeat = deadline + self._t.repeat_interval_s
            return [Gesture.REPEAT]
        self._released_at = None
        return [Gesture.SHORT]

    def _on_press(self, t_s: float) -> list[Gesture]:
        self._pressed_at = t_s
        if self._repeat:
            self._next_repeat = t_s + self._t.repeat_delay_s
            return [Gesture.SHORT]
        if self._released_at is not None:
            self._released_at = None
            return [Gesture.DOUBLE]
        self._long_due = True
        return []

    def _on_release(self, t_s: float) -> list[Gesture]:
        self._pressed_at = None
        self._next_repeat = None
        if self._repeat or not self._long_due:
            return []  # repeating button, a long press already reported, or a double press
        self._long_due = False
        if self._double:
            self._released_at = t_s
            return []
        return [Gesture.SHORT]


# ---------------------------------------------------------------------------------------------
# Gestures to actions


def action_for(gesture: Gesture, button: ButtonSettings) -> str:
    """The configured action ("talk", "stop", ..., "none") of a gesture on a button."""
    if gesture == Gesture.DOUBLE:
        return button.double
    if gesture == Gesture.LONG:
        return button.long
    return button.short


def perform(action: str, controller: Controller, *, button: str, gesture: Gesture,
            volume_step: int) -> None:
    """Do what ``action`` asks of the controller."""
    _LOGGER.info("button %s: %s press -> %s", button, gesture.value, action)
    if action == "talk":
        controller.start_listening("button")
    elif action == "stop":
        controller.stop()
    elif action == "mute":
        controller.set_muted(not controller.muted)
    elif action in ("volume_up", "volume_down"):
        step = volume_step if action == "volume_up" else -volume_step
        controller.set_volume(max(0, min(100, controller.volume + step)))
    elif action == "custom":
        controller.events.publish(
            UserEvent("button", {"button": button, "gesture": gesture.value})
        )
