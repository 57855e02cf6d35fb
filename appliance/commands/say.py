"""``appliance say TEXT [-o out.wav]``: speak with the configured voice."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from appliance.audio.format import Pcm, write_wav
from appliance.audio.sink import open_sink
from appliance.commands.common import settings_from
from appliance.speaker import Speaker
from appliance.tts import Synthesizer


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("say", parents=[common], help="speak TEXT (to the speaker or a WAV file)")
    p.add_argument("text", help="what to say")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.wav", help="write a WAV file")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    out = settings.audio.output
    sink = open_sink(out.device, out.command, None)
    speaker = Speaker(Synthesizer(settings.tts), sink, rate_hz=out.rate_hz, volume=out.volume)
    try:
        if args.output is not None:
            write_wav(args.output, Pcm(speaker.synthesize_all(args.text), speaker.rate_hz))
        else:
            asyncio.run(speaker.speak(args.text))
    finally:
        speaker.close()
    return 0
