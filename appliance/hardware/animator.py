"""The one task that drives the LEDs: folds events into the scene and renders it.

While the look is animated it renders at ``frame_rate_hz``; while it is still (solid colours)
it sleeps until the next event or the end of an overlay. A frame equal to the last one sent is
not sent again. On the way out (cancelled or failed) the LEDs are switched off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from appliance.events import Event, Subscription
from appliance.hardware.config import NightSettings
from appliance.hardware.led_backends import HARDWARE_ERRORS, LedSink, NullSink
from appliance.hardware.leds import (
    OFF,
    RGB,
    LedStyle,
    Scene,
    apply_event,
    brightness_at,
    dim,
    frame,
    still_for_s,
)

_LOGGER = logging.getLogger(__name__)

# While still, look at the clock this often anyway (the night-dim schedule).
RECHECK_S = 20.0


class Animator:
    """Renders the scene into ``sink``; ``clock`` is monotonic seconds, ``minute_of_day`` the
    local time of day in minutes after midnight (the night-dim schedule)."""

    def __init__(
        self,
        sink: LedSink,
        style: LedStyle,
        *,
        brightness: float,
        night: NightSettings,
        frame_rate_hz: int,
        minute_of_day: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scene = Scene(since_s=clock())
        self.shown = 0
        self.skipped = 0
        self._sink = sink
        self._style = style
        self._brightness = brightness
        self._night = night
        self._period_s = 1.0 / frame_rate_hz
        self._clock = clock
        self._minute_of_day = minute_of_day
        self._last: list[RGB] | None = None

    def handle(self, event: Event, t_s: float) -> None:
        self.scene = apply_event(self.scene, event, t_s)

    def render(self, t_s: float) -> bool:
        """Send the frame for ``t_s`` unless it equals the last one; True if it was sent."""
        level = brightness_at(self._minute_of_day(), self._brightness, self._night)
        pixels = dim(frame(self.scene, t_s, self._style), level)
        if pixels == self._last:
            self.skipped += 1
            return False
        self._send(pixels)
        return True

    def off(self) -> None:
        """All LEDs off, then release the device."""
        try:
            self._send([OFF] * self._style.count)
        finally:
            self._sink.close()

    async def run(self, events: Subscription) -> None:
        """Render until cancelled; the LEDs are off when this returns or raises."""
        try:
            next_frame_s = self._clock()
            while True:
                now = self._clock()
                self._drain(events, now)
                self.render(now)
                still_s = still_for_s(self.scene, now, self._style)
                if still_s > 0:
                    await self._wait_event(events, min(still_s, RECHECK_S))
                    next_frame_s = self._clock()
                    continue
                next_frame_s = max(next_frame_s + self._period_s, now)
                await asyncio.sleep(next_frame_s - now)
        finally:
            self.off()

    def _drain(self, events: Subscription, t_s: float) -> None:
        while (event := events.get_nowait()) is not None:
            self.handle(event, t_s)

    async def _wait_event(self, events: Subscription, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                event = await events.get()
        except TimeoutError:
            return
        self.handle(event, self._clock())

    def _send(self, pixels: list[RGB]) -> None:
        try:
            self._sink.show(pixels)
        except HARDWARE_ERRORS as err:
            _LOGGER.error("LED output failed, LEDs disabled: %s: %s", type(err).__name__, err)
            self._sink = NullSink()
        self._last = pixels
        self.shown += 1
