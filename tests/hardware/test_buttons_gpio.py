"""run_hardware with real gpiozero devices on MockFactory pins and the real DotStar driver."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from gpiozero.pins.mock import MockPin

from appliance.clock import Clock, FakeClock
from appliance.events import State, UserEvent
from appliance.hardware import run_hardware
from appliance.hardware.led_backends import RecordingSink

Make = Callable[..., Any]


class SwitchPin(MockPin):  # type: ignore[misc]
    """A pin wired to a latching switch to ground: while closed, no pull-up lifts it."""

    closed = False

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.closed:
            self.drive_low()


NOON = datetime(2030, 6, 3, 12, 0, tzinfo=UTC).timestamp()  # a Monday, in the day brightness


@contextlib.asynccontextmanager
async def running(settings: Any, controller: Any, *, clock: Clock | None = None,
                  **kw: Any) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(
        run_hardware(settings, controller, clock or FakeClock(NOON), **kw), name="hardware")
    try:
        yield task
    finally:
        task.cancel()
        async with asyncio.timeout(5):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def click(pin: Any, *, hold_s: float = 0.05) -> None:
    pin.drive_low()
    await asyncio.sleep(hold_s)
    pin.drive_high()


async def double_click(pin: Any) -> None:
    await click(pin)
    await asyncio.sleep(0.05)
    await click(pin)


async def test_long_press_during_speech_stops_it(
    *,
    controller: Any, mock_pins: Any, spi_wire: Any, make_settings: Make,
    fast_gestures: dict[str, float], until: Any,
) -> None:
    controller._state = State.SPEAKING
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures)
    async with running(hw, controller, pin_factory=mock_pins):
        await until(lambda: len(spi_wire.writes) > 0)
        mock_pins.pin(17).drive_low()
        await controller.wait_for("stop")
        mock_pins.pin(17).drive_high()
        await asyncio.sleep(0.1)
    assert controller.calls == [("stop", None)]
    off = bytes(4) + bytes([0xFF, 0, 0, 0]) * 3 + bytes(1)
    assert spi_wire.writes[-1] == off  # LEDs off after cancellation


async def test_double_press_mutes_and_the_leds_show_it(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures, brightness=1.0)
    async with running(hw, controller, pin_factory=mock_pins, sink=sink):
        await until(lambda: sink.count > 0)
        await double_click(mock_pins.pin(17))
        assert await controller.wait_for("set_muted") == [True]
        await until(lambda: sink.frames[-1] == ((255, 0, 0),) * 3)
    assert controller.calls == [("set_muted", True)]
    assert sink.frames[-1] == ((0, 0, 0),) * 3
    assert sink.closed


async def test_the_leds_follow_the_injected_local_time_into_the_night(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    """Night dimming reads the injected clock (never the machine's): 23:30 is night, in any TZ."""
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures, brightness=1.0,
                       night={"brightness": 0.1, "start": "22:00", "end": "07:00"})
    late = FakeClock(NOON + 11.5 * 3600)
    async with running(hw, controller, clock=late, pin_factory=mock_pins, sink=sink):
        await until(lambda: sink.count > 0)
        await double_click(mock_pins.pin(17))
        await until(lambda: sink.frames[-1] != ((0, 0, 0),) * 3)
    assert ((26, 0, 0),) * 3 in sink.frames  # the muted red at the night brightness


async def test_short_press_talks(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures)
    async with running(hw, controller, pin_factory=mock_pins, sink=sink):
        await until(lambda: sink.count > 0)
        await click(mock_pins.pin(17))
        assert await controller.wait_for("start_listening") == ["button"]
    assert controller.calls == [("start_listening", "button")]


async def test_held_volume_button_repeats(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures, volume_step=5,
                       brightness=1.0, buttons={"volume_up": {"pin": 23}})
    async with running(hw, controller, pin_factory=mock_pins, sink=sink):
        await until(lambda: sink.count > 0)
        mock_pins.pin(23).drive_low()
        await controller.wait_for("set_volume", count=3)
        mock_pins.pin(23).drive_high()
        await asyncio.sleep(0.1)  # the release is debounced
        settled = len(controller.named("set_volume"))
        await asyncio.sleep(0.3)  # three repeat intervals
        assert len(controller.named("set_volume")) == settled
    white = (255, 255, 255)
    assert (white, white, (0, 0, 0)) in sink.frames  # the volume bar: 2 of 3 LEDs at 55-80 %
    volumes = controller.named("set_volume")
    assert volumes == list(range(55, 55 + 5 * len(volumes), 5))


async def test_custom_action_publishes_a_button_event(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures,
                       buttons={"extra": {"pin": 24}})
    with controller.events.subscribe() as events:
        async with running(hw, controller, pin_factory=mock_pins, sink=sink):
            await until(lambda: sink.count > 0)
            await click(mock_pins.pin(24))
            async with asyncio.timeout(5):
                event = await events.get()
    assert event == UserEvent("button", {"button": "extra", "gesture": "short"})


async def test_mute_switch_is_read_at_start_and_on_change(
    controller: Any, mock_pins: Any, make_settings: Make, fast_gestures: dict[str, float],
    until: Any,
) -> None:
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", gestures=fast_gestures, mute_switch_pin=22)
    switch = mock_pins.pin(22, pin_class=SwitchPin)
    switch.closed = True  # switched to "mute" before start
    async with running(hw, controller, pin_factory=mock_pins, sink=sink):
        assert await controller.wait_for("set_muted") == [True]
        switch.closed = False
        switch.drive_high()
        assert await controller.wait_for("set_muted", count=2) == [True, False]
        switch.drive_low()
        assert await controller.wait_for("set_muted", count=3) == [True, False, True]


async def test_without_hardware_the_task_runs_and_says_so_once(
    controller: Any, make_settings: Make, no_hardware_libs: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hw = make_settings(profile="respeaker-2mic")
    caplog.set_level(logging.INFO, logger="appliance.hardware")
    async with running(hw, controller) as task:
        await asyncio.sleep(0.2)
        assert not task.done()
    disabled = [r.getMessage() for r in caplog.records if "disabled" in r.getMessage()]
    assert len(disabled) == 2
    assert disabled[0].startswith("buttons disabled")
    assert disabled[1].startswith("LEDs disabled")
    assert controller.calls == []
