"""``appliance doctor``: check everything the speaker needs, with the fix for each problem."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from appliance.system.doctor import all_checks, exit_code, load_context, render, run_checks


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "doctor", parents=[common],
        help="check config, models, audio, wake word, MQTT, hardware and the service",
        description="One screen of checks, each with the fix. Exit code 1 if anything is red.",
    )
    p.add_argument("--only", action="append", choices=list(all_checks()), metavar="CHECK",
                   help=f"run only this check (repeatable): {', '.join(all_checks())}")
    p.add_argument("--quick", action="store_true",
                   help="do not load the models or run the wake word test (faster, less memory)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour and ✓/✗ symbols (auto: on a terminal)")
    p.set_defaults(func=main)


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def main(args: argparse.Namespace) -> int:
    ctx = load_context(args.config, quick=args.quick)
    results = asyncio.run(run_checks(ctx, args.only or ()))
    sys.stdout.write(render(results, color=use_color(args.color)))
    return exit_code(results)
