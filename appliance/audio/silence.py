"""Digital silence on a live microphone: every sample 0, or one constant value.

A real microphone always has some noise, so a capture that is *exactly* flat for seconds is not
a quiet room: its source has gone (PulseAudio moved the stream to a fallback such as a sink's
monitor), the capture is switched off in the mixer, or the device delivers zeros. Pure and
clock-free: each frame comes with its duration.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

SILENCE_AFTER_S = 10.0  # digital silence this long is reported (and the capture reopened)
SILENCE_MAX_S = 60.0  # still silent after a reopen: wait twice as long each time, up to this
_EPS_S = 1e-6  # frame durations add up in floating point: 125 x 0.08 is not exactly 10.0


def digitally_silent(frame: bytes) -> bool:
    """True if the 16-bit samples of ``frame`` are all the same value (peak-to-peak 0)."""
    samples = np.frombuffer(frame, dtype="<i2", count=len(frame) // 2)
    return samples.size == 0 or int(samples.max()) == int(samples.min())


class Change(enum.Enum):
    SILENT = "silent"  # digitally silent for ``after_s``
    SOUND = "sound"  # noise again, after SILENT was reported


class SilenceWatch:
    """Reports :attr:`Change.SILENT` once the input has been digitally silent for ``after_s``,
    and :attr:`Change.SOUND` on the first frame with noise after that."""

    def __init__(self, after_s: float = SILENCE_AFTER_S) -> None:
        self.after_s = after_s
        self.silent_s = 0.0  # the current run of digitally silent frames
        self.reported = False

    def feed(self, frame: bytes, duration_s: float) -> Change | None:
        if not digitally_silent(frame):
            self.silent_s = 0.0
            if self.reported:
                self.reported = False
                return Change.SOUND
            return None
        self.silent_s += duration_s
        if not self.reported and self.silent_s + _EPS_S >= self.after_s:
            self.reported = True
            return Change.SILENT
        return None


@dataclass(frozen=True)
class Reopen:
    """Reopen the capture now: ``silent_s`` of digital silence so far, ``count`` reopens of this
    silence (1: the first, warn), the next after ``next_s`` more of it."""

    silent_s: float
    count: int
    next_s: float


@dataclass(frozen=True)
class SoundBack:
    """Noise again after ``silent_s`` of digital silence and ``reopens`` reopens."""

    silent_s: float
    reopens: int


class ReopenOnSilence:
    """When a live capture that stays digitally silent is reopened: after ``after_s``, then after
    twice as long each time it is still silent, up to ``max_s`` (capped backoff, no clock).
    Fed the frames of every stream in turn: the silence counts on across reopens."""

    def __init__(self, after_s: float = SILENCE_AFTER_S, max_s: float = SILENCE_MAX_S) -> None:
        self.after_s = after_s
        self.max_s = max(max_s, after_s)
        self._watch = SilenceWatch(after_s)
        self._reopens = 0
        self._due_s = after_s

    def _wait_s(self, reopens: int) -> float:
        return min(self.max_s, self.after_s * 2.0 ** min(reopens, 32))

    def feed(self, frame: bytes, duration_s: float) -> Reopen | SoundBack | None:
        silent_before_s = self._watch.silent_s
        change = self._watch.feed(frame, duration_s)
        if self._watch.silent_s == 0.0:  # this frame has noise
            back = SoundBack(silent_before_s, self._reopens) if change is Change.SOUND else None
            self._reopens, self._due_s = 0, self.after_s
            return back
        if self._watch.silent_s + _EPS_S < self._due_s:
            return None
        self._reopens += 1
        next_s = self._wait_s(self._reopens)
        self._due_s = self._watch.silent_s + next_s
        return Reopen(self._watch.silent_s, self._reopens, next_s)
