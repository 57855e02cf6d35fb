"""Logging set-up for the entry points (``appliance``, ``python -m appliance.commands.firstboot``).

Only entry points configure logging; every other module just calls ``logging.getLogger(__name__)``.
Under systemd the lines carry a journald priority prefix and no timestamp (journald adds its own).
"""

from __future__ import annotations

import logging
import os

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
    set_level(debug, level)
    for noisy in ("faster_whisper", "piper", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def set_level(debug: bool, level: str) -> None:
    """``logging.level`` changed (a reload); with ``--debug`` everything stays at debug."""
    logging.getLogger().setLevel(logging.DEBUG if debug else getattr(logging, level.upper()))
