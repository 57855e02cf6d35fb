"""The ``appliance`` command: parses arguments, sets up logging, turns errors into one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from appliance import __version__
from appliance.errors import ApplianceError

_LOGGER = logging.getLogger(__name__)

# Journald reads a "<N>" priority prefix on each line (SyslogLevelPrefix=yes).
_SYSLOG_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _SYSLOG_PRIORITY.get(record.levelname, 6)
        return f"<{prio}>{super().format(record)}"


def under_systemd() -> bool:
    """True when stderr goes to the journal (no timestamps: journald adds its own)."""
    return "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ


def setup_logging(debug: bool, level: str = "info") -> None:
    handler = logging.StreamHandler()
    if under_systemd():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else getattr(logging, level.upper()))
    for noisy in ("faster_whisper", "piper", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


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
