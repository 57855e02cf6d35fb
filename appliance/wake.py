"""Wake word: openWakeWord models scoring each 80 ms frame, and the decision to wake.

Two engines run the same openWakeWord models: ``pyopen-wakeword`` (a bundled TFLite runtime, about
50 MB: fits a Pi Zero 2 W) and ``openwakeword`` (the reference library; imports scipy and
scikit-learn). :class:`WakeDecider` is the pure decision: per-model thresholds, consecutive frames
and a refractory period, on audio-stream time (no clock).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from appliance.audio.format import FRAME_BYTES
from appliance.errors import ModelError
from appliance.models import OWW_LICENCE, ModelInfo, is_path, package_dir
from appliance.settings import WakeModelSettings, WakeSettings

_LOGGER = logging.getLogger(__name__)

BUILTIN_WAKE_WORDS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "okay_nabu")
# The reference library's file names (models in the wyoming-openwakeword wheel).
_OWW_FILES = {"okay_nabu": "ok_nabu_v0.1"} | {n: f"{n}_v0.1" for n in BUILTIN_WAKE_WORDS[:4]}


@dataclass(frozen=True)
class Detection:
    wake_word: str
    score: float


class WakeEngine(Protocol):
    names: tuple[str, ...]

    def scores(self, frame: bytes) -> dict[str, float]:
        """The highest score of each model for one 80 ms frame."""

    def reset(self) -> None:
        """Forget the audio heard so far (after a detection, or after listening)."""


class WakeDecider:
    """Fires once per utterance: ``trigger_frames`` consecutive frames over the model's threshold,
    then nothing for ``refractory_s`` of audio."""

    def __init__(self, thresholds: dict[str, float], trigger_frames: int, refractory_s: float):
        self.thresholds = dict(thresholds)
        self.trigger_frames = trigger_frames
        self.refractory_s = refractory_s
        self._above = dict.fromkeys(thresholds, 0)
        self._quiet_until = float("-inf")

    def update(self, scores: dict[str, float], t_s: float) -> Detection | None:
        best: Detection | None = None
        for name, score in scores.items():
            hit = score >= self.thresholds[name]
            self._above[name] = self._above[name] + 1 if hit else 0
            if hit and self._above[name] >= self.trigger_frames and (
                best is None or score > best.score
            ):
                best = Detection(name, score)
        if best is None or t_s < self._quiet_until:
            return None
        self._quiet_until = t_s + self.refractory_s
        self._above = dict.fromkeys(self._above, 0)
        return best


def model_name(ref: str) -> str:
    return Path(ref).stem if is_path(ref) else ref


def _builtin_or_path(ref: str, models_dir: Path, file_stem: str, setting: str) -> Path:
    if is_path(ref):
        path = Path(ref).expanduser()
    elif ref in BUILTIN_WAKE_WORDS:
        path = models_dir / f"{file_stem}.tflite"
    else:
        raise ModelError(
            f"{setting} = {ref!r} is not a built-in wake word or a path",
            fix=f"use one of {', '.join(BUILTIN_WAKE_WORDS)} or the path of a .tflite model",
        )
    if not path.is_file():
        raise ModelError(f"{setting}: {path} does not exist", fix="check the path")
    return path


class PyOpenWakeWordEngine:
    """openWakeWord models on pyopen-wakeword's bundled TFLite runtime."""

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        root = package_dir("pyopen_wakeword", "pyopen-wakeword==1.1.0", "wake.engine")
        try:
            from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

            self._features = OpenWakeWordFeatures.from_builtin()
            self._models = [
                OpenWakeWord.from_model(
                    _builtin_or_path(m.model, root / "models", m.model, f"wake.models[{i}].model")
                )
                for i, m in enumerate(models)
            ]
        except (OSError, ValueError) as err:
            raise ModelError(
                f"wake word model failed to load: {err}",
                fix="reinstall pyopen-wakeword, or check the .tflite file is an openWakeWord model",
            ) from err
        self.names = tuple(model_name(m.model) for m in models)

    def scores(self, frame: bytes) -> dict[str, float]:
        out = dict.fromkeys(self.names, 0.0)
        for features in self._features.process_streaming(frame):
            for name, model in zip(self.names, self._models, strict=True):
                for prob in model.process_streaming(features):
                    out[name] = max(out[name], float(prob))
        return out

    def reset(self) -> None:
        self._features.reset()
        for model in self._models:
            model.reset()


class OpenWakeWordEngine:
    """The reference openWakeWord library (``pip install appliance[openwakeword]``)."""

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        try:
            from openwakeword.model import Model
        except ImportError as err:
            raise ModelError(
                "wake.engine = 'openwakeword' but the openwakeword library is not installed",
                fix="pip install 'appliance[openwakeword]', or set wake.engine = 'pyopen-wakeword'",
            ) from err
        root = package_dir("wyoming_openwakeword", "wyoming-openwakeword==1.8.2", "wake.engine")
        mdir = root / "models"
        paths = [
            str(_builtin_or_path(m.model, mdir, _OWW_FILES.get(m.model, m.model),
                                 f"wake.models[{i}].model"))
            for i, m in enumerate(models)
        ]
        self._model = Model(
            wakeword_models=paths,
            melspec_model_path=str(mdir / "melspectrogram.tflite"),
            embedding_model_path=str(mdir / "embedding_model.tflite"),
            inference_framework="tflite",
        )
        self._keys = [Path(p).stem for p in paths]
        self.names = tuple(model_name(m.model) for m in models)

    def scores(self, frame: bytes) -> dict[str, float]:
        pred = self._model.predict(np.frombuffer(frame, dtype=np.int16))
        return {n: float(pred.get(k, 0.0)) for n, k in zip(self.names, self._keys, strict=True)}

    def reset(self) -> None:
        self._model.reset()


class WakeWord:
    """Engine + decider: ``process(frame, t_s)`` returns a :class:`Detection` or None."""

    def __init__(self, settings: WakeSettings) -> None:
        engine_cls = PyOpenWakeWordEngine if settings.engine == "pyopen-wakeword" else (
            OpenWakeWordEngine)
        self.engine: WakeEngine = engine_cls(settings.models)
        thresholds = {model_name(m.model): m.threshold for m in settings.models}
        self.decider = WakeDecider(thresholds, settings.trigger_frames, settings.refractory_s)
        self.enabled = True
        self.active: str | None = None  # None: every model can wake it; a name: only that one

    @property
    def names(self) -> tuple[str, ...]:
        return self.engine.names

    def process(self, frame: bytes, t_s: float) -> Detection | None:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"wake word frames are {FRAME_BYTES} bytes, not {len(frame)}")
        scores = self.engine.scores(frame)
        if self.active is not None:
            scores = {self.active: scores[self.active]}
        detection = self.decider.update(scores, t_s)
        if detection is not None:
            self.engine.reset()
        return detection if self.enabled else None

    def select(self, name: str) -> None:
        """Only ``name`` wakes the speaker from now on (Home Assistant's wake word select)."""
        if name not in self.names:
            raise ValueError(f"no wake word {name!r}; loaded: {', '.join(self.names)}")
        self.active = name

    @property
    def threshold(self) -> float:
        return self.decider.thresholds[self.active or self.names[0]]

    def set_threshold(self, threshold: float) -> None:
        """Sensitivity of the active wake word (every one, when all are active)."""
        value = min(0.99, max(0.01, threshold))
        for name in [self.active] if self.active else self.names:
            self.decider.thresholds[name] = value

    def reset(self) -> None:
        self.engine.reset()


def wake_model_info(settings: WakeSettings) -> list[ModelInfo]:
    """Where each wake model is and its licence (for doctor and the README)."""
    pkg, pip = (("pyopen_wakeword", "pyopen-wakeword==1.1.0")
                if settings.engine == "pyopen-wakeword"
                else ("wyoming_openwakeword", "wyoming-openwakeword==1.8.2"))
    mdir = package_dir(pkg, pip, "wake.engine") / "models"
    out = []
    for i, m in enumerate(settings.models):
        stem = m.model if pkg == "pyopen_wakeword" else _OWW_FILES.get(m.model, m.model)
        path = _builtin_or_path(m.model, mdir, stem, f"wake.models[{i}].model")
        out.append(ModelInfo(path, OWW_LICENCE if not is_path(m.model) else "see the model's",
                             f"package {pip}" if not is_path(m.model) else "local path"))
    return out
