"""What the pipeline keeps about one command being heard, and where its time went."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from appliance.audio.format import Int16Array
from appliance.stt import Transcript
from appliance.vad import Endpointer


@dataclass
class Listening:
    """One command being heard."""

    session_id: str
    endpointer: Endpointer
    frames: list[bytes] = field(default_factory=list)
    mute_until_s: float = 0.0
    early: asyncio.Future[Transcript] | None = None
    early_speech_s: float = -1.0
    last_speech_at: float = 0.0

    def audio(self) -> Int16Array:
        return np.frombuffer(b"".join(self.frames), dtype=np.int16).copy()


@dataclass
class Timing:
    """Where the time of the last interaction went (for ``listen`` and ``bench``)."""

    end_of_speech: float = 0.0
    transcribed: float = 0.0
    recognized: float = 0.0
    first_audio: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
