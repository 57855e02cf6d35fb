"""A broken or wrong model file: one error line naming the setting, the file and the fix; exit 2.

Each case builds its broken file in tmp_path and runs the real entry point on it: ``say`` for
the voice, ``listen`` (which loads every model) for the wake word engines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from appliance import npm_models
from appliance.audio.format import Pcm, write_wav
from appliance.errors import ModelError
from appliance.models import package_dir, piper_voice
from appliance.vad import SileroVad, silero_path

pytestmark = pytest.mark.models

VOICE = piper_voice("en_US-joe-medium").path
VOICE_CONFIG = json.loads(Path(f"{VOICE}.json").read_text())
PYOPEN_MODELS = package_dir("pyopen_wakeword", "pyopen-wakeword", "wake.engine") / "models"
OWW_MODELS = package_dir("wyoming_openwakeword", "wyoming-openwakeword", "wake.engine") / "models"


def appliance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True,
                          text=True, timeout=300)


def assert_one_error(result: subprocess.CompletedProcess[str], start: str,
                     says: str | tuple[str, ...]) -> None:
    """``says``: what the line says (or one of them)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"appliance: error [model_unavailable]: {start}"), lines[0]
    assert any(part in lines[0] for part in ((says,) if isinstance(says, str) else says)), \
        lines[0]
    assert lines[1].startswith("  fix: ") and len(lines[1]) > 20, lines[1]


def refused_here(engine: str, result: subprocess.CompletedProcess[str]) -> bool:
    """True when this Python cannot run ``engine`` and said so in one line: openwakeword's TFLite
    runtime (tflite-runtime 2.14) exists for Python 3.11 only."""
    if engine != "openwakeword" or sys.version_info < (3, 12):
        return False
    assert_one_error(result, "wake.engine = 'openwakeword' needs Python 3.11", "tflite-runtime")
    return True


def garbage(path: Path, size: int = 50_000) -> Path:
    path.write_bytes(np.random.default_rng(16).integers(0, 256, size, np.uint8).tobytes())
    return path


def cut(source: Path, path: Path, size: int) -> Path:
    with source.open("rb") as f:
        path.write_bytes(f.read(size))
    return path


def linked(source: Path, path: Path) -> Path:
    path.symlink_to(source)
    return path


def with_config(path: Path, config: object) -> Path:
    Path(f"{path}.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return path


# Each voice case: (what to build in the folder -> the .onnx path, what the error says).
VOICES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "random bytes": (lambda d: with_config(garbage(d / "v.onnx"), VOICE_CONFIG),
                     "is not a loadable ONNX model: Protobuf parsing failed"),
    "truncated": (lambda d: with_config(cut(VOICE, d / "v.onnx", 1_000_000), VOICE_CONFIG),
                  "is not a loadable ONNX model: Protobuf parsing failed"),
    "empty": (lambda d: with_config(cut(VOICE, d / "v.onnx", 0), VOICE_CONFIG),
              "is not a loadable ONNX model"),
    "no .onnx.json": (lambda d: linked(VOICE, d / "v.onnx"), "v.onnx.json does not exist"),
    ".json not JSON": (lambda d: with_config(linked(VOICE, d / "v.onnx"), '{"audio": '),
                       "v.onnx.json is not readable JSON"),
    ".json not Piper's": (lambda d: with_config(linked(VOICE, d / "v.onnx"), {"name": "x"}),
                          "v.onnx.json is not a Piper voice config (it has no valid "
                          "audio.sample_rate, espeak.voice, phoneme_id_map"),
    ".json a list": (lambda d: with_config(linked(VOICE, d / "v.onnx"), [1, 2]),
                     "is not a Piper voice config (it is not a JSON object)"),
    ".json unknown espeak voice": (
        lambda d: with_config(linked(VOICE, d / "v.onnx"),
                              VOICE_CONFIG | {"espeak": {"voice": "xx-nowhere"}}),
        "v.onnx.json does not work with Piper: RuntimeError: Failed to set voice: xx-nowhere"),
    "the VAD's model": (lambda d: with_config(linked(silero_path(), d / "v.onnx"), VOICE_CONFIG),
                        "v.onnx is not a Piper voice: its inputs are input, h, c"),
    "a wake word model": (
        lambda d: with_config(linked(npm_models.installed_dir() / "hey_jarvis_v0.1.onnx",
                                     d / "v.onnx"), VOICE_CONFIG),
        "v.onnx is not a Piper voice: its inputs are x.1"),
}


@pytest.mark.parametrize("case", VOICES)
def test_a_broken_voice_is_one_error_line(case: str, tmp_path: Path) -> None:
    build, says = VOICES[case]
    voice = build(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(f'[tts]\nvoice = "{voice}"\n')
    result = appliance("say", "--config", str(config), "Hello.", "-o", str(tmp_path / "o.wav"))
    assert_one_error(result, f"tts.voice: {tmp_path}", says)
    assert not (tmp_path / "o.wav").exists()


ONNX_WAKE = npm_models.installed_dir()
# Each wake case: (engine, what to build in the folder -> the model path, what the error says).
# A cut TFLite file is read past its end by the runtime: it crashes, raises its own reason
# ("Tensor 7 specifies out of range buffer ...", seen once), or (seen once in the whole suite)
# loads as a model with an empty input; either way one error line.
CUT_TFLITE = ("TFLite cannot read it", "it reads [[]], not one window of embeddings")
WAKE_MODELS: dict[str, tuple[str, Callable[[Path], Path], str | tuple[str, ...]]] = {
    "onnx: random bytes": ("onnx", lambda d: garbage(d / "w.onnx"),
                           "is not a loadable ONNX model: Protobuf parsing failed"),
    "onnx: truncated": ("onnx", lambda d: cut(ONNX_WAKE / "alexa_v0.1.onnx", d / "w.onnx", 99_000),
                        "is not a loadable ONNX model"),
    "onnx: the VAD's model": ("onnx", lambda d: linked(silero_path(), d / "w.onnx"),
                              "is not an openWakeWord wake word model: it has 3 inputs and 3 "
                              "outputs, not one of each"),
    "onnx: Piper's voice": ("onnx", lambda d: linked(VOICE, d / "w.onnx"),
                            "is not an openWakeWord wake word model: it has 3 inputs"),
    "onnx: the melspectrogram": (
        "onnx", lambda d: linked(ONNX_WAKE / "melspectrogram.onnx", d / "w.onnx"),
        "is not an openWakeWord wake word model: it reads [['batch_size', 'samples']], not one "
        "window of embeddings [1, N, 96]"),
    "onnx: the embedding model": (
        "onnx", lambda d: linked(ONNX_WAKE / "embedding_model.onnx", d / "w.onnx"),
        "not one window of embeddings [1, N, 96]"),
    "pyopen-wakeword: random bytes": ("pyopen-wakeword", lambda d: garbage(d / "w.tflite"),
                                      "it is not a TFLite file"),
    "pyopen-wakeword: an ONNX model": (
        "pyopen-wakeword", lambda d: linked(ONNX_WAKE / "alexa_v0.1.onnx", d / "w.tflite"),
        "it is not a TFLite file"),
    "pyopen-wakeword: truncated": (  # pyopen-wakeword itself crashes the process on this one
        "pyopen-wakeword", lambda d: cut(PYOPEN_MODELS / "alexa.tflite", d / "w.tflite", 20_000),
        CUT_TFLITE),
    "pyopen-wakeword: the melspectrogram": (
        "pyopen-wakeword",
        lambda d: linked(PYOPEN_MODELS / "melspectrogram.tflite", d / "w.tflite"),
        "it reads [[1, 1]], not one window of embeddings"),
    "openwakeword: truncated": (  # so does the reference library's TFLite runtime
        "openwakeword", lambda d: cut(OWW_MODELS / "alexa_v0.1.tflite", d / "w.tflite", 20_000),
        CUT_TFLITE),
    "openwakeword: the embedding model": (
        "openwakeword", lambda d: linked(OWW_MODELS / "embedding_model.tflite", d / "w.tflite"),
        "not one window of embeddings [1, N, 96]"),
}


@pytest.fixture(scope="module")
def silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wav = tmp_path_factory.mktemp("wav") / "silence.wav"
    write_wav(wav, Pcm(np.zeros(16000, np.int16), 16000))
    return wav


@pytest.mark.parametrize("case", WAKE_MODELS)
def test_a_file_that_is_not_a_wake_word_model_is_one_error_line(case: str, silence: Path,
                                                                 tmp_path: Path) -> None:
    engine, build, says = WAKE_MODELS[case]
    model = build(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(f'[intent]\nsentences_dirs = []\n[wake]\nengine = "{engine}"\n'
                      f'[[wake.models]]\nmodel = "{model}"\nthreshold = 0.5\n')
    result = appliance("listen", "--config", str(config), str(silence))
    if not refused_here(engine, result):
        assert_one_error(result, f"wake.models[0].model: {model}", says)


@pytest.mark.parametrize("engine", ["pyopen-wakeword", "openwakeword"])
def test_a_wake_word_model_of_ones_own_still_loads(engine: str, silence: Path,
                                                   tmp_path: Path) -> None:
    """The checks refuse only what is not a wake word model: a copy of a real one loads."""
    source = (PYOPEN_MODELS / "alexa.tflite" if engine == "pyopen-wakeword"
              else OWW_MODELS / "alexa_v0.1.tflite")
    model = linked(source, tmp_path / "my_word.tflite")
    config = tmp_path / "c.toml"
    config.write_text(f'[intent]\nsentences_dirs = []\n[wake]\nengine = "{engine}"\n'
                      f'[[wake.models]]\nmodel = "{model}"\nthreshold = 0.5\n')
    result = appliance("listen", "--config", str(config), str(silence))
    if not refused_here(engine, result):
        assert result.returncode == 0, result.stderr
        assert "error" not in result.stderr


def test_a_broken_vad_model_is_a_model_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """faster-whisper's Silero file, damaged (as a failed upgrade could leave it)."""
    broken = cut(silero_path(), tmp_path / "silero_vad_v6.onnx", 10_000)
    monkeypatch.setattr("appliance.vad.silero_path", lambda: broken)
    with pytest.raises(ModelError) as err:
        SileroVad()
    assert str(broken) in err.value.message
    assert "faster-whisper" in err.value.fix
    assert os.path.getsize(silero_path()) > 10_000  # the real one is untouched
