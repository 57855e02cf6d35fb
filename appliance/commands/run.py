"""``appliance run``: the daemon."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.commands.common import settings_from
from appliance.daemon import AudioPaths, run
from appliance.logs import setup_logging
from appliance.settings import user_config_path


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="run the speaker (the daemon)")
    p.add_argument("--audio-in", type=_path, metavar="FILE.wav",
                   help="read the microphone from a recording instead of a device")
    p.add_argument("--audio-out", type=_path, metavar="FILE.wav",
                   help="write what would be played to a WAV file instead of a device")
    p.set_defaults(func=main)


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    setup_logging(args.debug, settings.logging.level)
    return run(settings, AudioPaths(args.audio_in, args.audio_out), user_config_path(args.config),
               debug=args.debug)
