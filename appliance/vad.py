"""End of speech: Silero VAD (the model faster-whisper ships) and the pure endpointer.

:class:`SileroVad` turns 80 ms frames into a speech probability, keeping the model's state across
frames. :class:`Endpointer` decides, from probabilities and frame durations alone, when the user
has finished, has paused (a chance to start transcribing early), or never spoke.
"""

from __future__ import annotations

import enum
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from appliance.audio.format import to_float
from appliance.errors import ModelError
from appliance.models import onnx_session
from appliance.settings import ListenSettings

WINDOW = 512  # samples the model scores at a time (32 ms at 16 kHz)
CONTEXT = 64  # samples of the previous window it also sees
# A pause this long after speech starts an early transcription (discarded if speech resumes):
# one frame, so that the transcript is ready soon after ANSWER_PAUSE_S.
EARLY_PAUSE_S = 0.08
# The least silence after which a whole command is answered (the turn's decision): a gap
# between words is often one frame long, seldom two.
ANSWER_PAUSE_S = 0.16
_FIX = "reinstall faster-whisper (pip install --force-reinstall faster-whisper)"


def silero_path() -> Path:
    spec = importlib.util.find_spec("faster_whisper")
    path = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
    model = path / "assets" / "silero_vad_v6.onnx" if path else None
    if model is None or not model.is_file():
        raise ModelError(
            "the Silero VAD model (shipped with faster-whisper) was not found",
            fix=_FIX,
        )
    return model


class SileroVad:
    """Streaming Silero VAD v6: ``process(frame)`` is the frame's highest speech probability."""

    def __init__(self) -> None:
        self._session = onnx_session(silero_path(), "the Silero VAD model", _FIX)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._last = 0.0

    def process(self, frame: bytes) -> float:
        samples = to_float(np.frombuffer(frame, dtype=np.int16))
        self._pending = np.concatenate([self._pending, samples])
        best: float | None = None
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            batch = np.concatenate([self._context, window])[np.newaxis, :]
            out, self._h, self._c = self._session.run(
                None, {"input": batch, "h": self._h, "c": self._c}
            )
            self._context = window[-CONTEXT:]
            prob = float(np.asarray(out).reshape(-1)[0])
            best = prob if best is None else max(best, prob)
        if best is not None:
            self._last = best
        return self._last


# The end of the wake word in a wake turn's first frames (``wake_tail_frames``): the wake word
# fires before it ends, so the pre-roll and the next frame or two still hold its last syllable,
# which Whisper may write as a word ("Press. Turn the volume down.", "Close set a timer...": at
# least 19 of 180 fresh Piper renders after a pause of 0.15, 0.3 or 0.8 s; none once dropped,
# 2026-12-02). A frame scores as silence below half the speech threshold; a gap is
# ANSWER_PAUSE_S (two frames) of it; the wake word's end is looked for up to TAIL_FRAMES frames
# after the pre-roll, and LEAD_FRAMES of the gap are kept.
TAIL_FRAMES = 2
LEAD_FRAMES = 2


def wake_tail_frames(probabilities: Sequence[float], preroll: int, threshold: float,
                     frame_s: float) -> int:
    """How many of a wake turn's first frames are the end of the wake word: 0 unless they are
    speech, then a gap of silence that starts within ``TAIL_FRAMES`` after the ``preroll``
    frames, then speech again (the command). Speech run on from the wake word, with no gap,
    is all kept, and so is a lone wake word (nothing said after it to tell the two apart).
    ``probabilities``: the VAD's, one per frame from the first pre-roll frame."""
    quiet = [p < threshold / 2 for p in probabilities]
    gap = max(1, round(ANSWER_PAUSE_S / frame_s))
    start = next((i for i, q in enumerate(quiet) if q), None)
    if start is None or start == 0 or start > preroll + TAIL_FRAMES:
        return 0
    end = start
    while end < len(quiet) and quiet[end]:
        end += 1
    if end - start < gap or end == len(quiet):
        return 0  # no gap after it, or nothing said since
    return max(start, end - LEAD_FRAMES)


class Endpoint(enum.Enum):
    CONTINUE = "continue"
    PAUSE = "pause"  # speech, then EARLY_PAUSE_S of silence: worth transcribing early
    SPEECH_END = "speech-end"  # speech, then end_silence_s of silence
    COMPLETE = "complete"  # speech, a pause, and what was said is a whole command (the turn's)
    REMOTE = "remote"  # Home Assistant heard the end of the command first (the turn's)
    MAX_LENGTH = "max-length"  # listened max_listen_s with speech in it
    NO_SPEECH = "no-speech"  # nothing said within no_speech_timeout_s


class Endpointer:
    """Pure decision: feed ``update(probability, frame_s)`` per frame; no clock involved."""

    def __init__(self, settings: ListenSettings) -> None:
        self.s = settings
        self.elapsed_s = 0.0
        self.speech_s = 0.0
        self.silence_s = 0.0
        self._paused = False

    @property
    def heard_speech(self) -> bool:
        return self.speech_s >= self.s.min_speech_s and self.speech_s > 0

    @property
    def paused_to_answer(self) -> bool:
        """Silent for ``ANSWER_PAUSE_S`` after speech: long enough to answer a whole command."""
        return self.heard_speech and self.silence_s >= ANSWER_PAUSE_S - 1e-9

    def update(self, probability: float, frame_s: float) -> Endpoint:
        self.elapsed_s += frame_s
        if probability >= self.s.vad_threshold:
            self.speech_s += frame_s
            self.silence_s = 0.0
            self._paused = False
        elif self.heard_speech:
            self.silence_s += frame_s
        if self.heard_speech:
            if self.silence_s >= self.s.end_silence_s - 1e-9:
                return Endpoint.SPEECH_END
            if self.elapsed_s >= self.s.max_listen_s - 1e-9:
                return Endpoint.MAX_LENGTH
            if not self._paused and self.silence_s >= EARLY_PAUSE_S - 1e-9:
                self._paused = True
                return Endpoint.PAUSE
            return Endpoint.CONTINUE
        limit = min(self.s.no_speech_timeout_s, self.s.max_listen_s)
        return Endpoint.NO_SPEECH if self.elapsed_s >= limit - 1e-9 else Endpoint.CONTINUE
