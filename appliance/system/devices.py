"""ALSA capture and playback devices, with the names to put in ``audio.input/output.device``.

Sources: ``arecord -L`` / ``aplay -L`` (every PCM the ALSA configuration defines) and
``/proc/asound/cards`` + ``/proc/asound/pcm`` (the sound cards the kernel found). A card appears as
``plughw:CARD=<id>,DEV=<n>``: the card itself, with rate and format conversion, which is what the
daemon wants (it records 16 kHz mono whatever the hardware does).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from appliance.errors import AudioDeviceError

Direction = Literal["capture", "playback"]

# PCMs from `-L` that are converters or plumbing, not something to record from or play to.
_NOT_DEVICES = re.compile(
    r"^(null|lavrate|samplerate|speexrate|speex|upmix|vdownmix|jack|oss|surround\d+|iec958|"
    r"front|hdmi|usbstream|a52|dmix|dsnoop|hw)(:|$)"
)
_CARD_LINE = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]:\s*(.*)$")
_PCM_LINE = re.compile(r"^(\d+)-(\d+):\s*([^:]*?)\s*:\s*([^:]*?)\s*:(.*)$")


@dataclass(frozen=True)
class AudioDevice:
    name: str  # the value for audio.input.device / audio.output.device
    description: str
    hardware: bool  # a sound card (plughw:), not a plugin or sound server


def parse_alsa_list(text: str) -> list[tuple[str, str]]:
    """``arecord -L`` output -> (name, description joined on one line)."""
    devices: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and devices:
            devices[-1][1].append(line.strip())
        elif not line[0].isspace():
            devices.append((line.strip(), []))
    return [(name, ", ".join(desc)) for name, desc in devices]


def parse_cards(text: str) -> dict[int, tuple[str, str]]:
    """``/proc/asound/cards`` -> {card number: (id, long name)}."""
    cards = {}
    for line in text.splitlines():
        if match := _CARD_LINE.match(line):
            cards[int(match.group(1))] = (match.group(2), match.group(3).strip())
    return cards


def parse_pcms(text: str) -> list[tuple[int, int, str, set[str]]]:
    """``/proc/asound/pcm`` -> (card, device, name, {"capture", "playback"})."""
    pcms = []
    for line in text.splitlines():
        if match := _PCM_LINE.match(line):
            kinds = {d for d in ("capture", "playback") if d in match.group(5)}
            pcms.append((int(match.group(1)), int(match.group(2)), match.group(4), kinds))
    return pcms


def hardware_devices(cards_text: str, pcm_text: str, direction: Direction) -> list[AudioDevice]:
    """The sound cards' PCMs for one direction, named ``plughw:CARD=<id>,DEV=<n>``."""
    cards = parse_cards(cards_text)
    out = []
    for card, dev, name, kinds in parse_pcms(pcm_text):
        if direction in kinds and card in cards:
            card_id, long_name = cards[card]
            out.append(AudioDevice(f"plughw:CARD={card_id},DEV={dev}", f"{long_name}: {name}",
                                   hardware=True))
    return out


def list_devices(
    direction: Direction, proc_asound: Path = Path("/proc/asound")
) -> list[AudioDevice]:
    """Sound cards first (best choice), then the other PCMs ALSA defines (default, pulse, ...)."""
    found = hardware_devices(_read(proc_asound / "cards"), _read(proc_asound / "pcm"), direction)
    names = {d.name for d in found}
    for name, description in parse_alsa_list(_alsa_list(direction)):
        if name not in names and not _NOT_DEVICES.match(name):
            found.append(AudioDevice(name, description, hardware=name.startswith("plughw:")))
            names.add(name)
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _alsa_list(direction: Direction) -> str:
    program = "arecord" if direction == "capture" else "aplay"
    if shutil.which(program) is None:
        raise AudioDeviceError(f"{program} is not installed",
                               fix="sudo apt install alsa-utils")
    result = subprocess.run([program, "-L"], capture_output=True, text=True, timeout=10,
                            check=False)
    return result.stdout
