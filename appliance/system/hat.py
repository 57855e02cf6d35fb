"""The HAT at every boot (``appliance firstboot hat``, appliance-hat.service).

The user's choice is in ``/etc/appliance/hat``: a profile, ``none`` or ``auto``. With ``auto`` the
HAT is recognised from the I2C devices the kernel found and ``hardware.profile`` follows it. The
profile's ALSA configuration becomes ``/etc/asound.conf`` and its mixer preset is applied. First
boot writes the choice and the device-tree overlay line (:func:`with_overlay`).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tomllib
from pathlib import Path

from appliance.system.configfile import set_config_value

_LOGGER = logging.getLogger(__name__)

HAT_CHOICE = Path("etc/appliance/hat")  # relative to the root: "auto", "none" or a profile
HAT_FILES = Path("usr/share/appliance/hats")
OVERLAYS = {"respeaker-2mic": "appliance-respeaker-2mic", "voice-bonnet": "appliance-voice-bonnet"}
WM8960_I2C_ADDRESS = 0x1A


def setup_hat(root: Path) -> None:
    """Detect the HAT if the choice is ``auto``, then link its sound files (none: unlink ours)."""
    choice_file = root / HAT_CHOICE
    choice = choice_file.read_text().strip() if choice_file.is_file() else "auto"
    profile = choice
    if choice == "auto":
        profile = detect_hat(root / "sys/bus/i2c/devices", _probe_i2c(root))
        _LOGGER.info("HAT auto-detection over I2C: %s", profile)
        if profile != _configured_profile(root):
            set_config_value(root / "etc/appliance/config.toml", "hardware.profile", profile)
    link = root / "etc/asound.conf"
    target = Path("/") / HAT_FILES / profile / "asound.conf"
    if (root / HAT_FILES / profile / "asound.conf").is_file():
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        _mixer_preset(root, profile)
    elif link.is_symlink() and str(os.readlink(link)).startswith(f"/{HAT_FILES}/"):
        link.unlink()


def with_overlay(config_txt: str, overlay: str | None) -> str:
    """``config_txt`` with our HAT overlay line replaced by ``overlay`` (None: removed)."""
    lines = [ln for ln in config_txt.splitlines() if not ln.startswith("dtoverlay=appliance-")]
    if overlay is not None:
        lines.append(f"dtoverlay={overlay}")
    return "\n".join(lines) + "\n"


def detect_hat(i2c_devices: Path, probed: frozenset[int] = frozenset()) -> str:
    """The HAT profile for what answered on the Pi's I2C bus 1: a WM8960 codec at 0x1a means a
    2-mic HAT (the ReSpeaker 2-Mics HAT and the Voice Bonnet look the same on the bus; "auto"
    takes the ReSpeaker profile). ``i2c_devices`` is /sys/bus/i2c/devices (the overlay created
    1-001a), ``probed`` the addresses i2cdetect saw answer; "none" if neither shows the codec."""
    node = i2c_devices / f"1-{WM8960_I2C_ADDRESS:04x}"
    name = (node / "name").read_text().strip() if (node / "name").is_file() else ""
    bound = (node / "driver").exists()
    if (name == "wm8960" and bound) or WM8960_I2C_ADDRESS in probed:
        return "respeaker-2mic"
    return "none"


def parse_i2cdetect(output: str) -> frozenset[int]:
    """Addresses shown as answering (a hex number, or UU: in use by a driver) in i2cdetect's
    table."""
    found: set[int] = set()
    for line in output.splitlines()[1:]:
        row, _, cells = line.partition(":")
        if not row.strip():
            continue
        base = int(row.strip(), 16)
        for i in range(16):  # fixed width: " xx" per address; row 00 starts with blanks
            cell = cells[i * 3 : i * 3 + 3].strip()
            if cell == "UU" or re.fullmatch(r"[0-9a-f]{2}", cell):
                found.add(base + i)
    return frozenset(found)


def _configured_profile(root: Path) -> str:
    path = root / "etc/appliance/config.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return "none"
    value = data.get("hardware", {}).get("profile", "none")
    return str(value)


def _probe_i2c(root: Path) -> frozenset[int]:
    """What answers on I2C bus 1, when the kernel created no device node for the codec."""
    if (root / "sys/bus/i2c/devices/1-001a").exists() or not (root / "dev/i2c-1").exists():
        return frozenset()
    cmd = ["i2cdetect", "-y", "1", "0x1a", "0x1a"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return parse_i2cdetect(result.stdout) if result.returncode == 0 else frozenset()


def _mixer_preset(root: Path, profile: str) -> None:
    preset = root / HAT_FILES / profile / "mixer"
    card = (root / HAT_FILES / profile / "card").read_text().strip()
    cards = root / "proc/asound/cards"
    if not preset.is_file() or not cards.is_file() or f"[{card}" not in cards.read_text():
        _LOGGER.info("sound card %s not present: mixer preset not applied", card)
        return
    result = subprocess.run(["amixer", "-q", "-c", card, "-s"], input=preset.read_text(),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _LOGGER.warning("mixer preset for %s: %s", card, result.stderr.strip()[:300])
