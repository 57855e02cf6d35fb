"""Where LED frames go: NeoPixel (SPI or PWM), APA102/DotStar, a recording fake, or nowhere.

The drivers are Adafruit's CircuitPython libraries on Blinka (``pip install 'appliance[pi]'``),
imported only when a sink is opened. Each is created with ``brightness=1.0`` and
``auto_write=False``: the animator dims the frame itself and a frame is sent with one write.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from appliance.errors import ApplianceError
from appliance.hardware.leds import RGB
from appliance.hardware.profiles import LedWiring

_LOGGER = logging.getLogger(__name__)

HARDWARE_ERRORS = (ImportError, AttributeError, NotImplementedError, RuntimeError, OSError,
                   ValueError)


class HardwareUnavailable(ApplianceError):
    code = "hardware_unavailable"


class LedSink(Protocol):
    def show(self, pixels: Sequence[RGB]) -> None:
        """Send one frame (one colour per LED)."""

    def close(self) -> None:
        """Release the device (the caller has already shown an all-off frame)."""


class NullSink:
    """No LEDs: frames go nowhere."""

    def show(self, pixels: Sequence[RGB]) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingSink:
    """A fake strip that keeps every frame it was sent (tests, ``appliance bench``)."""

    def __init__(self, keep: bool = True) -> None:
        self.frames: list[tuple[RGB, ...]] = []
        self.count = 0
        self.closed = False
        self._keep = keep

    def show(self, pixels: Sequence[RGB]) -> None:
        self.count += 1
        if self._keep:
            self.frames.append(tuple(pixels))

    def close(self) -> None:
        self.closed = True


class PixelSink:
    """A CircuitPython pixel driver (anything with ``[:] =``, ``show()`` and ``deinit()``)."""

    def __init__(self, driver: Any, power: Any = None) -> None:
        self._driver = driver
        self._power = power

    def show(self, pixels: Sequence[RGB]) -> None:
        self._driver[:] = list(pixels)
        self._driver.show()

    def close(self) -> None:
        try:
            self._driver.deinit()  # blanks the LEDs once more and releases the bus
        finally:
            if self._power is not None:
                self._power.off()
                self._power.close()


def open_sink(leds: LedWiring, pin_factory: Any = None) -> LedSink:
    """The sink for ``leds``; HardwareUnavailable when the libraries or devices are missing."""
    if leds.type == "none":
        return NullSink()
    opener = _OPENERS[leds.type]
    power = _power_pin(leds.power_pin, pin_factory) if leds.power_pin >= 0 else None
    try:
        driver = opener(leds)
    except HARDWARE_ERRORS as err:
        if power is not None:
            power.close()
        raise HardwareUnavailable(
            f"cannot drive the {leds.type} LEDs: {type(err).__name__}: {err}",
            fix="on a Raspberry Pi: pip install 'appliance[pi]' and enable SPI "
            "(dtparam=spi=on); elsewhere set hardware.profile = \"none\"",
        ) from err
    _LOGGER.info("LEDs: %d %s, colour order %s", leds.count, leds.type, leds.color_order)
    return PixelSink(driver, power)


def _power_pin(pin: int, pin_factory: Any) -> Any:
    """The LED power switch (ReSpeaker 4-Mic: GPIO5), switched on while the sink is open."""
    try:
        from gpiozero import DigitalOutputDevice

        return DigitalOutputDevice(pin, initial_value=True, pin_factory=pin_factory)
    except HARDWARE_ERRORS as err:
        raise HardwareUnavailable(
            f"cannot switch the LED power pin GPIO{pin}: {type(err).__name__}: {err}",
            fix="pip install 'appliance[pi]' on the Pi, or set hardware.profile = \"none\"",
        ) from err


def _board_pin(board: Any, pin: int) -> Any:
    if pin == 10:
        return board.MOSI
    if pin == 11:
        return board.SCK
    return getattr(board, f"D{pin}")


def _open_neopixel_spi(leds: LedWiring) -> Any:
    import board
    import busio
    import neopixel_spi

    spi = busio.SPI(board.SCK, MOSI=board.MOSI)
    return neopixel_spi.NeoPixel_SPI(
        spi, leds.count, pixel_order=leds.color_order, brightness=1.0, auto_write=False
    )


def _open_neopixel_pwm(leds: LedWiring) -> Any:
    import board

    neopixel = importlib.import_module("neopixel")  # adafruit-circuitpython-neopixel

    _LOGGER.warning("NeoPixels on PWM pin GPIO%d: needs root and the PWM audio hardware; "
                    "SPI (GPIO10) is the safer choice", leds.data_pin)
    return neopixel.NeoPixel(
        _board_pin(board, leds.data_pin), leds.count, pixel_order=leds.color_order,
        brightness=1.0, auto_write=False,
    )


def _open_dotstar(leds: LedWiring) -> Any:
    import adafruit_dotstar
    import board

    return adafruit_dotstar.DotStar(
        _board_pin(board, leds.clock_pin), _board_pin(board, leds.data_pin), leds.count,
        pixel_order="P" + leds.color_order, brightness=1.0, auto_write=False,
    )


_OPENERS: dict[str, Callable[[LedWiring], Any]] = {
    "neopixel-spi": _open_neopixel_spi,
    "neopixel-pwm": _open_neopixel_pwm,
    "dotstar": _open_dotstar,
}
