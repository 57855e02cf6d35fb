"""SIGHUP reload: which parts of the configuration changed, so only those are rebuilt.

The daemon re-reads the files on SIGHUP and rebuilds only the subsystems whose section changed
(:func:`appliance.stages.build_stages`): unchanged ``stt``/``tts``/``wake`` models stay loaded,
an unchanged ``mqtt`` connection stays up.
"""

from __future__ import annotations

import dataclasses

from appliance.settings import Settings


def diff_settings(old: Settings, new: Settings) -> set[str]:
    """The names of the top-level sections (``audio``, ``stt``, ``mqtt``, ...) that differ."""
    return {
        f.name
        for f in dataclasses.fields(Settings)
        if getattr(old, f.name) != getattr(new, f.name)
    }

