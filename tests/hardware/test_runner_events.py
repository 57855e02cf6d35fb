"""The hardware task and the event stream: only LEDs that are animated subscribe to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from appliance.clock import FakeClock
from appliance.events import State
from appliance.hardware import run_hardware
from appliance.hardware.led_backends import LedSink, RecordingSink
from tests.controllers import RecordingController

Make = Callable[..., Any]
NOON = datetime(2030, 6, 3, 12, 0, tzinfo=UTC).timestamp()
EVENTS = 1000
RED, OFF = ((255, 0, 0),) * 3, ((0, 0, 0),) * 3


@contextlib.asynccontextmanager
async def hardware(
    settings: Any, controller: RecordingController, *, sink: LedSink | None = None,
    pin_factory: Any = None,
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(
        run_hardware(settings, controller, FakeClock(NOON), pin_factory=pin_factory, sink=sink),
        name="hardware",
    )
    try:
        await asyncio.sleep(0.05)  # the task is set up and waiting (or animating)
        assert not task.done()
        yield task
    finally:
        task.cancel()
        async with asyncio.timeout(5):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _publish_many(controller: RecordingController) -> None:
    """As the pipeline does over a day: many events, each on its own loop iteration."""
    for i in range(EVENTS):
        controller.set_muted(i % 2 == 0)
        await asyncio.sleep(0)


def _too_slow(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "too slow" in r.getMessage()]


async def test_without_leds_many_events_log_no_slow_subscriber(
    controller: RecordingController, make_settings: Make, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with hardware(make_settings(), controller):  # the default: profile "none"
        await _publish_many(controller)
        await asyncio.sleep(0.05)
    assert _too_slow(caplog) == []
    assert len(controller.named("set_muted")) == EVENTS


async def test_with_leds_they_still_follow_the_state(
    controller: RecordingController, make_settings: Make, mock_pins: Any, until: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    sink = RecordingSink()
    hw = make_settings(profile="respeaker-2mic", brightness=1.0)
    async with hardware(hw, controller, sink=sink, pin_factory=mock_pins):
        await until(lambda: sink.count > 0)
        await _publish_many(controller)  # ends unmuted
        await until(lambda: sink.frames[-1] == OFF)
        controller.set_muted(True)
        await until(lambda: sink.frames[-1] == RED)
        controller.set_state(State.LISTENING)
        await until(lambda: sink.frames[-1] not in (RED, OFF))
    assert RED in sink.frames
    assert sink.frames[-1] == OFF  # switched off when cancelled
    assert _too_slow(caplog) == []
