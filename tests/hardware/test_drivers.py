"""The real Adafruit drivers under Blinka's OS-agnostic board: the bytes on the SPI wire.

Expected bytes are built here from the LED chips' data formats (APA102: a zero start frame,
then per LED 0b111xxxxx + blue, green, red, then zero bytes; WS2812 over SPI at 6.4 MHz: each
data bit becomes one byte, 0b11110000 for 1 and 0b11000000 for 0, framed by 80 us of zeros).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from appliance.events import State, StateChanged
from appliance.hardware.animator import Animator
from appliance.hardware.config import ColorSettings
from appliance.hardware.led_backends import open_sink
from appliance.hardware.leds import LedStyle, Scene
from appliance.hardware.profiles import resolve

RGB = tuple[int, int, int]
OFF = (0, 0, 0)


def apa102(pixels: Sequence[RGB]) -> bytes:
    body = b"".join(bytes([0xFF, b, g, r]) for r, g, b in pixels)
    return bytes(4) + body + bytes(-(-len(pixels) // 16))


def ws2812_spi(pixels: Sequence[RGB], order: str = "GRB") -> bytes:
    data = bytes(c for r, g, b in pixels for c in ({"R": r, "G": g, "B": b}[k] for k in order))
    bits = bytes(0b11110000 if byte & (0x80 >> i) else 0b11000000
                 for byte in data for i in range(8))
    reset = bytes(64)  # 80 us at 6.4 MHz / 8 bits
    return reset + bits + reset


def session(anim: Animator) -> None:
    """Idle, then listening, then speaking for half a breath, then shut down."""
    anim.scene = Scene(State.IDLE, 0.0)
    anim.render(0.0)
    anim.handle(StateChanged(State.IDLE, State.LISTENING), 1.0)
    anim.render(1.0)
    anim.render(1.5)  # unchanged: not sent
    anim.handle(StateChanged(State.LISTENING, State.SPEAKING), 2.0)
    anim.render(2.0)
    anim.render(2.5)
    anim.off()


def animator(sink: Any, count: int, colors: ColorSettings, night: Any) -> Animator:
    return Animator(sink, LedStyle.from_settings(colors, count, 1.5), brightness=1.0,
                    night=night, frame_rate_hz=30, clock=lambda: 0.0,
                    minute_of_day=lambda: 12 * 60)


def test_respeaker_dotstars_get_apa102_frames(
    spi_wire: Any, make_settings: Callable[..., Any], mock_pins: Any
) -> None:
    hw = make_settings(profile="respeaker-2mic")
    sink = open_sink(resolve(hw).leds, mock_pins)
    session(animator(sink, 3, hw.colors, hw.night))
    listening, speaking_low = (0, 64, 255), (0, 64, 16)
    assert spi_wire.writes == [
        apa102([OFF] * 3),
        apa102([listening] * 3),
        apa102([(0, 255, 64)] * 3),
        apa102([speaking_low] * 3),
        apa102([OFF] * 3),  # the animator's last frame
        apa102([OFF] * 3),  # the driver's deinit()
    ]


def test_respeaker_4mic_switches_led_power_on_gpio5(
    spi_wire: Any, make_settings: Callable[..., Any], mock_pins: Any
) -> None:
    hw = make_settings(profile="respeaker-4mic")
    sink = open_sink(resolve(hw).leds, mock_pins)
    assert mock_pins.pin(5).state is True
    sink.show([(1, 2, 3)] * 12)
    sink.close()
    assert spi_wire.writes == [apa102([(1, 2, 3)] * 12), apa102([OFF] * 12)]  # deinit blanks
    assert mock_pins.pin(5).state is False


def test_neopixel_spi_strip_gets_ws2812_bit_patterns(
    spi_wire: Any, make_settings: Callable[..., Any], mock_pins: Any
) -> None:
    hw = make_settings(profile="custom", custom={
        "led_type": "neopixel-spi", "led_count": 2, "color_order": "GRB"})
    sink = open_sink(resolve(hw).leds, mock_pins)
    session(animator(sink, 2, hw.colors, hw.night))
    assert spi_wire.writes == [
        ws2812_spi([OFF] * 2),
        ws2812_spi([(0, 64, 255)] * 2),
        ws2812_spi([(0, 255, 64)] * 2),
        ws2812_spi([(0, 64, 16)] * 2),
        ws2812_spi([OFF] * 2),
        ws2812_spi([OFF] * 2),
    ]


def test_colour_order_is_passed_to_the_driver(
    spi_wire: Any, make_settings: Callable[..., Any], mock_pins: Any
) -> None:
    hw = make_settings(profile="custom", custom={
        "led_type": "neopixel-spi", "led_count": 1, "color_order": "RGB"})
    sink = open_sink(resolve(hw).leds, mock_pins)
    sink.show([(0x12, 0x34, 0x56)])
    assert spi_wire.writes[-1] == ws2812_spi([(0x12, 0x34, 0x56)], order="RGB")
    sink.close()
