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
                   "the text benchmark; audio: spoken commands (many voices, two rooms) "
                   "through the daemon's pipeline; soak: many wake cycles (not part of all)")
    p.add_argument("--cycles", type=int, default=1000, help="soak: wake cycles (1000)")
    p.add_argument("--say-chars", type=int, default=64 * 1024,
                   help="soak: the longest announcement, in characters (what MQTT accepts)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quick", action="store_true",
                   help="core: a few seconds instead of a minute per wake figure, one round "
                   "of commands")
    p.add_argument("--data", type=Path,
                   help="directory of the labelled sets (default: the sets shipped in "
                   "appliance/intent/bench_data)")
    p.add_argument("--stt-prompt", choices=("config", "on", "off", "both"), default="config",
                   help="audio: Whisper with the vocabulary prompt, without, or both (config: "
                   "as configured; for audio, the defaults')")
    p.add_argument("--stt-window", type=float, action="append", metavar="SECONDS",
                   help="audio: Whisper's encoder window (stt.window_s; 30 = Whisper's own); "
                   "repeat to compare")
    p.add_argument("--verbose", action="store_true", help="list every mistake")
    _audio_options(p)
    p.set_defaults(func=main)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _audio_options(p: argparse.ArgumentParser) -> None:
    from appliance.intent.voices import VOICE_NAMES

    p.add_argument("--voices", type=_names, default=VOICE_NAMES, metavar="A,B",
                   help=f"audio: the voices ({','.join(VOICE_NAMES)}; default: all)")
    p.add_argument("--conditions", type=_names, default=("dry", "room"), metavar="dry,room",
                   help="audio: the rooms (dry; room: reverberation, a second talker, noise)")
    p.add_argument("--pauses", type=_names, default=("none", "pause"), metavar="none,pause",
                   help="audio: the gap after the wake word (none: 0.15 s, pause: 0.8 s)")
    p.add_argument("--limit", type=int, metavar="N", help="audio: the first N commands only")
    p.add_argument("--commands", type=Path, metavar="FILE",
                   help="audio: the labelled commands (default: spoken.yaml in the sets, or "
                   "audio_commands.yaml)")
    p.add_argument("--no-chime", action="store_true",
                   help="audio: no wake chime (listen.chime = false)")
    p.add_argument("--realtime", action="store_true",
                   help="audio: feed each clip at a microphone's pace (default: as fast as "
                   "the pipeline takes it)")


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    results: dict[str, Any] = {}
    if args.what in ("core", "all"):
        from appliance.bench import run_bench

        results["core"] = run_bench(settings, quick=args.quick)
    if args.what in ("intents", "all"):
        from appliance.intent.bench import run_intents

        results["intents"] = run_intents(settings, args.data)
    if args.what in ("audio", "all"):
        results["audio"] = _audio(args)
    if args.what == "soak":
        from appliance.soak import run_soak

        results["soak"] = run_soak(settings, args.cycles, args.say_chars)
    if args.json:
        print(json.dumps(results if args.what == "all" else results[args.what], indent=2))
    else:
        for section, values in results.items():
            if section == "audio":
                _print_audio(values, args.verbose)
            else:
                _print(section, values, args.verbose)
    return 0


def _audio(args: argparse.Namespace) -> dict[str, Any]:
    from appliance.intent.audio_bench import AudioOptions, run_audio

    prompts: tuple[bool | None, ...] = {"config": (None,), "on": (True,), "off": (False,),
                                        "both": (False, True)}[args.stt_prompt]
    windows: tuple[float | None, ...] = tuple(args.stt_window or (None,))
    options = AudioOptions(voices=args.voices, rooms=args.conditions, pauses=args.pauses,
                           limit=args.limit, commands=args.commands, data_dir=args.data,
                           chime=not args.no_chime, realtime=args.realtime, prompts=prompts,
                           windows=windows)
    return run_audio(options)


def _print_audio(values: dict[str, Any], verbose: bool) -> None:
    from appliance.intent.audio_score import report

    print("[audio]")
    print(f"{values['commands']} commands ({values['commands_file']}) x "
          f"{len(values['voices'])} voices x {', '.join(values['conditions'])}; chime "
          f"{'on' if values['chime'] else 'off'}; clips fed {values['fed']}; "
          f"{values['clips_synthesised']} clips synthesised (the rest from the cache)")
    for run in values["runs"]:
        print(f"\nWhisper prompt {'on' if run['stt_prompt'] else 'off'}, window "
              f"{run['stt_window_s']:g} s: {len(run['outcomes'])} clips in {run['seconds']} s "
              f"(models loaded in {run['load_s']} s)")
        print(report(run, None if verbose else 40))


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
