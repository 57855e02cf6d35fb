"""HAT profiles: which pins, LEDs and sound card a supported board uses, and checks of them.

A profile is a fact about a circuit board, not a preference, so the boards live here; the
``custom`` profile takes the same facts from ``[hardware.custom]``. :func:`resolve` turns the
settings into one :class:`Wiring` and refuses a pin used twice; :func:`check_profile` tells
``appliance doctor`` whether the devices the profile needs exist on this machine.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ConfigError
from appliance.hardware.config import ButtonSettings, HardwareSettings

SPI0_PINS = {7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK"}
PWM_PINS = (12, 13, 18, 19, 21)
_I2C_I2S = {2: "I2C SDA", 3: "I2C SCL", 18: "I2S BCLK", 19: "I2S LRCLK", 20: "I2S DIN",
            21: "I2S DOUT"}


@dataclass(frozen=True)
class Profile:
    """One board: LEDs (type, count, data/clock/power pins, colour order), button, sound card."""

    led_type: str
    led_count: int
    data_pin: int
    clock_pin: int
    power_pin: int
    color_order: str
    button_pin: int
    alsa_card: str
    reserved: dict[int, str]

    @property
    def alsa_device(self) -> str:
        return alsa_device(self.alsa_card) if self.alsa_card else ""


def alsa_device(card: str) -> str:
    """The ALSA capture/playback device of a sound card, converting rates and channels."""
    return f"plughw:CARD={card},DEV=0"


# Seeed ReSpeaker 2-Mic HAT v1: WM8960 codec, 3 APA102 on SPI0, user button on GPIO17.
# Seeed ReSpeaker 4-Mic Array: AC108 (capture only), 12 APA102 on SPI0 powered through GPIO5.
# Adafruit Voice Bonnet: WM8960 (same driver), 3 DotStars on GPIO6 (clock) / GPIO5 (data),
# button on GPIO17.
HAT_PROFILES = {
    "none": Profile("none", 0, -1, -1, -1, "RGB", -1, "", {}),
    "respeaker-2mic": Profile("dotstar", 3, 10, 11, -1, "BGR", 17, "seeed2micvoicec", _I2C_I2S),
    "respeaker-4mic": Profile("dotstar", 12, 10, 11, 5, "BGR", -1, "seeed4micvoicec", _I2C_I2S),
    "voice-bonnet": Profile("dotstar", 3, 5, 6, -1, "BGR", 17, "seeed2micvoicec", _I2C_I2S),
}


@dataclass(frozen=True)
class LedWiring:
    type: str
    count: int
    data_pin: int
    clock_pin: int
    power_pin: int
    color_order: str

    @property
    def uses_spi(self) -> bool:
        if self.type == "neopixel-spi":
            return True
        return self.type == "dotstar" and (self.data_pin, self.clock_pin) == (10, 11)


@dataclass(frozen=True)
class ButtonWiring:
    name: str
    pin: int
    settings: ButtonSettings


@dataclass(frozen=True)
class Wiring:
    """Everything the hardware task needs, resolved from the profile and the settings."""

    profile: str
    leds: LedWiring
    buttons: tuple[ButtonWiring, ...]
    mute_switch_pin: int
    alsa_card: str
    alsa_device: str
    warnings: tuple[str, ...]

    @property
    def pins(self) -> tuple[int, ...]:
        used = [b.pin for b in self.buttons] + [self.mute_switch_pin, self.leds.power_pin]
        if self.leds.type != "none":
            used += [self.leds.data_pin, self.leds.clock_pin]
        return tuple(p for p in used if p >= 0)


def profile_of(settings: HardwareSettings) -> Profile:
    if settings.profile != "custom":
        return HAT_PROFILES[settings.profile]
    c = settings.custom
    clock = c.led_clock_pin if c.led_type == "dotstar" else -1
    return Profile(c.led_type, c.led_count, c.led_pin, clock, c.led_power_pin, c.color_order,
                   c.button_pin, c.alsa_card, {})


def resolve(settings: HardwareSettings) -> Wiring:
    """The final wiring; ConfigError (naming the key to change) for an impossible one."""
    prof = profile_of(settings)
    leds = LedWiring(prof.led_type, prof.led_count, prof.data_pin, prof.clock_pin,
                     prof.power_pin, prof.color_order)
    warnings = _check_leds(settings, leds)
    claims = _Claims(settings.profile)
    for pin, what in prof.reserved.items():
        claims.take(pin, f"the {settings.profile} HAT's {what}", "")
    _claim_leds(claims, leds, settings.profile)
    buttons = _buttons(settings, prof.button_pin)
    for button in buttons:
        key = f"hardware.buttons.{button.name}.pin"
        what = f"'{key}'"
        if button.settings.pin < 0 and settings.profile == "custom":
            key = what = "hardware.custom.button_pin"
        elif button.settings.pin < 0:
            what = f"the {settings.profile} HAT's button ({key} = -1)"
        claims.take(button.pin, what, key)
    if settings.mute_switch_pin >= 0:
        claims.take(settings.mute_switch_pin, "'hardware.mute_switch_pin'",
                    "hardware.mute_switch_pin")
    return Wiring(settings.profile, leds, buttons, settings.mute_switch_pin, prof.alsa_card,
                  prof.alsa_device, warnings)


def _buttons(settings: HardwareSettings, profile_button: int) -> tuple[ButtonWiring, ...]:
    out = []
    for name, button in settings.buttons.named().items():
        pin = button.pin if button.pin >= 0 else (profile_button if name == "main" else -1)
        if pin >= 0:
            out.append(ButtonWiring(name, pin, button))
    return tuple(out)


def _check_leds(settings: HardwareSettings, leds: LedWiring) -> tuple[str, ...]:
    if leds.type == "none":
        return ()
    if leds.count < 1:
        raise ConfigError(
            f"config: 'hardware.custom.led_count' = {leds.count}: a {leds.type} strip needs LEDs",
            fix="set 'hardware.custom.led_count' to the number of LEDs (1-1024), "
            "or 'hardware.custom.led_type' = \"none\" for no LEDs",
            key="hardware.custom.led_count",
        )
    if leds.type == "neopixel-spi" and leds.data_pin != 10:
        raise ConfigError(
            f"config: 'hardware.custom.led_pin' = {leds.data_pin}: SPI NeoPixels need GPIO10",
            fix="set 'hardware.custom.led_pin' = 10 (SPI0 MOSI), or led_type = \"neopixel-pwm\" "
            f"with a PWM pin ({', '.join(map(str, PWM_PINS))})",
            key="hardware.custom.led_pin",
        )
    if leds.type == "neopixel-pwm":
        return _check_pwm(leds)
    return ()


def _check_pwm(leds: LedWiring) -> tuple[str, ...]:
    if leds.data_pin not in PWM_PINS:
        raise ConfigError(
            f"config: 'hardware.custom.led_pin' = {leds.data_pin} cannot drive PWM NeoPixels",
            fix=f"use one of GPIO {', '.join(map(str, PWM_PINS))}, or led_type = "
            "\"neopixel-spi\" on GPIO10",
            key="hardware.custom.led_pin",
        )
    return (
        f"NeoPixels on PWM pin GPIO{leds.data_pin}: this needs root, takes the Pi's PWM/PCM "
        "audio hardware (GPIO18-21 are the I2S pins of mic HATs) and is not supported on every "
        "kernel; led_type = \"neopixel-spi\" on GPIO10 avoids all of that",
    )


def _claim_leds(claims: _Claims, leds: LedWiring, profile: str) -> None:
    if leds.type == "none":
        return
    custom = profile == "custom"
    if leds.uses_spi:
        for pin, what in SPI0_PINS.items():
            claims.take(pin, f"the LEDs' {what}", "hardware.custom.led_pin" if custom else "")
    else:
        claims.take(leds.data_pin, "the LED data pin", "hardware.custom.led_pin" if custom else "")
        if leds.clock_pin >= 0:
            claims.take(leds.clock_pin, "the LED clock pin",
                        "hardware.custom.led_clock_pin" if custom else "")
    if leds.power_pin >= 0:
        claims.take(leds.power_pin, "the LED power pin",
                    "hardware.custom.led_power_pin" if custom else "")


class _Claims:
    def __init__(self, profile: str) -> None:
        self._by_pin: dict[int, str] = {}
        self._profile = profile

    def take(self, pin: int, what: str, key: str) -> None:
        if pin in self._by_pin:
            raise ConfigError(
                f"config: GPIO{pin} is used twice: by {self._by_pin[pin]} and by {what}",
                fix=f"set {key or what} to a free GPIO pin (profile {self._profile!r})",
                key=key,
            )
        self._by_pin[pin] = what


# ---------------------------------------------------------------------------------------------
# appliance doctor

Check = tuple[str, bool, str]
_CARD_LINE = re.compile(r"^\s*\d+\s+\[(\S+)\s*\]", re.MULTILINE)
_PI_MODULES = ("gpiozero", "board", "adafruit_dotstar", "neopixel_spi")


def check_profile(settings: HardwareSettings, root: Path = Path("/")) -> list[Check]:
    """(what, ok, detail) for the configured profile and each device it needs."""
    wiring = resolve(settings)
    checks: list[Check] = [(f"hardware profile {wiring.profile}", True, _describe(wiring))]
    if wiring.profile == "none" and not wiring.pins:
        return checks
    missing = [m for m in _PI_MODULES if importlib.util.find_spec(m) is None]
    checks.append(("hardware libraries", not missing,
                   "installed" if not missing else
                   f"missing {', '.join(missing)}: pip install 'appliance[pi]'"))
    if wiring.leds.uses_spi:
        spi = root / "dev/spidev0.0"
        checks.append((f"SPI device {spi}", spi.exists(),
                       "present" if spi.exists() else "enable SPI: add dtparam=spi=on to "
                       "/boot/firmware/config.txt and reboot"))
    if wiring.pins:
        chips = sorted((root / "dev").glob("gpiochip*"))
        checks.append(("GPIO chip /dev/gpiochip*", bool(chips),
                       ", ".join(c.name for c in chips) or "none: not a Raspberry Pi?"))
    if wiring.alsa_card:
        checks.append(_check_card(wiring.alsa_card, root / "proc/asound/cards"))
    return checks


def _check_card(card: str, cards_file: Path) -> Check:
    try:
        cards = _CARD_LINE.findall(cards_file.read_text())
    except OSError:
        cards = []
    ok = card in cards
    detail = (f"present ({alsa_device(card)})" if ok else
              f"not in {cards_file} (cards: {', '.join(cards) or 'none'}): install the HAT's "
              "driver / dtoverlay and reboot")
    return (f"sound card {card}", ok, detail)


def _describe(wiring: Wiring) -> str:
    leds = wiring.leds
    parts = [f"{leds.count} {leds.type} LEDs" if leds.type != "none" else "no LEDs"]
    parts += [f"button {b.name} GPIO{b.pin}" for b in wiring.buttons]
    if wiring.mute_switch_pin >= 0:
        parts.append(f"mute switch GPIO{wiring.mute_switch_pin}")
    if wiring.alsa_device:
        parts.append(f"sound {wiring.alsa_device}")
    return ", ".join(parts)
