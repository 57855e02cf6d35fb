"""Golden frames: what the LEDs show for each state at given times, worked out by hand."""

from __future__ import annotations

import math
from typing import Any

from appliance.events import MuteChanged, State, StateChanged, UserEvent, VolumeChanged
from appliance.hardware.animator import Animator
from appliance.hardware.config import ColorSettings, NightSettings
from appliance.hardware.led_backends import RecordingSink
from appliance.hardware.leds import LedStyle, Scene, apply_event, brightness_at, frame, still_for_s

W = (255, 255, 255)
BLUE = (0, 64, 255)
CYAN = (0, 192, 255)
GREEN = (0, 255, 64)
RED = (255, 0, 0)
ORANGE = (255, 128, 0)
ERR = (255, 32, 0)
OFF = (0, 0, 0)

COLORS = ColorSettings(
    starting="#ffffff", idle="#000000", wake="#ffffff", listening="#0040ff",
    thinking="#00c0ff", speaking="#00ff40", muted="#ff0000", error="#ff2000",
    timer="#ff8000", volume="#ffffff",
)
STYLE = LedStyle.from_settings(COLORS, 4, 1.5)
NO_NIGHT = NightSettings(brightness=0.1, start="00:00", end="00:00")


def at(state: State, since: float = 10.0, **kw: Any) -> Scene:
    return Scene(state=state, since_s=since, **kw)


def test_starting_is_a_one_second_spinner_with_a_quarter_bright_tail() -> None:
    tail = (64, 64, 64)
    assert frame(at(State.STARTING), 10.0, STYLE) == [W, OFF, OFF, tail]
    assert frame(at(State.STARTING), 10.25, STYLE) == [tail, W, OFF, OFF]
    assert frame(at(State.STARTING), 11.75, STYLE) == [OFF, OFF, tail, W]


def test_thinking_spins_twice_as_fast() -> None:
    tail = (0, 48, 64)
    assert frame(at(State.THINKING), 10.375, STYLE) == [OFF, OFF, tail, CYAN]


def test_solid_states() -> None:
    assert frame(at(State.IDLE), 99.0, STYLE) == [OFF] * 4
    assert frame(at(State.WAKE), 99.0, STYLE) == [W] * 4
    assert frame(at(State.LISTENING), 99.0, STYLE) == [BLUE] * 4
    assert frame(at(State.MUTED), 99.0, STYLE) == [RED] * 4
    assert frame(at(State.IDLE, muted=True), 99.0, STYLE) == [RED] * 4


def test_speaking_breathes_between_full_and_a_quarter() -> None:
    assert frame(at(State.SPEAKING), 10.0, STYLE) == [GREEN] * 4
    # level 0.25 + 0.75 * 0.5 = 0.625: 255 * 0.625 = 159.4, 64 * 0.625 = 40
    assert frame(at(State.SPEAKING), 10.25, STYLE) == [(0, 159, 40)] * 4
    assert frame(at(State.SPEAKING), 10.5, STYLE) == [(0, 64, 16)] * 4


def test_error_blinks_twice_a_second() -> None:
    assert frame(at(State.ERROR), 10.1, STYLE) == [ERR] * 4
    assert frame(at(State.ERROR), 10.3, STYLE) == [OFF] * 4


def test_timer_ringing_alternates_even_and_odd_leds_over_any_state() -> None:
    scene = at(State.IDLE, ringing_since_s=20.0)
    assert frame(scene, 20.0, STYLE) == [ORANGE, OFF, ORANGE, OFF]
    assert frame(scene, 20.3, STYLE) == [OFF, ORANGE, OFF, ORANGE]


def test_volume_shows_as_a_bar_for_a_while_then_what_was_there() -> None:
    scene = at(State.IDLE, ringing_since_s=20.0, volume=60, volume_since_s=30.0)
    assert frame(scene, 30.0, STYLE) == [W, W, OFF, OFF]
    assert still_for_s(scene, 30.5, STYLE) == 1.0
    assert frame(scene, 31.5, STYLE) == [ORANGE, OFF, ORANGE, OFF]
    low = at(State.IDLE, volume=1, volume_since_s=30.0)
    assert frame(low, 30.0, STYLE) == [W, OFF, OFF, OFF]
    assert frame(at(State.IDLE, volume=0, volume_since_s=30.0), 30.0, STYLE) == [OFF] * 4


def test_still_and_animated_looks() -> None:
    assert still_for_s(at(State.IDLE), 50.0, STYLE) == math.inf
    assert still_for_s(at(State.SPEAKING), 50.0, STYLE) == 0.0


def test_events_update_the_scene() -> None:
    scene = Scene()
    scene = apply_event(scene, StateChanged(State.STARTING, State.IDLE), 5.0)
    scene = apply_event(scene, MuteChanged(True), 6.0)
    scene = apply_event(scene, VolumeChanged(30), 7.0)
    scene = apply_event(scene, UserEvent("timer_ringing", {"name": "pasta"}), 8.0)
    assert scene == Scene(State.IDLE, 5.0, True, 8.0, 30, 7.0)
    scene = apply_event(scene, UserEvent("timer_stopped"), 9.0)
    assert scene.ringing_since_s is None


def test_night_dimming_crosses_midnight() -> None:
    night = NightSettings(brightness=0.1, start="22:00", end="07:00")
    assert brightness_at(21 * 60 + 59, 0.8, night) == 0.8
    assert brightness_at(22 * 60, 0.8, night) == 0.1
    assert brightness_at(3 * 60, 0.8, night) == 0.1
    assert brightness_at(7 * 60, 0.8, night) == 0.8
    assert brightness_at(23 * 60, 0.05, night) == 0.05  # never brighter at night
    day_nap = NightSettings(brightness=0.2, start="13:00", end="14:30")
    assert brightness_at(14 * 60, 1.0, day_nap) == 0.2
    assert brightness_at(15 * 60, 1.0, day_nap) == 1.0
    assert brightness_at(3 * 60, 1.0, NO_NIGHT) == 1.0


def test_animator_sends_the_golden_frames_of_a_session_and_skips_repeats(clock: Any) -> None:
    sink = RecordingSink()
    anim = Animator(sink, STYLE, brightness=0.5, night=NO_NIGHT, frame_rate_hz=30,
                    clock=clock, minute_of_day=lambda: 12 * 60)
    anim.scene = Scene(State.STARTING, 0.0)
    script: list[tuple[float, State | None]] = [
        (0.0, None), (0.5, None), (1.0, State.IDLE), (1.1, None), (2.0, State.WAKE),
        (2.1, State.LISTENING), (3.0, State.THINKING), (3.125, None), (4.0, State.SPEAKING),
        (4.5, None), (6.0, State.IDLE),
    ]
    for t, new_state in script:
        if new_state is not None:
            anim.handle(StateChanged(anim.scene.state, new_state), t)
        anim.render(t)
    anim.off()
    half_w, half_blue, half_cyan = (128, 128, 128), (0, 32, 128), (0, 96, 128)
    assert sink.frames == [
        (half_w, OFF, OFF, (32, 32, 32)),        # starting, head on LED 0
        (OFF, (32, 32, 32), half_w, OFF),        # starting, half a turn later
        (OFF, OFF, OFF, OFF),                        # idle (sent once, the repeat at 1.1 s skipped)
        (half_w,) * 4,                       # wake
        (half_blue,) * 4,                    # listening
        (half_cyan, OFF, OFF, (0, 24, 32)),      # thinking
        ((0, 24, 32), half_cyan, OFF, OFF),      # thinking, a quarter turn later
        ((0, 128, 32),) * 4,                 # speaking, full breath at half brightness
        ((0, 32, 8),) * 4,                   # speaking, half a breath later
        (OFF, OFF, OFF, OFF),                        # idle
        (OFF, OFF, OFF, OFF),                        # off(): always sent on the way out
    ]
    assert (anim.shown, anim.skipped) == (11, 1)
    assert sink.closed


def test_animator_dims_at_night(clock: Any) -> None:
    sink = RecordingSink()
    night = NightSettings(brightness=0.1, start="22:00", end="07:00")
    anim = Animator(sink, STYLE, brightness=1.0, night=night, frame_rate_hz=30,
                    clock=clock, minute_of_day=lambda: 23 * 60)
    anim.scene = Scene(State.LISTENING, 0.0)
    anim.render(1.0)
    assert sink.frames == [((0, 6, 26),) * 4]
