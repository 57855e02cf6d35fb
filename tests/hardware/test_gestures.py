"""The pure gesture detector, fed edges with timestamps (no clock, no sleeping)."""

from __future__ import annotations

import pytest

from appliance.hardware.buttons import Debouncer, Gesture, GestureDetector, action_for
from appliance.hardware.config import ButtonSettings, GestureSettings

TIMING = GestureSettings(debounce_s=0.02, double_press_s=0.3, long_press_s=1.0,
                         repeat_delay_s=0.5, repeat_interval_s=0.2)
S, D, L, R = Gesture.SHORT, Gesture.DOUBLE, Gesture.LONG, Gesture.REPEAT


def simulate(
    det: GestureDetector, edges: list[tuple[float, bool]], end_s: float
) -> list[tuple[float, Gesture]]:
    """Like the event-loop adapter: each edge in turn, and a wake-up at every deadline."""
    out: list[tuple[float, Gesture]] = []
    steps: list[tuple[float, bool | None]] = [*edges, (end_s, None)]
    for t, pressed in steps:
        while (deadline := det.next_deadline()) is not None and deadline <= t:
            out += [(round(deadline, 6), g) for g in det.advance(deadline)]
        if pressed is not None:
            out += [(t, g) for g in det.edge(pressed, t)]
    return out


def test_short_press_without_double_action_fires_once_release_is_steady() -> None:
    det = GestureDetector(TIMING, double=False, repeat=False)
    assert simulate(det, [(0.0, True), (0.2, False)], 5.0) == [(0.22, S)]


def test_short_press_waits_for_the_double_press_window() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    assert simulate(det, [(0.0, True), (0.2, False)], 5.0) == [(0.5, S)]


def test_double_press_fires_on_the_second_press_and_nothing_else() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    edges = [(0.0, True), (0.1, False), (0.25, True), (0.35, False)]
    assert simulate(det, edges, 5.0) == [(0.27, D)]


def test_long_press_fires_while_held_and_release_adds_nothing() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    assert simulate(det, [(0.0, True), (1.5, False)], 5.0) == [(1.0, L)]


def test_contact_bounce_is_one_press_not_a_double() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    edges = [(0.0, True), (0.003, False), (0.006, True),
             (0.2, False), (0.202, True), (0.204, False)]
    assert simulate(det, edges, 5.0) == [(0.504, S)]


def test_glitch_shorter_than_debounce_is_ignored() -> None:
    det = GestureDetector(TIMING, double=False, repeat=False)
    assert simulate(det, [(0.0, True), (0.005, False)], 5.0) == []


def test_repeating_button_acts_on_press_then_repeats_until_release() -> None:
    det = GestureDetector(TIMING, double=False, repeat=True)
    assert simulate(det, [(0.0, True), (1.0, False)], 5.0) == [
        (0.02, S), (0.5, R), (0.7, R), (0.9, R),
    ]


def test_second_press_started_inside_the_window_counts_even_if_debounced_after_it() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    edges = [(0.0, True), (0.1, False), (0.395, True), (0.5, False)]
    assert simulate(det, edges, 5.0) == [(0.415, D)]


def test_second_press_after_the_window_is_a_new_press() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    edges = [(0.0, True), (0.1, False), (0.45, True), (0.5, False)]
    assert simulate(det, edges, 5.0) == [(0.4, S), (0.8, S)]


def test_late_wakeup_still_reports_gestures_in_order() -> None:
    det = GestureDetector(TIMING, double=True, repeat=False)
    det.edge(True, 0.0)
    det.edge(False, 0.1)
    det.edge(True, 0.2)
    assert det.advance(3.0) == [D]
    det.edge(False, 3.1)
    det.edge(True, 3.2)
    assert det.advance(10.0) == [L]


def test_debouncer_reports_the_steady_level() -> None:
    deb = Debouncer(0.05, level=True)
    assert deb.edge(False, 1.0) == []
    assert deb.edge(True, 1.01) == []
    assert deb.advance(2.0) == []
    assert deb.edge(False, 3.0) == []
    assert deb.next_deadline() == pytest.approx(3.05)
    assert deb.advance(3.05) == [False]
    assert deb.level is False


def test_actions_follow_the_button_settings() -> None:
    button = ButtonSettings(pin=17, pull_up=True, short="talk", double="mute", long="stop",
                            repeat=False)
    assert [action_for(g, button) for g in (S, D, L, R)] == ["talk", "mute", "stop", "talk"]
