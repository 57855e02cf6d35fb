"""Wake word on microWakeWord (``wake.engine = "micro"``): pymicro-wakeword's models on the TFLite
runtime bundled in its wheel, one small model per wake word instead of openWakeWord's three.

Per 80 ms frame: microWakeWord's own features (40 values every 10 ms), each model run on them
three at a time, its probabilities averaged over a sliding window (``micro.sliding_window_size``,
5: the last 150 ms; 0.0 while it fills). A frame's score is the highest of the averages computed
during it.

One threshold scale for every engine: ``[[wake.models]] threshold`` (0.01-0.99, lower is more
sensitive; also set at run time over MQTT and from Home Assistant) means the same here. Each
model ships the cutoff it was tuned for (``micro.probability_cutoff`` in its .json: 0.97 for
hey_jarvis), and the score maps that cutoff to 0.5, linearly on each side: a probability
p < cutoff scores 0.5 * p / cutoff, p >= cutoff scores 0.5 + 0.5 * (p - cutoff) / (1 - cutoff).
So threshold 0.5 is the model's recommended cutoff. The runtime gives probabilities in steps of
1/256 (at most 255/256), so the top of the scale is never reached: hey_jarvis scores at most 0.93.

The models (hey_jarvis, alexa, hey_mycroft, okay_nabu; no hey_rhasspy) are Apache-2.0, in the
wheel. A model of one's own is the path of its .json (with its .tflite next to it); it is tried
in a child process first, as TFLite crashes the process on a damaged file.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.errors import ModelError
from appliance.models import MWW_LICENCE, ModelInfo, is_path, one_line, probe_tflite
from appliance.settings import WakeModelSettings

if TYPE_CHECKING:  # imported when an engine is made: not installed is a ModelError, not this
    from pymicro_wakeword import MicroWakeWord

MICRO_WAKE_WORDS = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")
FEATURES = 40  # values per 10 ms step: what each model reads
_PIP = "pymicro-wakeword"
_FIX = (f"point it at a microWakeWord model's .json (its .tflite next to it), or use a built-in "
        f"wake word ({', '.join(MICRO_WAKE_WORDS)})")


@dataclass(frozen=True)
class MicroModel:
    """A microWakeWord model: its .json, the .tflite it names, the cutoff it was tuned for."""

    config: Path
    tflite: Path
    cutoff: float


def micro_score(prob: float, cutoff: float) -> float:
    """A probability on the threshold scale every engine shares: ``cutoff`` -> 0.5, 0 -> 0,
    1 -> 1, linear in between on each side."""
    p = min(1.0, max(0.0, prob))
    if p < cutoff:
        return 0.5 * p / cutoff
    return 0.5 + 0.5 * (p - cutoff) / (1 - cutoff)


def package_root() -> Path:
    """pymicro-wakeword's directory (its models are in ``models/``)."""
    fix = (f"pip install {_PIP} (pinned in requirements/runtime.txt), or set wake.engine = "
           "'onnx' (the default)")
    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("wake.engine = 'micro' but pymicro-wakeword is not installed", fix=fix)
    try:
        importlib.import_module("pymicro_wakeword")
    except ImportError as err:  # pymicro-features missing or broken, say
        raise ModelError(f"wake.engine = 'micro' but pymicro-wakeword does not import: "
                         f"{one_line(err)}", fix=fix) from err
    return Path(next(iter(spec.submodule_search_locations)))


def _not_micro(path: Path, setting: str, why: str) -> ModelError:
    return ModelError(f"{setting}: {path} is not a microWakeWord model: {why}", fix=_FIX)


def _config_path(ref: str, root: Path, setting: str) -> Path:
    """The .json of a built-in wake word, or a path of one's own."""
    if not is_path(ref):
        if ref not in MICRO_WAKE_WORDS:
            why = ("has no microWakeWord model" if ref == "hey_rhasspy"
                   else "is not a built-in wake word or a path")
            raise ModelError(f"{setting} = {ref!r} {why} (wake.engine = 'micro')",
                             fix=f"use one of {', '.join(MICRO_WAKE_WORDS)} or the path of a "
                             "microWakeWord model's .json (or another wake.engine: 'onnx' "
                             "has hey_rhasspy)")
        return root / "models" / f"{ref}.json"
    path = Path(ref).expanduser()
    if not path.is_file():
        raise ModelError(f"{setting}: {path} does not exist", fix="check the path")
    if path.suffix == ".tflite":
        raise _not_micro(path, setting, "the micro engine reads the model's .json (its cutoff "
                         "and window), not the .tflite")
    return path


def _read_json(path: Path, setting: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _not_micro(path, setting, f"it is not JSON: {one_line(err)}") from err
    if not isinstance(config, dict) or not isinstance(config.get("micro"), dict) or \
            not isinstance(config.get("model"), str):
        raise _not_micro(path, setting, 'it has no "model" file and "micro" settings')
    return config


def read_config(path: Path, setting: str) -> MicroModel:
    """A microWakeWord .json: its model file and the settings the score needs, checked."""
    config = _read_json(path, setting)
    micro = config["micro"]
    cutoff, window = micro.get("probability_cutoff"), micro.get("sliding_window_size")
    if type(cutoff) not in (int, float) or not 0 < cutoff < 1:
        raise _not_micro(path, setting, f"micro.probability_cutoff is {cutoff!r}, not a number "
                         "between 0 and 1")
    if type(window) is not int or window < 1:
        raise _not_micro(path, setting, f"micro.sliding_window_size is {window!r}, not a "
                         "whole number of 1 or more")
    tflite = path.parent / config["model"]
    if not tflite.is_file():
        raise ModelError(f"{setting}: {tflite} (the model {path} names) does not exist",
                         fix='put the .tflite next to its .json, named as its "model" says')
    return MicroModel(path, tflite, float(cutoff))


# What pymicro-wakeword's runtime makes of a model: [input shape, output values] or an error.
_PROBE = f"""import json, sys
try:
    import numpy as np
    from pymicro_wakeword import MicroWakeWord
    m = MicroWakeWord.from_config(sys.argv[1])
    dims = [m.lib.TfLiteTensorDim(m.input_tensor, d)
            for d in range(m.lib.TfLiteTensorNumDims(m.input_tensor))]
    out = [dims, m.lib.TfLiteTensorByteSize(m.output_tensor)]
    if len(dims) == 3 and dims[2] == {FEATURES}:
        for _ in range(m.stride):
            m.process_streaming_prob(np.zeros((1, 1, {FEATURES}), np.float32))
except Exception as err:
    out = " ".join(str(err).split()) or type(err).__name__
print(json.dumps(out))"""


def probe(model: MicroModel, setting: str) -> None:
    """A model of the user's is loaded and run once in a child process first: on a damaged
    file the runtime crashes the process instead of raising."""
    path = model.tflite
    dims, values = probe_tflite(_PROBE, path, model.config,
                                lambda why: _not_micro(path, setting, why))
    if len(dims) != 3 or dims[0] != 1 or dims[1] < 1 or dims[2] != FEATURES or values != 1:
        raise _not_micro(path, setting, f"it reads {dims} and gives {values} values, not "
                         f"[1, N, {FEATURES}] features and one probability")


def _load(model: MicroModel, setting: str) -> MicroWakeWord:
    from pymicro_wakeword import MicroWakeWord

    try:
        return MicroWakeWord.from_config(model.config)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"{setting}: {model.config} failed to load: {one_line(err)}",
                         fix=f"pip install --force-reinstall {_PIP}, or check the file") from err


def resolve(models: Sequence[WakeModelSettings]) -> list[MicroModel]:
    root = package_root()
    return [read_config(_config_path(m.model, root, f"wake.models[{i}].model"),
                        f"wake.models[{i}].model") for i, m in enumerate(models)]


class MicroWakeEngine:
    """microWakeWord models on pymicro-wakeword, scored on the shared threshold scale."""

    def __init__(self, models: Sequence[WakeModelSettings]) -> None:
        self._models = resolve(models)
        for i, (m, model) in enumerate(zip(models, self._models, strict=True)):
            if is_path(m.model):
                probe(model, f"wake.models[{i}].model")
        self._settings = [f"wake.models[{i}].model" for i in range(len(models))]
        self.names = tuple(Path(m.model).stem if is_path(m.model) else m.model for m in models)
        self.reset()

    def reset(self) -> None:
        # New runtimes, not reset ones (a model keeps its stream's state inside, so resetting
        # means loading it again anyway): a frame being scored meanwhile keeps its own.
        from pymicro_wakeword import MicroWakeWordFeatures

        self._state = (MicroWakeWordFeatures(),
                       [_load(m, s) for m, s in zip(self._models, self._settings, strict=True)])

    def scores(self, frame: bytes) -> dict[str, float]:
        features, runtimes = self._state
        probs = [0.0] * len(runtimes)
        for step in features.process_streaming(frame):
            for k, runtime in enumerate(runtimes):
                prob = runtime.process_streaming_prob(step)
                if prob is not None:
                    probs[k] = max(probs[k], float(prob))
        return {name: micro_score(p, m.cutoff)
                for name, p, m in zip(self.names, probs, self._models, strict=True)}


def micro_model_info(models: Sequence[WakeModelSettings]) -> list[ModelInfo]:
    """Where each model is and its licence (for doctor)."""
    resolved = resolve(models)
    source = f"package {_PIP}=={importlib.metadata.version(_PIP)}"
    return [ModelInfo(m.tflite, "see the model's" if is_path(s.model) else MWW_LICENCE,
                      "local path" if is_path(s.model) else source)
            for s, m in zip(models, resolved, strict=True)]
