"""``appliance bench [core|intents|audio|all]``: speed, memory and recognition accuracy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from appliance.commands.common import settings_from


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("bench", parents=[common], help="measure speed, memory and accuracy")
    p.add_argument("what", nargs="?", choices=("all", "core", "intents", "audio", "soak"),
                   default="core", help="core: models' speed and memory (default); intents: "
                   "the text benchmark; audio: spoken commands through Whisper; soak: many "
                   "wake cycles (not part of all)")
    p.add_argument("--cycles", type=int, default=1000, help="soak: wake cycles (1000)")
    p.add_argument("--say-chars", type=int, default=64 * 1024,
                   help="soak: the longest announcement, in characters (what MQTT accepts)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--data", type=Path,
                   help="directory of the labelled sets (default: the sets shipped in "
                   "appliance/intent/bench_data)")
    p.add_argument("--stt-prompt", choices=("config", "on", "off", "both"), default="config",
                   help="audio: Whisper with the vocabulary prompt, without, or both")
    p.add_argument("--stt-window", type=float, action="append", metavar="SECONDS",
                   help="audio: Whisper's encoder window (stt.window_s; 30 = Whisper's own); "
                   "repeat to compare")
    p.add_argument("--verbose", action="store_true", help="list every mistake")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    results: dict[str, Any] = {}
    if args.what in ("core", "all"):
        from appliance.bench import run_bench

        results["core"] = run_bench(settings)
    if args.what in ("intents", "all"):
        from appliance.intent.bench import run_intents

        results["intents"] = run_intents(settings, args.data)
    if args.what in ("audio", "all"):
        from appliance.intent.audio_bench import run_audio

        prompts = {"config": (settings.skills.stt_prompt,), "on": (True,), "off": (False,),
                   "both": (False, True)}[args.stt_prompt]
        windows = tuple(args.stt_window or (settings.stt.window_s,))
        results["audio"] = run_audio(settings, args.data, prompts, windows)
    if args.what == "soak":
        from appliance.soak import run_soak

        results["soak"] = run_soak(settings, args.cycles, args.say_chars)
    if args.json:
        print(json.dumps(results if args.what == "all" else results[args.what], indent=2))
    else:
        for section, values in results.items():
            _print(section, values, args.verbose)
    return 0


def _print(section: str, values: dict[str, Any], verbose: bool, indent: str = "") -> None:
    if indent == "":
        print(f"[{section}]")
    for key, value in values.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print(section, value, verbose, indent + "  ")
        elif isinstance(value, list):
            if verbose or key in {"misses", "mistakes"}:
                print(f"{indent}{key:34s} {len(value)}")
                for item in value if (verbose or len(value) <= 10) else value[:10]:
                    print(f"{indent}  {item}")
        else:
            print(f"{indent}{key:34s} {value}")
