"""gpiozero adapters: pin edges (from gpiozero's thread) into the pure detectors on the loop.

gpiozero calls back from its own thread; each callback only stamps the time and hands the edge
to the event loop with ``call_soon_threadsafe``. Everything else (debounce, gestures, actions)
runs on the loop, and one loop timer per pin wakes the detector at its next deadline.
gpiozero is imported only here, only when a pin is opened.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from appliance.hardware.led_backends import HARDWARE_ERRORS, HardwareUnavailable

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


class EdgeMachine(Protocol[T]):
    """What a pin feeds: a Debouncer (levels out) or a GestureDetector (gestures out)."""

    def edge(self, pressed: bool, t_s: float) -> list[T]: ...

    def advance(self, t_s: float) -> list[T]: ...

    def next_deadline(self) -> float | None: ...


def open_input(pin: int, pull_up: bool, pin_factory: Any = None) -> Any:
    """A gpiozero Button on ``pin`` (active low with the pull-up); no gpiozero debounce."""
    try:
        from gpiozero import Button

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PinFactoryFallback on every machine without pins
            return Button(pin, pull_up=pull_up, bounce_time=None, pin_factory=pin_factory)
    except HARDWARE_ERRORS as err:
        raise HardwareUnavailable(
            f"cannot open GPIO{pin}: {type(err).__name__}: {err}",
            fix="on a Raspberry Pi: pip install 'appliance[pi]'; elsewhere set the button pins "
            "to -1 and hardware.profile = \"none\"",
        ) from err


class PinWatcher(Generic[T]):
    """Feeds one gpiozero input's edges to ``machine`` on ``loop``; ``emit`` gets its outputs."""

    def __init__(
        self,
        device: Any,
        machine: EdgeMachine[T],
        emit: Callable[[T], None],
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self._machine = machine
        self._emit = emit
        self._loop = loop
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        device.when_pressed = self._pressed
        device.when_released = self._released

    @property
    def is_pressed(self) -> bool:
        return bool(self.device.is_pressed)

    def close(self) -> None:
        self.device.when_pressed = None
        self.device.when_released = None
        if self._timer is not None:
            self._timer.cancel()
        self.device.close()

    # gpiozero's thread
    def _pressed(self) -> None:
        self._loop.call_soon_threadsafe(self._edge, True, self._clock())

    def _released(self) -> None:
        self._loop.call_soon_threadsafe(self._edge, False, self._clock())

    # the event loop
    def _edge(self, pressed: bool, t_s: float) -> None:
        self._deliver(self._machine.edge(pressed, t_s))

    def _tick(self) -> None:
        self._timer = None
        self._deliver(self._machine.advance(self._clock()))

    def _deliver(self, outputs: list[T]) -> None:
        for out in outputs:
            try:
                self._emit(out)
            except Exception:
                _LOGGER.exception("button action failed")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._machine.next_deadline()
        if deadline is not None:
            self._timer = self._loop.call_later(max(0.0, deadline - self._clock()), self._tick)
