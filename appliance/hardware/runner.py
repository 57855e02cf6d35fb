"""The hardware task the daemon runs: LEDs follow the events, buttons drive the controller.

Without the ``pi`` extra or without the devices, the LEDs and/or buttons are disabled with one
log line each and the task just waits: the speaker works without them. Only the LEDs subscribe to
the events, and only while there are LEDs to animate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from typing import Any

from appliance.clock import Clock, minute_of_day
from appliance.controller import Controller
from appliance.events import EventBus, State, StateChanged
from appliance.hardware.animator import Animator
from appliance.hardware.buttons import Debouncer, Gesture, GestureDetector, action_for, perform
from appliance.hardware.config import ButtonSettings, HardwareSettings
from appliance.hardware.gpio import PinWatcher, open_input
from appliance.hardware.led_backends import (
    HardwareUnavailable,
    LedSink,
    NullSink,
    RecordingSink,
    open_sink,
)
from appliance.hardware.leds import LedStyle, Scene
from appliance.hardware.profiles import Wiring, resolve

_LOGGER = logging.getLogger(__name__)


async def run_hardware(
    settings: HardwareSettings,
    controller: Controller,
    clock: Clock,
    *,
    pin_factory: Any = None,
    sink: LedSink | None = None,
) -> None:
    """LEDs and buttons until cancelled; the LEDs are off and the pins released afterwards.

    ``clock`` gives the local time of day (night dimming). ``pin_factory`` (a gpiozero factory,
    e.g. MockFactory) and ``sink`` are for tests.
    """
    wiring = resolve(settings)
    for warning in wiring.warnings:
        _LOGGER.warning("%s", warning)
    loop = asyncio.get_running_loop()
    with _inputs(wiring, settings, controller, loop, pin_factory):
        if sink is None:
            sink = _open_leds(wiring, pin_factory)
        if isinstance(sink, NullSink) or wiring.leds.count == 0:
            # Nothing to animate, so no event subscription (the buttons only call the
            # controller): one nobody reads would overflow. Wait to be cancelled.
            await asyncio.Event().wait()
        await _animate(sink, wiring, settings, controller, clock)


async def _animate(
    sink: LedSink, wiring: Wiring, settings: HardwareSettings, controller: Controller,
    clock: Clock,
) -> None:
    """The LEDs follow the events until cancelled (subscribed before the state is read)."""
    with controller.events.subscribe() as events:
        animator = Animator(
            sink, LedStyle.from_settings(settings.colors, wiring.leds.count,
                                         settings.volume_show_s),
            brightness=settings.brightness, night=settings.night,
            frame_rate_hz=settings.frame_rate_hz, minute_of_day=lambda: minute_of_day(clock),
        )
        animator.scene = Scene(controller.state, time.monotonic(), controller.muted)
        await animator.run(events)


def _open_leds(wiring: Wiring, pin_factory: Any) -> LedSink:
    if wiring.leds.type == "none":
        return NullSink()
    try:
        return open_sink(wiring.leds, pin_factory)
    except HardwareUnavailable as err:
        _LOGGER.warning("LEDs disabled: %s (fix: %s)", err.message, err.fix)
        return NullSink()


@contextlib.contextmanager
def _inputs(
    wiring: Wiring,
    settings: HardwareSettings,
    controller: Controller,
    loop: asyncio.AbstractEventLoop,
    pin_factory: Any,
) -> Iterator[list[PinWatcher[Any]]]:
    """The buttons and the mute switch, watched while the context is open."""
    inputs = _Inputs(settings, controller, loop, pin_factory)
    try:
        try:
            inputs.open_buttons(wiring)
            inputs.open_mute_switch(wiring.mute_switch_pin)
        except HardwareUnavailable as err:
            _LOGGER.warning("buttons disabled: %s (fix: %s)", err.message, err.fix)
            inputs.close()
        yield inputs.watchers
    finally:
        inputs.close()


class _Inputs:
    def __init__(
        self,
        settings: HardwareSettings,
        controller: Controller,
        loop: asyncio.AbstractEventLoop,
        pin_factory: Any,
    ) -> None:
        self.watchers: list[PinWatcher[Any]] = []
        self._settings = settings
        self._controller = controller
        self._loop = loop
        self._pin_factory = pin_factory

    def open_buttons(self, wiring: Wiring) -> None:
        for button in wiring.buttons:
            cfg = button.settings
            detector = GestureDetector(self._settings.gestures, double=cfg.double != "none",
                                       repeat=cfg.repeat)
            device = open_input(button.pin, cfg.pull_up, self._pin_factory)
            emit = functools.partial(self._perform, button.name, cfg)
            self.watchers.append(PinWatcher(device, detector, emit, self._loop))
            _LOGGER.info("button %s on GPIO%d", button.name, button.pin)

    def _perform(self, name: str, cfg: ButtonSettings, gesture: Gesture) -> None:
        perform(action_for(gesture, cfg), self._controller, button=name, gesture=gesture,
                volume_step=self._settings.volume_step)

    def open_mute_switch(self, pin: int) -> None:
        if pin < 0:
            return
        device = open_input(pin, self._settings.mute_switch_pull_up, self._pin_factory)
        closed = bool(device.is_pressed)
        debouncer = Debouncer(self._settings.gestures.debounce_s, level=closed)
        self.watchers.append(PinWatcher(device, debouncer, self._controller.set_muted,
                                        self._loop))
        _LOGGER.info("mute switch on GPIO%d: %s", pin, "muted" if closed else "not muted")
        self._controller.set_muted(closed)

    def close(self) -> None:
        for watcher in self.watchers:
            watcher.close()
        self.watchers.clear()


# ---------------------------------------------------------------------------------------------
# appliance bench


def bench_animator(seconds: float) -> dict[str, float]:
    """CPU cost of animating 12 LEDs at 30 fps into a recording sink, as % of one core.

    The assistant "speaks" the whole time (the breathing look changes every frame, so no frame
    is skipped). Runs its own event loop: call it outside one.
    """
    from appliance.settings import load_settings

    hw = load_settings().hardware
    sink = RecordingSink(keep=False)
    animator = Animator(sink, LedStyle.from_settings(hw.colors, 12, hw.volume_show_s),
                        brightness=1.0, night=hw.night, frame_rate_hz=30,
                        minute_of_day=lambda: 12 * 60)  # midday: full brightness
    bus = EventBus()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(_bench(animator, bus, seconds))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "seconds": wall,
        "frames": float(sink.count),
        "fps": sink.count / wall,
        "cpu_percent": 100.0 * cpu / wall,
    }


async def _bench(animator: Animator, bus: EventBus, seconds: float) -> None:
    with bus.subscribe() as events:
        bus.publish(StateChanged(State.IDLE, State.SPEAKING))
        task = asyncio.create_task(animator.run(events), name="bench-animator")
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
