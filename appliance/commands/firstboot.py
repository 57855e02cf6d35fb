"""``appliance firstboot apply|check|hat``: the SD card's first-boot file, and the HAT at boot.

``apply`` (appliance-firstboot.service, once, before the network and SSH start) reads
``/boot/firmware/appliance.toml``: host name, time zone, the login user with SSH keys and/or a
password hash, Wi-Fi, MQTT broker, wake word, HAT. Each part applies on its own, so a mistake in
one leaves the others (and SSH with the user's key) working. Afterwards the file is renamed
``appliance.toml.applied`` (or ``.invalid`` if anything was wrong) with its secrets removed.
``hat`` (appliance-hat.service, every boot) picks the HAT profile when the choice is ``auto``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from appliance import firstboot as fb
from appliance.errors import ApplianceError
from appliance.fsutil import atomic_write, fsync_dir
from appliance.system.firstboot_apply import FirstBootApplier
from appliance.system.hat import setup_hat

_LOGGER = logging.getLogger(__name__)

BOOT_DIR = Path("/boot/firmware")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("firstboot", help="the first-boot file on the SD card (image only)")
    _add_actions(p, common)


def _add_actions(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser("apply", parents=[common], help="apply appliance.toml once")
    apply.add_argument("--boot", type=Path, default=BOOT_DIR, help="the boot partition")
    apply.add_argument("--root", type=Path, default=Path("/"), help="the system to change")
    apply.set_defaults(func=apply_main)
    check = actions.add_parser("check", parents=[common], help="check a first-boot file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=check_main)
    hat = actions.add_parser("hat", parents=[common], help="set up the HAT's sound profile")
    hat.add_argument("--root", type=Path, default=Path("/"))
    hat.set_defaults(func=hat_main)


def check_main(args: argparse.Namespace) -> int:
    parsed = fb.parse_text(_read(args.file))
    for problem in parsed.problems:
        sys.stdout.write(f"{args.file}: {problem}\n")
    sys.stdout.write(f"{args.file}: {'valid' if parsed.valid else 'has problems'}\n")
    return 0 if parsed.valid else 1


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise ApplianceError(f"cannot read {path}: {err.strerror}", fix="check the path",
                             code="firstboot_unreadable") from err


def _log_progress(args: argparse.Namespace) -> None:
    """These commands run once per boot under systemd: their steps belong in the journal."""
    if not args.debug:
        for name in (__name__, FirstBootApplier.__module__, setup_hat.__module__):
            logging.getLogger(name).setLevel(logging.INFO)


def apply_main(args: argparse.Namespace) -> int:
    _log_progress(args)
    source = args.boot / fb.FILE_NAME
    if not source.is_file():
        _LOGGER.info("no %s: nothing to apply", source)
        return 0
    text = _read(source)
    parsed = fb.parse_text(text)
    for problem in parsed.problems:
        _LOGGER.error("%s: %s", fb.FILE_NAME, problem)
    failures = FirstBootApplier(args.root, args.boot).apply(parsed.config)
    ok = parsed.valid and not failures
    done = source.with_name(fb.FILE_NAME + (".applied" if ok else ".invalid"))
    _replace_with_redacted(source, done, text)
    _LOGGER.info("first-boot file %s; kept without its secrets as %s",
                 "applied" if ok else "applied in part", done)
    return 0 if ok else 1


def _replace_with_redacted(source: Path, done: Path, text: str) -> None:
    atomic_write(done, fb.redact(text))
    source.unlink()
    fsync_dir(source.parent)


def hat_main(args: argparse.Namespace) -> int:
    _log_progress(args)
    setup_hat(args.root)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.commands.firstboot ACTION``: what the boot units run. Unlike
    ``appliance firstboot`` it does not import every command (and with them numpy and the model
    runtimes): seconds saved on every boot of a Pi Zero."""
    from appliance.logs import setup_logging

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(prog="appliance firstboot", parents=[common])
    _add_actions(parser, common)
    args = parser.parse_args(argv)
    setup_logging(args.debug, "warning")
    try:
        code: int = args.func(args)
    except ApplianceError as err:
        _LOGGER.error("%s [%s] (fix: %s)", err.message, err.code, err.fix)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
