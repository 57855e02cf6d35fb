"""The "Answered by" choice made in Home Assistant, kept over restarts and reloads.

Like an ESPHome device restoring its select, the speaker starts with the mode last chosen there,
until the configuration file's own ``[esphome] mode`` changes: then the file's is the mode (the
file is how the speaker starts; a choice made while it runs lasts until either changes it).
One small JSON file in ``skills.state_dir`` (the speaker's state), replaced atomically; a file
that cannot be read is logged once and the file's mode used, never a failed start.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from appliance.esphome.settings import MODES
from appliance.fsutil import atomic_write

_LOGGER = logging.getLogger(__name__)
FILE_NAME = "esphome-mode.json"


class ChosenMode:
    """``load()`` the mode to start with; ``save(mode)`` when Home Assistant chooses one."""

    def __init__(self, state_dir: Path | None, configured: str) -> None:
        self.path = None if state_dir is None else state_dir / FILE_NAME
        self.configured = configured
        self._warned = False

    def load(self) -> str:
        if self.path is None:
            return self.configured
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self.configured
        except (OSError, ValueError) as err:
            _LOGGER.warning("cannot read %s (%s): answering as [esphome] mode says (%s); the "
                            "next choice in Home Assistant writes it again", self.path, err,
                            self.configured)
            return self.configured
        if not isinstance(data, dict) or data.get("mode") not in MODES:
            _LOGGER.warning("%s is not a mode this speaker wrote: answering as [esphome] mode "
                            "says (%s)", self.path, self.configured)
            return self.configured
        if data.get("configured") != self.configured:
            return self.configured  # the file's mode changed since: the file's it is
        return str(data["mode"])

    def save(self, mode: str) -> None:
        if self.path is None:
            return
        try:
            atomic_write(self.path, json.dumps({"mode": mode, "configured": self.configured}))
        except OSError as err:
            if not self._warned:
                _LOGGER.warning("cannot save the chosen mode in %s: %s (it lasts until a "
                                "restart; check skills.state_dir)", self.path.parent,
                                err.strerror or err)
                self._warned = True
            return
        self._warned = False
