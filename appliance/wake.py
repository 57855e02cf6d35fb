"""Wake word: openWakeWord models scoring each 80 ms frame, and the decision to wake.

Three engines run the same openWakeWord models: ``onnx`` (the default: our own streaming
features on onnxruntime, which Piper and the VAD load anyway; one thread), ``pyopen-wakeword`` (a
bundled TFLite runtime) and ``openwakeword`` (the reference library; imports scipy and
scikit-learn). ``micro`` runs microWakeWord's own models instead (:mod:`appliance.wake_micro`).
:class:`WakeDecider` is the pure decision: per-model thresholds, consecutive frames
and a refractory period, on audio-stream time (no clock).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from appliance import npm_models
from appliance.audio.format import FRAME_BYTES, FRAME_SAMPLES
from appliance.errors import ModelError
from appliance.models import (
    OWW_LICENCE,
    ModelInfo,
    is_path,
    one_line,
    onnx_errors,
    onnx_reason,
    onnx_session,
    package_dir,
    probe_tflite,
)
from appliance.settings import WakeModelSettings, WakeSettings
from appliance.wake_micro import MicroWakeEngine, micro_model_info
from appliance.wake_stream import (
    MEL_ROWS_PER_FRAME,
    OFFSET,
    SCALE,
    StreamingError,
    StreamingModel,
    streaming_model,
)

_LOGGER = logging.getLogger(__name__)

BUILTIN_WAKE_WORDS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "okay_nabu")
# The reference library's file names (models in the wyoming-openwakeword wheel).
_OWW_FILES = {"okay_nabu": "ok_nabu_v0.1"} | {n: f"{n}_v0.1" for n in BUILTIN_WAKE_WORDS[:4]}
_PYOPEN_FILES = {n: n for n in BUILTIN_WAKE_WORDS}  # pyopen-wakeword's


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


@runtime_checkable
class PairedWakeEngine(WakeEngine, Protocol):
    def scores_pair(self, first: bytes, second: bytes
                    ) -> tuple[dict[str, float], dict[str, float]]:
        """Two frames in one run: the scores two calls of ``scores`` give, for less CPU."""


# A frame may wait for the next one (to be scored as a pair) once CALM_FRAMES frames in a row
# scored below CALM_SHARE of their threshold. The frame before the first one over it scored
# 0.04-0.50 (86 of 87 at least 0.05) in 11 renders of "Hey Jarvis" by three engines at 8
# alignments (threshold 0.5); one of the many-voice benchmark's renders dips on the way up
# (0.06, 0.33, 0.02, 0.88), hence two frames.
CALM_SHARE = 0.1
CALM_FRAMES = 2


def calm(scores: dict[str, float], thresholds: dict[str, float]) -> bool:
    """Nothing in ``scores`` is near its threshold: the next frame may wait to be paired."""
    return all(score < CALM_SHARE * thresholds[name] for name, score in scores.items())


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


def _model_path(ref: str, builtins: dict[str, Path], setting: str, suffix: str,
                hint: str = "") -> Path:
    """A built-in wake word's file (``builtins``: name -> file) or a local path."""
    if is_path(ref):
        path = Path(ref).expanduser()
    elif ref in builtins:
        path = builtins[ref]
    else:
        raise ModelError(
            f"{setting} = {ref!r} is not a built-in wake word or a path{hint}",
            fix=f"use one of {', '.join(builtins)} or the path of a {suffix} model",
        )
    if not path.is_file():
        raise ModelError(f"{setting}: {path} does not exist", fix="check the path")
    return path


def _builtin_or_path(ref: str, models_dir: Path, stems: dict[str, str], setting: str) -> Path:
    """A .tflite model (``stems``: the package's file names for the built-in wake words)."""
    builtins = {name: models_dir / f"{stem}.tflite" for name, stem in stems.items()}
    return _model_path(ref, builtins, setting, ".tflite")


_ONNX_FIX = "reinstall the models (python -m appliance.npm_models), or check the file"
EMBEDDING_SIZE = 96  # values per embedding: a wake word model scores a window of them


_WAKE_FIX = ("point it at an openWakeWord wake word model, or use a built-in wake word "
             f"({', '.join(BUILTIN_WAKE_WORDS)})")


def _not_wake_model(path: Path, setting: str, why: str) -> ModelError:
    return ModelError(f"{setting}: {path} is not an openWakeWord wake word model: {why}",
                      fix=_WAKE_FIX)


def _window(shapes: list[list[Any]], scores: int, path: Path, setting: str) -> int:
    """The window (embeddings per score) of a wake word model that reads ``shapes`` and gives
    ``scores`` values: one [1, N, 96] window in, one score out, as openWakeWord's have."""
    shape = [int(d) if isinstance(d, int | np.integer) else d for d in shapes[0]] if shapes else []
    if len(shapes) != 1 or len(shape) != 3 or shape[2] != EMBEDDING_SIZE or not (
            isinstance(shape[1], int) and shape[1] > 0):
        raise _not_wake_model(path, setting, f"it reads {shapes}, not one window of embeddings "
                              f"[1, N, {EMBEDDING_SIZE}]")
    if scores != 1:
        raise _not_wake_model(path, setting, f"it gives {scores} values, not one score")
    return int(shape[1])


def _wake_session(path: Path, setting: str) -> tuple[Any, int]:
    """An ONNX wake word model, tried once on silence, and its window."""
    session = onnx_session(path, setting, _WAKE_FIX)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise _not_wake_model(path, setting, f"it has {len(inputs)} inputs and {len(outputs)} "
                              "outputs, not one of each")
    if inputs[0].type != "tensor(float)":
        raise _not_wake_model(path, setting, f"it reads {inputs[0].type}, not floats")
    window = _window([list(i.shape) for i in inputs], 1, path, setting)
    try:
        out = session.run(None, {inputs[0].name: np.zeros((1, window, EMBEDDING_SIZE),
                                                          np.float32)})[0]
    except onnx_errors() as err:
        raise _not_wake_model(path, setting, onnx_reason(err)) from err
    _window([[1, window, EMBEDDING_SIZE]], np.asarray(out).size, path, setting)
    return session, window


# What each engine's TFLite runtime makes of a model: [input shapes, output values] or an error.
_TFLITE_PROBES = {
    "pyopen-wakeword": """import json, sys
try:
    from pyopen_wakeword import OpenWakeWord
    m = OpenWakeWord.from_model(sys.argv[1])
    dims = range(m.lib.TfLiteTensorNumDims(m.input_tensor))
    out = [[[m.lib.TfLiteTensorDim(m.input_tensor, d) for d in dims]],
           m.lib.TfLiteTensorByteSize(m.output_tensor) // 4]
except Exception as err:
    out = " ".join(str(err).split())
print(json.dumps(out))""",
    "openwakeword": """import json, sys
try:
    import numpy as np, tflite_runtime.interpreter as tflite
    i = tflite.Interpreter(model_path=sys.argv[1])
    i.allocate_tensors()
    out = [[[int(n) for n in d["shape"]] for d in i.get_input_details()],
           int(np.prod(i.get_output_details()[0]["shape"]))]
except Exception as err:
    out = " ".join(str(err).split())
print(json.dumps(out))""",
}


def _probe_tflite(engine: str, path: Path, setting: str) -> Path:
    """A model file of the user's is opened by the engine's TFLite runtime in a child process
    first: on a damaged file the runtime crashes the process instead of raising."""
    found = probe_tflite(_TFLITE_PROBES[engine], path, path,
                         lambda why: _not_wake_model(path, setting, why))
    _window(found[0], found[1], path, setting)
    return path


class OnnxWakeEngine:
    """openWakeWord's three models on onnxruntime, streamed one 80 ms frame at a time.

    Per frame: a melspectrogram of the frame (plus 3 hops of context: 8 new rows of 32 mel
    bands), one embedding (96 values) of the last 76 mel rows, and each wake model on its last
    16 embeddings. The first two run as one streamed model (:mod:`appliance.wake_stream`): only
    the frame's own rows of the embedding model are computed, the rest of the window's are
    carried over as contexts. The state starts as silence (mel rows of ones), so the first
    frame after a reset already scores sensibly.
    """

    MEL_CONTEXT = 480  # samples before the frame that its melspectrogram needs
    MEL_ROWS = 76  # melspectrogram rows per embedding

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        mdir = npm_models.installed_dir()
        stream = _streaming_model(mdir, self.MEL_CONTEXT + FRAME_SAMPLES)
        self._stream = onnx_session(mdir / "embedding_model.onnx", "wake.engine", _ONNX_FIX,
                                    model=stream.model)
        # the same model two frames a run, on the same contexts (:meth:`scores_pair`)
        self._pair = onnx_session(mdir / "embedding_model.onnx", "wake.engine", _ONNX_FIX,
                                  model=_streaming_model(mdir, self.MEL_CONTEXT + FRAME_SAMPLES,
                                                         2).model)
        self._audio_in, self._context_names = stream.audio_input, [n for n, _ in stream.contexts]
        loaded = [_wake_session(_onnx_model_path(m.model, mdir, f"wake.models[{i}].model"),
                                f"wake.models[{i}].model") for i, m in enumerate(models)]
        self._wake = [session for session, _ in loaded]
        self._windows = [window for _, window in loaded]
        self._wake_in = [w.get_inputs()[0].name for w in self._wake]
        self.names = tuple(model_name(m.model) for m in models)
        self._silence_contexts, self._silence = self._after_silence(stream)
        self.reset()

    def _after_silence(self, stream: StreamingModel
                       ) -> tuple[list[Any], npt.NDArray[np.float32]]:
        """The contexts after a window (and more) of mel rows of ones, and its embedding."""
        contexts: list[Any] = [np.zeros(shape, np.float32) for _, shape in stream.contexts]
        ones = {self._audio_in: np.zeros((1, self.MEL_CONTEXT + FRAME_SAMPLES), np.float32),
                SCALE: np.array(0, np.float32), OFFSET: np.array(1, np.float32)}  # mel rows of ones
        for _ in range(-(-self.MEL_ROWS // MEL_ROWS_PER_FRAME) + 1):
            embedding, *contexts = self._stream.run(None, ones | dict(zip(
                self._context_names, contexts, strict=True)))
        return contexts, np.asarray(embedding, np.float32).reshape(1, -1)

    def reset(self) -> None:
        # new buffers, not cleared ones: a frame being scored meanwhile keeps its own
        self._audio = np.zeros((1, self.MEL_CONTEXT + FRAME_SAMPLES), np.float32)
        self._feed = {self._audio_in: self._audio, SCALE: np.array(1, np.float32),
                      OFFSET: np.array(2, np.float32)} | dict(zip(self._context_names,
                                                         self._silence_contexts, strict=True))
        self._embeddings = np.repeat(self._silence, max(self._windows), axis=0)

    def scores(self, frame: bytes) -> dict[str, float]:
        audio, feed = self._audio, self._feed
        audio[0, :-FRAME_SAMPLES] = audio[0, FRAME_SAMPLES:]
        audio[0, -FRAME_SAMPLES:] = np.frombuffer(frame, dtype=np.int16)
        embedding, *contexts = self._stream.run(None, feed)
        feed.update(zip(self._context_names, contexts, strict=True))
        return self._score(embedding)

    def scores_pair(self, first: bytes, second: bytes
                    ) -> tuple[dict[str, float], dict[str, float]]:
        """Two frames through the two-frame model: the same scores as two :meth:`scores`
        (``tests/core/test_wake_engine.py``), for about 30 % less CPU when frames come at a
        microphone's pace (2.2 -> 1.6 ms a frame here: much of a run's cost is the model gone
        cold in the 80 ms between two frames)."""
        audio, feed = self._audio, self._feed
        both = np.empty((2, audio.shape[1]), np.float32)  # each frame after its context
        both[0, : -FRAME_SAMPLES] = audio[0, FRAME_SAMPLES:]
        both[0, -FRAME_SAMPLES:] = np.frombuffer(first, dtype=np.int16)
        both[1, : -FRAME_SAMPLES] = both[0, FRAME_SAMPLES:]
        both[1, -FRAME_SAMPLES:] = np.frombuffer(second, dtype=np.int16)
        embeddings, *contexts = self._pair.run(None, feed | {self._audio_in: both})
        feed.update(zip(self._context_names, contexts, strict=True))
        audio[0] = both[1]
        pair = np.asarray(embeddings)
        return self._score(pair[0]), self._score(pair[1])

    def _score(self, embedding: Any) -> dict[str, float]:
        """Each wake model's score once ``embedding`` is the newest of the window."""
        embeddings = self._embeddings
        embeddings[:-1] = embeddings[1:]
        embeddings[-1] = np.asarray(embedding).reshape(-1)
        out = {}
        for name, session, inp, window in zip(self.names, self._wake, self._wake_in,
                                              self._windows, strict=True):
            prob = session.run(None, {inp: embeddings[None, -window:]})[0]
            out[name] = float(np.asarray(prob).reshape(-1)[0])
        return out


def _streaming_model(mdir: Path, audio_samples: int, frames: int = 1) -> StreamingModel:
    """openWakeWord's melspectrogram and embedding models as one streamed model."""
    paths = mdir / "embedding_model.onnx", mdir / "melspectrogram.onnx"
    try:
        return streaming_model(paths[0].read_bytes(), paths[1].read_bytes(), audio_samples,
                               frames)
    except (OSError, StreamingError, IndexError, KeyError) as err:
        raise ModelError(f"wake.engine: {paths[0]} and {paths[1]} are not openWakeWord's "
                         f"embedding and melspectrogram models: {one_line(err)}",
                         fix=_ONNX_FIX) from err


def _onnx_model_path(ref: str, models_dir: Path, setting: str) -> Path:
    builtins = {name: models_dir / f"{stem}.onnx" for name, stem in npm_models.WAKE_WORDS.items()}
    hint = (" for the onnx engine (okay_nabu has no ONNX model: use engine 'pyopen-wakeword')"
            if ref in BUILTIN_WAKE_WORDS else "")
    return _model_path(ref, builtins, setting, ".onnx", hint)


class PyOpenWakeWordEngine:
    """openWakeWord models on pyopen-wakeword's bundled TFLite runtime."""

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        root = package_dir("pyopen_wakeword", "pyopen-wakeword==1.1.0", "wake.engine")
        from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

        try:
            self._features = OpenWakeWordFeatures.from_builtin()
        except (OSError, ValueError, RuntimeError) as err:
            raise ModelError(f"wake.engine: pyopen-wakeword's models failed to load: "
                             f"{one_line(err)}",
                             fix="pip install --force-reinstall pyopen-wakeword==1.1.0") from err
        self._models = []
        for i, m in enumerate(models):
            setting = f"wake.models[{i}].model"
            path = _builtin_or_path(m.model, root / "models", _PYOPEN_FILES, setting)
            if is_path(m.model):
                _probe_tflite("pyopen-wakeword", path, setting)
            self._models.append(OpenWakeWord.from_model(path))
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


def python_version() -> tuple[int, int]:
    return sys.version_info.major, sys.version_info.minor


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def engine_unavailable(engine: str) -> ModelError | None:
    """Why ``engine`` cannot run with this Python (None: it can). ``openwakeword`` runs its models
    on tflite-runtime 2.14, which has wheels for Python 3.11 only."""
    if engine != "openwakeword":
        return None
    version = python_version()
    if version >= (3, 12):
        return ModelError(
            f"wake.engine = 'openwakeword' needs Python 3.11, not {version[0]}.{version[1]}: "
            "its TFLite runtime (tflite-runtime 2.14) has no wheel for Python 3.12 or later",
            fix="set wake.engine = 'onnx' (the default) or 'pyopen-wakeword': the same models",
        )
    if not installed("openwakeword", "tflite_runtime"):
        return ModelError(
            "wake.engine = 'openwakeword' but the openwakeword library is not installed",
            fix="pip install 'appliance[openwakeword]', or set wake.engine = 'pyopen-wakeword'",
        )
    return None


class OpenWakeWordEngine:
    """The reference openWakeWord library (``pip install appliance[openwakeword]``)."""

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        if (problem := engine_unavailable("openwakeword")) is not None:
            raise problem
        from openwakeword.model import Model

        root = package_dir("wyoming_openwakeword", "wyoming-openwakeword==1.8.2", "wake.engine")
        mdir = root / "models"
        paths = []
        for i, m in enumerate(models):
            path = _builtin_or_path(m.model, mdir, _OWW_FILES, f"wake.models[{i}].model")
            if is_path(m.model):
                _probe_tflite("openwakeword", path, f"wake.models[{i}].model")
            paths.append(str(path))
        try:
            self._model = Model(
                wakeword_models=paths,
                melspec_model_path=str(mdir / "melspectrogram.tflite"),
                embedding_model_path=str(mdir / "embedding_model.tflite"),
                inference_framework="tflite",
            )
        except (OSError, ValueError, RuntimeError) as err:
            raise ModelError(f"wake.models: one of {', '.join(paths)} failed to load: "
                             f"{one_line(err)}",
                             fix=_WAKE_FIX) from err
        self._keys = [Path(p).stem for p in paths]
        self.names = tuple(model_name(m.model) for m in models)

    def scores(self, frame: bytes) -> dict[str, float]:
        pred = self._model.predict(np.frombuffer(frame, dtype=np.int16))
        return {n: float(pred.get(k, 0.0)) for n, k in zip(self.names, self._keys, strict=True)}

    def reset(self) -> None:
        self._model.reset()


class WakeWord:
    """Engine + decider: ``process(frame, t_s)`` returns a :class:`Detection` or None.

    With an engine that scores two frames in one run (``onnx``), a frame waits for the next
    while the scores are :func:`calm`, and the two are scored together: the same scores and
    detections, a detection at most one frame later (only when two calm frames are followed
    by one over the threshold), for about a fifth less of the daemon's CPU.
    """

    def __init__(self, settings: WakeSettings, engine: WakeEngine | None = None) -> None:
        """``engine``: one already made (by default, the one ``settings.engine`` names)."""
        engines: dict[str, Callable[[Sequence[WakeModelSettings]], WakeEngine]] = {
            "onnx": OnnxWakeEngine, "pyopen-wakeword": PyOpenWakeWordEngine,
            "openwakeword": OpenWakeWordEngine, "micro": MicroWakeEngine}
        self.engine = engine if engine is not None else engines[settings.engine](settings.models)
        thresholds = {model_name(m.model): m.threshold for m in settings.models}
        self.decider = WakeDecider(thresholds, settings.trigger_frames, settings.refractory_s)
        self.enabled = True
        self.active: str | None = None  # None: every model can wake it; a name: only that one
        self._held: tuple[bytes, float] | None = None  # a frame waiting for the next
        self._calm_frames = CALM_FRAMES  # calm frames in a row (a reset is silence)

    @property
    def names(self) -> tuple[str, ...]:
        return self.engine.names

    def process(self, frame: bytes, t_s: float) -> Detection | None:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"wake word frames are {FRAME_BYTES} bytes, not {len(frame)}")
        engine, held = self.engine, self._held
        self._held = None
        if held is not None:
            if isinstance(engine, PairedWakeEngine):
                first, second = engine.scores_pair(held[0], frame)
            else:  # (the engine was swapped meanwhile)
                first, second = engine.scores(held[0]), engine.scores(frame)
            detection = self._decide(first, held[1]) or self._decide(second, t_s)
        elif self.hold(frame, t_s):
            return None
        else:
            detection = self._decide(engine.scores(frame), t_s)
        if detection is not None:
            self.reset()
        return detection if self.enabled else None

    def hold(self, frame: bytes, t_s: float) -> bool:
        """Keep ``frame`` to score with the next one (True), when the engine scores pairs, no
        frame is waiting and the last ``CALM_FRAMES`` frames were calm."""
        if self._held is not None or self._calm_frames < CALM_FRAMES or \
                len(frame) != FRAME_BYTES or \
                not isinstance(self.engine, PairedWakeEngine):
            return False
        self._held = frame, t_s
        return True

    def _decide(self, scores: dict[str, float], t_s: float) -> Detection | None:
        if self.active is not None:
            scores = {self.active: scores[self.active]}
        self._calm_frames = self._calm_frames + 1 if calm(scores, self.decider.thresholds) else 0
        return self.decider.update(scores, t_s)

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
        self._held, self._calm_frames = None, CALM_FRAMES


def wake_model_info(settings: WakeSettings) -> list[ModelInfo]:
    """Where each wake model is and its licence (for doctor and the README)."""
    if settings.engine == "micro":
        return micro_model_info(settings.models)
    if settings.engine == "onnx":
        mdir = npm_models.installed_dir()
        return [ModelInfo(_onnx_model_path(m.model, mdir, f"wake.models[{i}].model"),
                          OWW_LICENCE if not is_path(m.model) else "see the model's",
                          npm_models.PIN if not is_path(m.model) else "local path")
                for i, m in enumerate(settings.models)]
    pkg, pip = (("pyopen_wakeword", "pyopen-wakeword==1.1.0")
                if settings.engine == "pyopen-wakeword"
                else ("wyoming_openwakeword", "wyoming-openwakeword==1.8.2"))
    mdir = package_dir(pkg, pip, "wake.engine") / "models"
    out = []
    for i, m in enumerate(settings.models):
        stems = _PYOPEN_FILES if pkg == "pyopen_wakeword" else _OWW_FILES
        path = _builtin_or_path(m.model, mdir, stems, f"wake.models[{i}].model")
        out.append(ModelInfo(path, OWW_LICENCE if not is_path(m.model) else "see the model's",
                             f"package {pip}" if not is_path(m.model) else "local path"))
    return out
