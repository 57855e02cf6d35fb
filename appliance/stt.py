"""Transcription: faster-whisper (CTranslate2, int8 on the CPU), loaded once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from appliance.audio.format import RATE_HZ, Int16Array, to_float
from appliance.errors import ModelError, SttError
from appliance.models import ModelInfo, cache_dir, whisper_model
from appliance.settings import SttSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    text: str
    audio_s: float


class Transcriber:
    """``transcribe(samples)`` is blocking: call it from an executor thread."""

    def __init__(self, settings: SttSettings) -> None:
        self.settings = settings
        resolved = whisper_model(settings.model)
        self.info = resolved if isinstance(resolved, ModelInfo) else None
        self.initial_prompt: str | None = None
        try:
            from faster_whisper import WhisperModel

            if isinstance(resolved, ModelInfo):
                self._model = WhisperModel(
                    str(resolved.path), device="cpu", compute_type=settings.compute_type,
                    cpu_threads=settings.threads, local_files_only=True,
                )
            else:
                self._model = WhisperModel(
                    resolved, device="cpu", compute_type=settings.compute_type,
                    cpu_threads=settings.threads,
                    download_root=str(cache_dir() / "models" / "hub"),
                )
        except (RuntimeError, ValueError, OSError) as err:
            where = resolved.path if isinstance(resolved, ModelInfo) else f"hub:{resolved}"
            raise ModelError(
                f"stt.model: the Whisper model at {where} failed to load: {err}",
                fix="reinstall the model package, or point stt.model at a CTranslate2 model "
                "directory (hub names need internet)",
            ) from err

    def transcribe(self, samples: Int16Array) -> Transcript:
        audio = to_float(np.asarray(samples, dtype=np.int16))
        try:
            segments, _info = self._model.transcribe(
                audio, language=self.settings.language or None,
                beam_size=self.settings.beam_size, without_timestamps=True,
                condition_on_previous_text=False, vad_filter=False,
                initial_prompt=self.initial_prompt,
            )
            text = " ".join(seg.text.strip() for seg in segments).strip()
        except (RuntimeError, ValueError) as err:
            raise SttError(f"transcription failed: {err}", fix="run with --debug and report it"
                           ) from err
        return Transcript(text, len(audio) / RATE_HZ)
