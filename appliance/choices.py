"""What the user chose at run time (over MQTT, from Home Assistant, by Hermes), kept by a reload.

The configuration file says how the speaker starts; a choice made while it runs (the wake word,
its threshold, hotword detection off) lasts until the user changes it again, or until the file
itself changes that very setting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from appliance.settings import Settings
from appliance.stages import WakeDetector

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choices:
    wake_word: str | None = None
    wake_threshold: float | None = None
    wake_enabled: bool = True


def carry_wake_choices(chosen: Choices, wake: WakeDetector, old: Settings,
                       new: Settings) -> Choices:
    """Apply ``chosen`` to a newly built wake stage; returns the choices that still hold (a
    wake word no longer loaded is dropped; a threshold the file now changes is the file's)."""
    wake.enabled = chosen.wake_enabled
    if chosen.wake_word is not None and chosen.wake_word in wake.names:
        wake.select(chosen.wake_word)
    elif chosen.wake_word is not None:
        _LOGGER.info("the chosen wake word %s is no longer loaded", chosen.wake_word)
        chosen = replace(chosen, wake_word=None)
    if chosen.wake_threshold is not None and _thresholds(new) == _thresholds(old):
        wake.set_threshold(chosen.wake_threshold)
    else:
        chosen = replace(chosen, wake_threshold=None)
    return chosen


def _thresholds(settings: Settings) -> tuple[float, ...]:
    return tuple(m.threshold for m in settings.wake.models)
