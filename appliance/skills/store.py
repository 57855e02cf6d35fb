"""Timers and alarms on disk: one JSON file, replaced atomically (power loss leaves old or new).

A file that cannot be used (not JSON, or not the shape the speaker writes) is moved aside as
``schedule.json.bad`` (the latest one only: an older ``.bad`` is replaced) with one warning, and
the speaker starts with no timers or alarms: a broken file never stops it from starting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from appliance.fsutil import atomic_write, remove_leftover_temps
from appliance.skills.schedule import ScheduleError

T = TypeVar("T")

_LOGGER = logging.getLogger(__name__)
FILE_NAME = "schedule.json"
BAD_SUFFIX = ".bad"


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self.bad_path = state_dir / (FILE_NAME + BAD_SUFFIX)
        self._warned = False

    def load(self, parse: Callable[[object], T]) -> T | None:
        """``parse`` of the decoded file; None when there is none, or when it is not JSON or
        ``parse`` refuses it (:class:`ScheduleError`): then it is set aside. Also removes what
        writes cut short (kill -9, power loss) left behind: call it once, at start-up, before
        any :meth:`save`."""
        for leftover in remove_leftover_temps(self.path):
            _LOGGER.info("removed %s (a save cut short before it finished)", leftover)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            _LOGGER.warning("cannot read %s: %s; starting with no timers or alarms (check "
                            "skills.state_dir)", self.path, err.strerror or err)
            return None
        try:
            data: object = json.loads(raw)
        except RecursionError:
            why = "nested too deeply"
        except ValueError as err:
            why = f"not JSON: {err}"
        else:
            try:
                return parse(data)
            except ScheduleError as err:
                why = str(err)
        self.set_aside(why)
        return None

    def set_aside(self, why: str) -> None:
        """Move the file to ``schedule.json.bad``, with one warning naming it and ``why``."""
        try:
            self.path.replace(self.bad_path)
        except OSError as err:
            kept = f"could not move it aside ({err.strerror or err})"
        else:
            kept = f"moved to {self.bad_path.name}"
        _LOGGER.warning("%s is not a schedule this speaker wrote (%s): %s; starting with no "
                        "timers or alarms (set them again)", self.path, why, kept)

    def save(self, data: dict[str, Any]) -> bool:
        """Write ``data`` atomically: a temporary file, fsync, rename over the old one, fsync.
        False if it could not be written (logged once until a save works again)."""
        try:
            atomic_write(self.path, json.dumps(data, indent=1, allow_nan=False))
        except (OSError, ValueError) as err:
            if not self._warned:
                _LOGGER.warning("cannot save timers and alarms in %s: %s (they will not survive "
                                "a restart; check skills.state_dir and free space)",
                                self.path.parent, err)
                self._warned = True
            return False
        self._warned = False
        return True
