"""``appliance devices``: the capture and playback devices, with the names to put in config."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from appliance.system.devices import AudioDevice, Direction, list_devices

_KEYS: dict[Direction, str] = {"capture": "audio.input.device", "playback": "audio.output.device"}


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("devices", parents=[common],
                       help="list microphones and speakers with the names to use in config")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    found = {d: list_devices(d) for d in _KEYS}
    if args.json:
        data = {d: [asdict(x) for x in devices] for d, devices in found.items()}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(_section(d, devices) for d, devices in found.items()))
    return 0


def _section(direction: Direction, devices: list[AudioDevice]) -> str:
    key = _KEYS[direction]
    lines = [f"{direction.capitalize()} devices (for {key}):"]
    if not devices:
        lines.append("  none found: is the sound card connected and its driver loaded "
                     "(`dmesg | grep -i snd`)?")
    width = max((len(d.name) for d in devices), default=0)
    lines += [f"  {d.name:<{width}}  {d.description}" for d in devices]
    if devices:
        best = next((d for d in devices if d.hardware), devices[0])
        lines.append(f"  use one with: sudo appliance config set {key} '{best.name}'")
    return "\n".join(lines) + "\n\n"
