"""Timers and alarms on disk: one JSON file, replaced atomically (power loss leaves old or new)."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from appliance.fsutil import atomic_write

_LOGGER = logging.getLogger(__name__)
FILE_NAME = "schedule.json"
VERSION = 1


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._warned = False

    def load(self) -> dict[str, Any]:
        """What was saved, or an empty schedule (a missing or broken file is not fatal)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            _LOGGER.error("%s is unreadable (%s): starting with no timers or alarms", self.path,
                          err)
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_suffix(".bad"))
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION:
            _LOGGER.error("%s: unknown format; ignored", self.path)
            return {}
        return data

    def save(self, data: dict[str, Any]) -> bool:
        """Write ``data`` atomically: a temporary file, fsync, rename over the old one, fsync."""
        try:
            self._write({"version": VERSION, **data})
        except OSError as err:
            if not self._warned:
                _LOGGER.warning("cannot save timers and alarms in %s: %s (they will not survive "
                                "a restart; check skills.state_dir)", self.path.parent, err)
                self._warned = True
            return False
        self._warned = False
        return True

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1))
