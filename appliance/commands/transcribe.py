"""``appliance transcribe FILE.wav``: what the speech recogniser hears in a recording."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from appliance.audio.format import RATE_HZ, read_wav, resample
from appliance.commands.common import settings_from
from appliance.stt import Transcriber


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("transcribe", parents=[common], help="transcribe a WAV file")
    p.add_argument("wav", type=Path, metavar="FILE.wav")
    p.add_argument("--quick", action="store_true",
                   help="use the shortened window of stt.window_s, as the speaker does for "
                   "commands (default: Whisper's own 30 s window, the most accurate for any text)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    pcm = read_wav(args.wav)
    stt = Transcriber(settings.stt)
    start = time.perf_counter()
    transcript = stt.transcribe(resample(pcm.samples, pcm.rate_hz, RATE_HZ),
                                full_window=not args.quick)
    elapsed = time.perf_counter() - start
    print(transcript.text)
    if args.debug:
        print(f"# {transcript.audio_s:.2f} s of audio in {elapsed:.2f} s")
    return 0
