"""Security updates from Debian: the ``[updates]`` setting and what unattended-upgrades logged.

The SD-card image installs Debian's security fixes every day with unattended-upgrades (see
``image/overlay/etc/apt/apt.conf.d/52appliance-security-updates``). ``[updates] security =
false`` turns that off: the apt services ask :mod:`appliance.system.updates_gate` before each
run. The speaker's own venv (``/opt/appliance/venv``) is pip's, not apt's: no update touches it.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from appliance.fields import rng

UPDATE_LOG = Path("/var/log/unattended-upgrades/unattended-upgrades.log")
UPDATE_PROGRAM = Path("/usr/bin/unattended-upgrade")

# unattended-upgrade logs with '%(asctime)s %(levelname)s %(message)s', in local time.
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ([A-Z]+) (.*)$")
_START = "Starting unattended upgrades script"
_UPGRADING = "Packages that will be upgraded: "
_NOTHING = "No packages found that can be upgraded unattended"


@dataclass(frozen=True)
class UpdateSettings:
    """The ``[updates]`` table."""

    security: bool = rng()


@dataclass(frozen=True)
class UpdateRun:
    """One run of unattended-upgrade, as its log tells it."""

    started: datetime  # local time, naive (as logged)
    packages: tuple[str, ...] = ()
    error: str = ""


def last_run(log: Path) -> UpdateRun | None:
    """The newest run in ``log``, else in the file logrotate made of it last month; None: none
    ran yet (a new image), or the log is unreadable."""
    for path in (log, log.with_name(log.name + ".1"), log.with_name(log.name + ".1.gz")):
        text = _read(path)
        run = parse_last_run(text) if text else None
        if run is not None:
            return run
    return None


def _read(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8", errors="replace")
    except (OSError, EOFError):
        return ""


def parse_last_run(text: str) -> UpdateRun | None:
    """The last run in the text of an unattended-upgrades log that came to an end: it found
    nothing to install, named what it installs, or failed (pure). apt-daily.service's runs with
    --download-only log only their start: they do not count."""
    run: UpdateRun | None = None
    last: UpdateRun | None = None
    for stamp, level, message in _entries(text):
        if message == _START:
            run = UpdateRun(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
        elif run is None:
            continue
        elif message.startswith(_UPGRADING):
            run = last = UpdateRun(run.started, tuple(message[len(_UPGRADING):].split()))
        elif message.startswith(_NOTHING):
            last = run
        elif level in ("ERROR", "CRITICAL") and not run.error:
            run = last = UpdateRun(run.started, run.packages, message.strip())
    return last


def _entries(text: str) -> Iterator[tuple[str, str, str]]:
    """(time stamp, level, message) of each log line that has them (not continuation lines)."""
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is not None:
            yield match.group(1), match.group(2), match.group(3)
