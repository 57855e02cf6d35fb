"""What the LEDs show: a pure function of the assistant's state and the time.

:func:`apply_event` folds events into a :class:`Scene` (what is going on and since when);
:func:`frame` turns a scene and a time into one colour per LED. Neither reads a clock: the
animator passes ``t_s`` (monotonic seconds) in, so tests check exact frames at exact times.

Looks, highest priority first: volume level (for ``volume_show_s`` after a change), timer ringing
(even/odd LEDs alternate), then the state: starting = spinner, idle/wake/listening/muted = solid,
thinking = fast spinner, speaking = breathing, error = blinking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

from appliance.events import Event, MuteChanged, State, StateChanged, UserEvent, VolumeChanged
from appliance.hardware.config import ColorSettings, NightSettings

RGB = tuple[int, int, int]
OFF: RGB = (0, 0, 0)

SPIN_PERIOD_S = {"starting": 1.0, "thinking": 0.5}
BREATHE_PERIOD_S = 1.0
BREATHE_FLOOR = 0.25
BLINK_PERIOD_S = 0.5
TAIL_LEVEL = 0.25
ANIMATED = frozenset({"starting", "thinking", "speaking", "error", "timer"})


@dataclass(frozen=True)
class Scene:
    """What the LEDs are about: the state and since when, plus the overlays."""

    state: State = State.STARTING
    since_s: float = 0.0
    muted: bool = False
    ringing_since_s: float | None = None
    volume: int | None = None
    volume_since_s: float = 0.0


@dataclass(frozen=True)
class LedStyle:
    count: int
    colors: Mapping[str, RGB]
    volume_show_s: float

    @classmethod
    def from_settings(cls, colors: ColorSettings, count: int, volume_show_s: float) -> LedStyle:
        names = [f.name for f in fields(colors)]
        return cls(count, {n: colors.rgb(n) for n in names}, volume_show_s)


def apply_event(scene: Scene, event: Event, t_s: float) -> Scene:
    """The scene after ``event`` happened at ``t_s``."""
    if isinstance(event, StateChanged):
        return replace(scene, state=event.new, since_s=t_s)
    if isinstance(event, MuteChanged):
        return replace(scene, muted=event.muted)
    if isinstance(event, VolumeChanged):
        return replace(scene, volume=event.volume, volume_since_s=t_s)
    if isinstance(event, UserEvent) and event.kind == "timer_ringing":
        return replace(scene, ringing_since_s=t_s)
    if isinstance(event, UserEvent) and event.kind == "timer_stopped":
        return replace(scene, ringing_since_s=None)
    return scene


def look(scene: Scene, t_s: float, style: LedStyle) -> str:
    """Which look is showing: "volume", "timer", "muted" or a state name."""
    if scene.volume is not None and t_s - scene.volume_since_s < style.volume_show_s:
        return "volume"
    if scene.ringing_since_s is not None:
        return "timer"
    if scene.state == State.IDLE and scene.muted:
        return "muted"
    return scene.state.value


def still_for_s(scene: Scene, t_s: float, style: LedStyle) -> float:
    """How long the frame stays the same without a new event: 0 while animated."""
    name = look(scene, t_s, style)
    if name == "volume":
        return style.volume_show_s - (t_s - scene.volume_since_s)
    return 0.0 if name in ANIMATED else math.inf


def frame(scene: Scene, t_s: float, style: LedStyle) -> list[RGB]:
    """One colour per LED for ``scene`` at time ``t_s``."""
    name = look(scene, t_s, style)
    color = style.colors[name]
    n = style.count
    if name == "volume":
        return _bar(scene.volume or 0, color, n)
    if name == "timer":
        return _alternate(t_s - (scene.ringing_since_s or 0.0), color, n)
    elapsed = t_s - scene.since_s
    if name in SPIN_PERIOD_S:
        return _spinner(_phase(elapsed, SPIN_PERIOD_S[name]), color, n)
    if name == "speaking":
        tri = abs(1.0 - 2.0 * _phase(elapsed, BREATHE_PERIOD_S))
        return [scale(color, BREATHE_FLOOR + (1.0 - BREATHE_FLOOR) * tri)] * n
    if name == "error":
        return [color if _phase(elapsed, BLINK_PERIOD_S) < 0.5 else OFF] * n
    return [color] * n


def _phase(elapsed_s: float, period_s: float) -> float:
    return (elapsed_s % period_s) / period_s


def _spinner(phase: float, color: RGB, n: int) -> list[RGB]:
    head = min(n - 1, math.floor(phase * n))
    pixels = [OFF] * n
    if n > 2:
        pixels[(head - 1) % n] = scale(color, TAIL_LEVEL)
    pixels[head] = color
    return pixels


def _alternate(elapsed_s: float, color: RGB, n: int) -> list[RGB]:
    lit = 0 if _phase(elapsed_s, BLINK_PERIOD_S) < 0.5 else 1
    return [color if i % 2 == lit else OFF for i in range(n)]


def _bar(volume: int, color: RGB, n: int) -> list[RGB]:
    lit = (volume * n + 50) // 100
    if volume > 0:
        lit = max(1, lit)
    return [color if i < lit else OFF for i in range(n)]


def scale(color: RGB, level: float) -> RGB:
    """``color`` at ``level`` (0-1), rounded half up."""
    r, g, b = color
    return int(r * level + 0.5), int(g * level + 0.5), int(b * level + 0.5)


def dim(pixels: Sequence[RGB], level: float) -> list[RGB]:
    return [scale(p, level) for p in pixels] if level < 1.0 else list(pixels)


def brightness_at(minute_of_day: int, day_brightness: float, night: NightSettings) -> float:
    """The brightness at a local time of day (minutes after midnight): dimmer at night.

    The night runs from ``night.start`` up to ``night.end`` and may cross midnight; start equal
    to end means no night.
    """
    start, end = night.start_min, night.end_min
    if start == end:
        return day_brightness
    at_night = start <= minute_of_day < end if start < end else (
        minute_of_day >= start or minute_of_day < end
    )
    return min(day_brightness, night.brightness) if at_night else day_brightness
