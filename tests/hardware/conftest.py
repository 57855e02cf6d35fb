"""Fixtures for the LED and button tests: settings, a recording controller, fake pins, SPI."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from appliance.hardware.config import HardwareSettings
from appliance.settings import load_settings
from tests.controllers import RecordingController


def hardware_settings(**hardware: Any) -> HardwareSettings:
    """The default ``[hardware]`` settings with ``hardware`` merged over them."""
    return load_settings(overrides={"hardware": hardware}).hardware


@pytest.fixture
def make_settings() -> Callable[..., HardwareSettings]:
    return hardware_settings


@pytest.fixture
def fast_gestures() -> dict[str, float]:
    """Short enough to keep the tests quick, long enough for a slow machine between steps."""
    return {
        "debounce_s": 0.01,
        "double_press_s": 0.4,
        "long_press_s": 0.5,
        "repeat_delay_s": 0.2,
        "repeat_interval_s": 0.1,
    }


@pytest.fixture
def controller() -> RecordingController:
    return RecordingController()


@pytest.fixture
def mock_pins() -> Iterator[Any]:
    """gpiozero's MockFactory: real gpiozero devices on simulated pins."""
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    yield factory
    factory.reset()


class SpiWire:
    """What the Blinka OS-agnostic board's SPI port was asked to write, one entry per write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []


@pytest.fixture
def spi_wire(monkeypatch: pytest.MonkeyPatch) -> SpiWire:
    """Blinka on its OS-agnostic board, with the SPI port's writes recorded.

    The Adafruit drivers, bus device, pixel buffer and busio all run for real; only the
    board's SPI write (the wire) is replaced by a recorder.
    """
    monkeypatch.setenv("BLINKA_OS_AGNOSTIC", "1")
    board = importlib.import_module("board")
    if board.board_id != "OS_AGNOSTIC_BOARD":
        pytest.fail(f"Blinka was imported as {board.board_id} before BLINKA_OS_AGNOSTIC was set")
    spi = importlib.import_module("adafruit_blinka.microcontroller.generic_agnostic_board.spi")
    wire = SpiWire()

    def write(_port: object, buf: Any, start: int = 0, end: int | None = None) -> None:
        wire.writes.append(bytes(buf[start:end]))

    monkeypatch.setattr(spi.SPI, "write", write)
    return wire


@pytest.fixture
def no_hardware_libs(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without ``appliance[pi]``: the Blinka board module cannot be imported."""
    for name in ("board", "busio", "adafruit_dotstar", "neopixel_spi"):
        monkeypatch.setitem(sys.modules, name, None)


class ManualClock:
    """A clock the test sets (``t_s``)."""

    def __init__(self, t_s: float = 100.0) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def until() -> Callable[..., Any]:
    """``await until(predicate)``: polls until true; fails the test after 5 s."""
    return _until
