"""The ``appliance`` command: parses arguments, sets up logging, turns errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from appliance import __version__
from appliance.errors import ApplianceError
from appliance.logs import setup_logging

_LOGGER = logging.getLogger(__name__)


def _command_modules() -> list[ModuleType]:
    from appliance.commands import (
        bench,
        config,
        devices,
        doctor,
        firstboot,
        intent,
        listen,
        run,
        say,
        transcribe,
    )

    return [run, say, transcribe, listen, intent, bench, doctor, config, devices, firstboot]


def _common_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", default=default,
        help="TOML file with the settings you change (default: /etc/appliance/config.toml)",
    )
    parser.add_argument("--debug", action="store_true", default=default,
                        help="debug logging and tracebacks")


def build_parser() -> argparse.ArgumentParser:
    # The options are accepted before and after the command. The copy given to sub-commands
    # has no defaults, so `appliance --config F doctor` keeps F (argparse would reset it).
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="appliance", description="An offline smart speaker.")
    _common_options(parser, None)
    parser.set_defaults(debug=False)
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug, "warning")  # `run` raises it to logging.level
    try:
        code: int = args.func(args)
    except ApplianceError as err:
        if args.debug:
            _LOGGER.exception("failed")
        print(f"appliance: error [{err.code}]: {err.message}", file=sys.stderr)
        if err.fix:
            print(f"  fix: {err.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
