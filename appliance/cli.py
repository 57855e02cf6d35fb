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
    from appliance.commands import bench, intent, listen, run, say, transcribe
    from appliance.commands import config, devices, doctor
    from appliance.commands import firstboot

    return [run, say, transcribe, listen, intent, bench, doctor, config, devices, firstboot]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, metavar="FILE",
        help="TOML file with the settings you change (default: /etc/appliance/config.toml)",
    )
    common.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    parser = argparse.ArgumentParser(
        prog="appliance", description="An offline smart speaker.", parents=[common]
    )
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
