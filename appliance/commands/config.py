"""``appliance config show|check|set``: the configuration over SSH."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError
from appliance.settings import SYSTEM_CONFIG, load_settings, user_config_path
from appliance.system.configfile import MAX_PROBLEMS, check_file, effective_toml, set_value


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    # `common` (--config, --debug) goes on each action: on both levels the action's default would
    # overwrite a --config given before it.
    p = sub.add_parser("config", help="show, check or change the configuration")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", parents=[common],
                              help="the effective settings (defaults + your file), secrets masked")
    show.set_defaults(func=show_main)
    check = actions.add_parser("check", parents=[common],
                               help="check a config file: every problem with its line and fix")
    check.add_argument("file", nargs="?", type=Path,
                       help=f"the file to check (default: --config or {SYSTEM_CONFIG})")
    check.set_defaults(func=check_main)
    put = actions.add_parser(
        "set", parents=[common],
        help="set KEY to VALUE in your file (validated; comments and layout kept)",
        description="VALUE is a TOML value (4, 0.5, true, \"text\", [\"a\", \"b\"]); for text "
        "settings plain words work too. Example: appliance config set stt.model base",
    )
    put.add_argument("key", help="dotted key path, e.g. audio.input.device or "
                     "wake.models[0].threshold")
    put.add_argument("value", help="the new value")
    put.set_defaults(func=set_main)


def show_main(args: argparse.Namespace) -> int:
    path = user_config_path(args.config)
    settings = load_settings(path)
    source = f"the defaults + {path}" if path else "the defaults (no user file)"
    sys.stdout.write(f"# Effective settings: {source}. Secrets are masked.\n\n")
    sys.stdout.write(effective_toml(settings))
    return 0


def check_main(args: argparse.Namespace) -> int:
    path = args.file or user_config_path(args.config)
    if path is None:
        sys.stdout.write(f"no {SYSTEM_CONFIG}: the defaults are used (valid)\n")
        return 0
    problems = check_file(path)
    if not problems:
        sys.stdout.write(f"{path}: valid\n")
        return 0
    for problem in problems:
        sys.stdout.write(problem.describe(path) + "\n")
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    more = " (the check stops there: fix these, then check again)"
    sys.stdout.write(f"{count} in {path}{more if len(problems) >= MAX_PROBLEMS else ''}\n")
    return 1


def set_main(args: argparse.Namespace) -> int:
    path: Path = args.config or SYSTEM_CONFIG
    try:
        value = set_value(path, args.key, args.value)
    except PermissionError as err:
        raise ApplianceError(f"cannot write {path}: {err.strerror}",
                             fix="run it with sudo", code="config_not_writable") from err
    sys.stdout.write(f"{path}: {args.key} = {value!r}\n"
                     "apply it with: sudo systemctl reload appliance\n")
    return 0
