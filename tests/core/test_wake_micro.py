"""The micro wake engine: microWakeWord's models on pymicro-wakeword, on the shared threshold
scale, and its errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

from appliance.audio.format import FRAME_SAMPLES, RATE_HZ, Int16Array, Pcm, write_wav
from appliance.cli import main
from appliance.errors import ModelError
from appliance.models import MWW_LICENCE
from appliance.settings import WakeModelSettings, load_settings
from appliance.wake import WakeWord, wake_model_info
from appliance.wake_micro import (
    MICRO_WAKE_WORDS,
    MicroWakeEngine,
    micro_score,
    package_root,
    read_config,
)
from tests.conftest import Voices
from tests.core.wake_audio import fires_once_on_hey_jarvis, frames, silence

MODELS = package_root() / "models"


def micro(*names: str) -> tuple[WakeModelSettings, ...]:
    return tuple(WakeModelSettings(model=n, threshold=0.5) for n in names)


def trace(engine: MicroWakeEngine, samples: Int16Array,
          name: str = "hey_jarvis") -> npt.NDArray[np.float64]:
    return np.array([engine.scores(f)[name] for f in frames(samples)])


@pytest.fixture(scope="module")
def jarvis() -> MicroWakeEngine:
    return MicroWakeEngine(micro("hey_jarvis"))


@pytest.mark.models
def test_the_micro_engine_fires_on_the_wake_word(voices: Voices) -> None:
    settings = load_settings(overrides={"wake": {"engine": "micro"}}).wake
    wake = WakeWord(settings)
    assert isinstance(wake.engine, MicroWakeEngine)
    fires_once_on_hey_jarvis(wake, voices)


@pytest.mark.models
def test_other_speech_and_silence_stay_quiet(jarvis: MicroWakeEngine, voices: Voices) -> None:
    jarvis.reset()
    assert trace(jarvis, silence(3.0)).max() < 0.01
    speech = np.concatenate([voices.piper_pcm("What time is it? Set a timer for ten minutes. "
                                              "Hey there, Travis."), silence(1.0)])
    assert trace(jarvis, speech).max() < 0.2


def test_the_models_cutoff_scores_one_half() -> None:
    for cutoff in (0.5, 0.85, 0.97):
        assert micro_score(cutoff, cutoff) == 0.5
        assert micro_score(0.0, cutoff) == 0.0
        assert micro_score(1.0, cutoff) == 1.0
        assert micro_score(cutoff / 2, cutoff) == pytest.approx(0.25)
        assert micro_score((1 + cutoff) / 2, cutoff) == pytest.approx(0.75)
        probs = np.linspace(-0.1, 1.1, 1201)
        scores = [micro_score(float(p), cutoff) for p in probs]
        assert (np.diff(scores[100:-100]) > 0).all()  # monotonic over 0-1
        assert min(scores) == 0.0 and max(scores) == 1.0  # clamped outside 0-1


@pytest.mark.models
def test_a_half_scores_exactly_when_pymicro_wakeword_itself_detects(voices: Voices) -> None:
    """Above 0.5 in a frame = the library's own detection (probability > its cutoff) during it,
    on the same audio, frame by frame."""
    audio = np.concatenate([silence(0.5), voices.piper_pcm("Hey Jarvis. Hello. Hey Jarvis!"),
                            silence(0.5)])
    ours = MicroWakeEngine(micro("hey_jarvis"))
    theirs, features = MicroWakeWord.from_config(MODELS / "hey_jarvis.json"), \
        MicroWakeWordFeatures()

    def detects(frame: bytes) -> bool:
        found = [bool(theirs.process_streaming(x)) for x in features.process_streaming(frame)]
        return any(found)  # every step is fed, not only up to the first detection

    above = [ours.scores(f)["hey_jarvis"] > 0.5 for f in frames(audio)]
    detected = [detects(f) for f in frames(audio)]
    assert above == detected
    assert sum(detected) >= 2


@pytest.mark.models
@pytest.mark.parametrize(("name", "phrase"), [("okay_nabu", "Okay Nabu!"),
                                              ("hey_mycroft", "Hey Mycroft!"),
                                              ("alexa", "Alexa!")])
def test_the_other_builtin_wake_words_load_and_hear_their_phrase(name: str, phrase: str,
                                                                 voices: Voices) -> None:
    engine = MicroWakeEngine(micro(name, "hey_jarvis"))
    assert engine.names == (name, "hey_jarvis")
    audio = np.concatenate([silence(1.0), voices.piper_pcm(phrase), silence(1.0)])
    assert trace(engine, audio, name).max() > 0.5
    engine.reset()
    assert trace(engine, audio, "hey_jarvis").max() < 0.2


@pytest.mark.models
def test_reset_forgets_what_was_heard(jarvis: MicroWakeEngine, voices: Voices) -> None:
    """After reset() the engine scores as a new one does: nothing left of the wake word."""
    wake = voices.piper_pcm("Hey Jarvis.")
    after = np.concatenate([silence(0.3), wake, silence(1.0)])
    jarvis.reset()
    mid = trace(jarvis, wake[: len(wake) * 3 // 4])  # cut inside the wake word
    jarvis.reset()
    again = trace(jarvis, after)
    fresh = trace(MicroWakeEngine(micro("hey_jarvis")), after)
    assert mid.max() < 0.5 < fresh.max()  # cut before its end, it had not fired yet
    np.testing.assert_array_equal(again, fresh)


def test_hey_rhasspy_has_no_micro_model() -> None:
    with pytest.raises(ModelError) as err:
        MicroWakeEngine(micro("hey_jarvis", "hey_rhasspy"))
    assert err.value.message == ("wake.models[1].model = 'hey_rhasspy' has no microWakeWord "
                                 "model (wake.engine = 'micro')")
    for name in MICRO_WAKE_WORDS:
        assert name in err.value.fix
    assert ".json" in err.value.fix and "'onnx'" in err.value.fix


def _copy(d: Path, name: str = "alexa") -> Path:
    shutil.copy(MODELS / f"{name}.tflite", d / f"{name}.tflite")
    shutil.copy(MODELS / f"{name}.json", d / "mine.json")
    return d / "mine.json"


def _edited(d: Path, micro: dict[str, object] | None = None, **top: object) -> Path:
    """A copy of alexa's model whose .json says something else."""
    path = _copy(d)
    config = json.loads(path.read_text())
    config["micro"].update(micro or {})
    path.write_text(json.dumps(config | top))
    return path


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _cut_model(d: Path) -> Path:
    path = _copy(d)
    (d / "alexa.tflite").write_bytes((MODELS / "alexa.tflite").read_bytes()[:20_000])
    return path


def _onnx_as_model(d: Path) -> Path:
    path = _copy(d)
    (d / "alexa.tflite").write_bytes(b"\x08\x07\x12\x04" * 100)
    return path


# Each case: what to build in the folder -> the model path, what the error says.
BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "no such file": (lambda d: d / "nowhere.json", "nowhere.json does not exist"),
    "not JSON": (lambda d: _written(d / "w.json", "{"), "is not JSON"),
    "JSON, not microWakeWord's": (lambda d: _written(d / "w.json", '{"name": "x"}'),
                                  'it has no "model" file and "micro" settings'),
    "a .tflite": (lambda d: _copy(d).with_name("alexa.tflite"), "reads the model's .json"),
    "cutoff out of range": (lambda d: _edited(d, {"probability_cutoff": 1}),
                            "micro.probability_cutoff is 1, not a number between 0 and 1"),
    "no window": (lambda d: _edited(d, {"sliding_window_size": 0}),
                  "micro.sliding_window_size is 0, not a whole number of 1 or more"),
    "its model missing": (lambda d: _edited(d, model="gone.tflite"),
                          "gone.tflite (the model"),
    "its model cut short": (_cut_model, "TFLite cannot read it (damaged or cut?)"),
    "its model not TFLite": (_onnx_as_model, "it is not a TFLite file"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_model_path_is_one_model_error(case: str, tmp_path: Path) -> None:
    build, says = BROKEN[case]
    path = build(tmp_path)
    with pytest.raises(ModelError) as err:
        MicroWakeEngine(micro(str(path)))
    assert err.value.message.startswith(f"wake.models[0].model: {tmp_path}"), err.value.message
    assert says in err.value.message
    assert len(err.value.fix) > 10


def test_a_model_of_ones_own_loads_under_its_file_name(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    engine = MicroWakeEngine(micro(str(path)))
    assert engine.names == ("mine",)
    assert read_config(path, "x").cutoff == json.loads(path.read_text())["micro"][
        "probability_cutoff"]
    assert engine.scores(bytes(FRAME_SAMPLES * 2)) == {"mine": 0.0}


@pytest.mark.models
def test_a_cut_model_is_one_error_line_from_the_entry_point(tmp_path: Path) -> None:
    """The runtime would crash the daemon on it (segmentation fault): the child probe stops it."""
    path = _cut_model(tmp_path)
    wav = tmp_path / "silence.wav"
    write_wav(wav, Pcm(silence(1.0), RATE_HZ))
    config = tmp_path / "c.toml"
    config.write_text(f'[intent]\nsentences_dirs = []\n[wake]\nengine = "micro"\n'
                      f'[[wake.models]]\nmodel = "{path}"\nthreshold = 0.5\n')
    result = subprocess.run([sys.executable, "-m", "appliance", "listen", "--config", str(config),
                             str(wav)], capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines == [f"appliance: error [model_unavailable]: wake.models[0].model: "
                     f"{tmp_path / 'alexa.tflite'} is not a microWakeWord model: TFLite cannot "
                     "read it (damaged or cut?)", lines[1]]
    assert lines[1].startswith("  fix: point it at a microWakeWord model's .json")


def test_config_check_accepts_the_micro_engine(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[wake]\nengine = "micro"\n[[wake.models]]\nmodel = "okay_nabu"\n'
                    "threshold = 0.4\n")
    assert main(["config", "check", str(path)]) == 0
    assert "problem" not in capsys.readouterr().out
    assert load_settings(path).wake.engine == "micro"


def test_the_models_licence_is_the_wheels(tmp_path: Path) -> None:
    settings = load_settings(overrides={"wake": {"engine": "micro", "models": [
        {"model": "okay_nabu", "threshold": 0.5},
        {"model": str(_copy(tmp_path)), "threshold": 0.5}]}}).wake
    builtin, own = wake_model_info(settings)
    assert builtin.path == MODELS / "okay_nabu.tflite"
    assert builtin.licence == MWW_LICENCE and "Apache-2.0" in builtin.licence
    assert builtin.source.startswith("package pymicro-wakeword==2.")
    assert (own.path, own.licence, own.source) == (tmp_path / "alexa.tflite", "see the model's",
                                                   "local path")
