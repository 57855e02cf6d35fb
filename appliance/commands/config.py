"""``appliance config show|check|set``: the configuration over SSH."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError
from appliance.settings import SYSTEM_CONFIG, load_settings, user_config_path
from appliance.system.configfile import (
    MAX_PROBLEMS,
    Problem,
    check_file,
    effective_toml,
    set_value,
)
from appliance.system.tomllines import key_lines, locate


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
        if _sentence_problem(None) or _engine_problem(None):
            return 1
        sys.stdout.write(f"no {SYSTEM_CONFIG}: the defaults are used (valid)\n")
        return 0
    problems = check_file(path)
    if not problems:
        if _sentence_problem(path) or _engine_problem(path):
            return 1
        sys.stdout.write(f"{path}: valid\n")
        return 0
    for problem in problems:
        sys.stdout.write(problem.describe(path) + "\n")
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    more = " (the check stops there: fix these, then check again)"
    sys.stdout.write(f"{count} in {path}{more if len(problems) >= MAX_PROBLEMS else ''}\n")
    return 1


def _sentence_problem(path: Path | None) -> bool:
    """Build the intent engine the file's settings describe (sentence files, own commands), as
    start-up does; a sentence it refuses is printed like a problem of the config file."""
    from appliance.errors import IntentError
    from appliance.intent.engine import make_engine

    try:
        make_engine(load_settings(path))
    except IntentError as err:
        sys.stdout.write(f"{_in_config(path, err.message)}\n    fix: {err.fix}\n")
        sys.stdout.write(f"1 problem in the sentences{f' of {path}' if path else ''}\n")
        return True
    return False


def _engine_problem(path: Path | None) -> bool:
    """A wake engine this Python cannot run (openwakeword on Python 3.13) is a problem too."""
    from appliance.wake import engine_unavailable

    err = engine_unavailable(load_settings(path).wake.engine)
    if err is None:
        return False
    if path is None:
        sys.stdout.write(f"{err.message}\n    fix: {err.fix}\n1 problem in the defaults\n")
        return True
    line = locate(key_lines(path.read_text(encoding="utf-8")), "wake.engine")
    sys.stdout.write(Problem("wake.engine", line, err.message, err.fix).describe(path) + "\n")
    sys.stdout.write(f"1 problem in {path}\n")
    return True


def _in_config(path: Path | None, message: str) -> str:
    """A problem of an own command's sentences ("skills.commands[0].sentences: ...") with the
    line of that key in the config file."""
    key = message.split(":", 1)[0]
    if path is None or not key.startswith("skills.commands["):
        return message
    line = locate(key_lines(path.read_text(encoding="utf-8")), key)
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"


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
