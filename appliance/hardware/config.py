"""Settings of the LEDs, buttons and HAT profile (the ``[hardware]`` table of the config).

Field ranges are checked by the generic parser in :mod:`appliance.settings`; a colour that is not
``#rrggbb`` or a night time that is not ``HH:MM`` is checked here in ``__post_init__``. The wiring
(a pin used twice, LEDs the pins cannot drive) is checked by
:func:`appliance.hardware.profiles.resolve`, which ``Settings`` calls when it is built. Either
way a bad file fails when it is loaded, naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.fields import rng

PROFILES = ("none", "respeaker-2mic", "respeaker-4mic", "voice-bonnet", "custom")
LED_TYPES = ("none", "neopixel-spi", "neopixel-pwm", "dotstar")
COLOR_ORDERS = ("RGB", "RBG", "GRB", "GBR", "BRG", "BGR")
ACTIONS = ("none", "talk", "stop", "mute", "volume_up", "volume_down", "custom")
NO_PIN = -1


def parse_color(text: str, key: str) -> tuple[int, int, int]:
    """``"#ff8000"`` -> ``(255, 128, 0)``; anything else is a ConfigError naming ``key``."""
    digits = text[1:] if text.startswith("#") else ""
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ConfigError(
            f"config: '{key}' = {text!r} is not a colour",
            fix=f"set '{key}' to \"#rrggbb\" in hex, e.g. \"#ff8000\"; \"#000000\" is off",
            key=key,
        )
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def parse_clock_time(text: str, key: str) -> int:
    """``"22:30"`` -> minutes after midnight (1350)."""
    hours, sep, minutes = text.partition(":")
    if sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2:
        h, m = int(hours), int(minutes)
        if h < 24 and m < 60:
            return h * 60 + m
    raise ConfigError(
        f"config: '{key}' = {text!r} is not a time of day",
        fix=f"set '{key}' to \"HH:MM\" (24-hour clock), e.g. \"22:00\"",
        key=key,
    )


@dataclass(frozen=True)
class ColorSettings:
    starting: str = rng()
    idle: str = rng()
    wake: str = rng()
    listening: str = rng()
    thinking: str = rng()
    speaking: str = rng()
    muted: str = rng()
    error: str = rng()
    timer: str = rng()
    volume: str = rng()

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            parse_color(value, f"hardware.colors.{name}")

    def rgb(self, name: str) -> tuple[int, int, int]:
        return parse_color(getattr(self, name), f"hardware.colors.{name}")


@dataclass(frozen=True)
class NightSettings:
    brightness: float = rng(0, 1)
    start: str = rng()
    end: str = rng()

    def __post_init__(self) -> None:
        parse_clock_time(self.start, "hardware.night.start")
        parse_clock_time(self.end, "hardware.night.end")

    @property
    def start_min(self) -> int:
        return parse_clock_time(self.start, "hardware.night.start")

    @property
    def end_min(self) -> int:
        return parse_clock_time(self.end, "hardware.night.end")


@dataclass(frozen=True)
class GestureSettings:
    debounce_s: float = rng(0.001, 0.2)
    double_press_s: float = rng(0.1, 1.5)
    long_press_s: float = rng(0.3, 5)
    repeat_delay_s: float = rng(0.1, 2)
    repeat_interval_s: float = rng(0.05, 2)

    def __post_init__(self) -> None:
        if self.double_press_s <= self.debounce_s * 2:
            raise ConfigError(
                "config: 'hardware.gestures.double_press_s' must be more than twice debounce_s",
                fix="raise 'hardware.gestures.double_press_s' or lower 'debounce_s'",
                key="hardware.gestures.double_press_s",
            )


@dataclass(frozen=True)
class ButtonSettings:
    pin: int = rng(-1, 27)
    pull_up: bool = rng()
    short: str = rng(choices=ACTIONS)
    double: str = rng(choices=ACTIONS)
    long: str = rng(choices=ACTIONS)
    repeat: bool = rng()


@dataclass(frozen=True)
class ButtonsSettings:
    main: ButtonSettings = rng()
    volume_up: ButtonSettings = rng()
    volume_down: ButtonSettings = rng()
    extra: ButtonSettings = rng()

    def named(self) -> dict[str, ButtonSettings]:
        return {"main": self.main, "volume_up": self.volume_up,
                "volume_down": self.volume_down, "extra": self.extra}


@dataclass(frozen=True)
class CustomProfileSettings:
    led_type: str = rng(choices=LED_TYPES)
    led_count: int = rng(0, 1024)
    led_pin: int = rng(0, 27)
    led_clock_pin: int = rng(0, 27)
    led_power_pin: int = rng(-1, 27)
    color_order: str = rng(choices=COLOR_ORDERS)
    button_pin: int = rng(-1, 27)
    alsa_card: str = rng(line=True)


@dataclass(frozen=True)
class HardwareSettings:
    profile: str = rng(choices=PROFILES)
    brightness: float = rng(0, 1)
    frame_rate_hz: int = rng(1, 60)
    volume_show_s: float = rng(0, 10)
    volume_step: int = rng(1, 50)
    mute_switch_pin: int = rng(-1, 27)
    mute_switch_pull_up: bool = rng()
    night: NightSettings = rng()
    colors: ColorSettings = rng()
    gestures: GestureSettings = rng()
    buttons: ButtonsSettings = rng()
    custom: CustomProfileSettings = rng()
