"""``appliance bench``: speed and memory of the installed models on this machine."""

from __future__ import annotations

import argparse
import json
from typing import Any

from appliance.commands.common import settings_from


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("bench", parents=[common], help="measure speed and memory")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from appliance.bench import run_bench

    settings = settings_from(args)
    results = run_bench(settings)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:36s} {value}")
    return 0
