"""The default wake engine (openWakeWord's ONNX models on onnxruntime) and its model install."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from appliance import npm_models
from appliance.audio.format import FRAME_SAMPLES, Int16Array
from appliance.errors import ModelError
from appliance.models import onnx_session
from appliance.settings import load_settings
from appliance.wake import OnnxWakeEngine, WakeEngine, WakeWord
from appliance.wake_stream import StreamingError, streaming_model
from tests.conftest import Voices
from tests.core.wake_audio import fires_once_on_hey_jarvis, frames, silence


def trace(engine: WakeEngine, samples: Int16Array) -> npt.NDArray[np.float64]:
    return np.array([engine.scores(f)["hey_jarvis"] for f in frames(samples)])


@pytest.fixture(scope="module")
def onnx_engine() -> OnnxWakeEngine:
    return OnnxWakeEngine(load_settings().wake.models)


@pytest.mark.models
def test_default_engine_is_onnx_and_fires_on_the_wake_word(voices: Voices) -> None:
    wake = WakeWord(load_settings().wake)
    assert isinstance(wake.engine, OnnxWakeEngine)
    fires_once_on_hey_jarvis(wake, voices)


@pytest.mark.models
def test_other_speech_and_silence_stay_quiet(onnx_engine: OnnxWakeEngine,
                                             voices: Voices) -> None:
    onnx_engine.reset()
    audio = np.concatenate([silence(1.0), voices.piper_pcm("What time is it? Set a timer for "
                                                           "ten minutes."), silence(1.0)])
    assert trace(onnx_engine, audio).max() < 0.2


@pytest.mark.models
def test_scores_are_the_reference_librarys(onnx_engine: OnnxWakeEngine, voices: Voices) -> None:
    """openwakeword itself (a dev dependency) on the same ONNX files gives the same scores."""
    from openwakeword.model import Model

    where = npm_models.installed_dir()
    reference = Model(wakeword_models=[str(where / "hey_jarvis_v0.1.onnx")],
                      melspec_model_path=str(where / "melspectrogram.onnx"),
                      embedding_model_path=str(where / "embedding_model.onnx"),
                      inference_framework="onnx")
    audio = np.concatenate([silence(2.0), voices.piper_pcm("Hey Jarvis, what time is it?"),
                            silence(1.0)])
    onnx_engine.reset()
    ours = trace(onnx_engine, audio)
    theirs = np.array([reference.predict(np.frombuffer(f, np.int16))["hey_jarvis_v0.1"]
                       for f in frames(audio)])
    assert ours.max() > 0.9
    assert np.abs(ours[5:] - theirs[5:]).max() < 1e-3  # openwakeword zeroes its first 5


@pytest.mark.models
def test_reset_starts_from_silence(onnx_engine: OnnxWakeEngine, voices: Voices) -> None:
    onnx_engine.reset()
    trace(onnx_engine, voices.piper_pcm("Hey Jarvis."))
    onnx_engine.reset()
    after = trace(onnx_engine, silence(2.0))
    assert after.max() < 0.05  # no stale wake word and no start-up junk



def _windowed_embeddings(samples: Int16Array) -> npt.NDArray[np.float32]:
    """openWakeWord's way, unstreamed: each frame's melspectrogram (with 480 samples of context),
    then the embedding model on the whole 76-row window (rows of ones before the audio)."""
    where = npm_models.installed_dir()
    mel_model = onnx_session(where / "melspectrogram.onnx", "test", "")
    embed_model = onnx_session(where / "embedding_model.onnx", "test", "")
    audio = np.concatenate([np.zeros(480, np.float32), samples.astype(np.float32)])
    mels, out = np.ones((76, 32), np.float32), []
    for end in range(480 + FRAME_SAMPLES, len(audio) + 1, FRAME_SAMPLES):
        mel = mel_model.run(None, {"input": audio[None, end - 480 - FRAME_SAMPLES:end]})[0]
        mels = np.concatenate([mels, np.asarray(mel).reshape(-1, 32) / 10 + 2])[-76:]
        out.append(np.asarray(embed_model.run(None, {"input_1": mels[None, :, :, None]})[0]))
    return np.array(out, np.float32).reshape(len(out), -1)


@pytest.mark.models
def test_streamed_embeddings_are_the_whole_windows(onnx_engine: OnnxWakeEngine,
                                                   voices: Voices) -> None:
    """The streamed model computes each frame's rows only; the embeddings are the same as the
    embedding model's on every whole window (float noise aside)."""
    audio = np.concatenate([voices.piper_pcm("Hey Jarvis, set a timer."), silence(0.5)])
    onnx_engine.reset()
    ours = []
    for f in frames(audio):
        onnx_engine.scores(f)
        ours.append(onnx_engine._embeddings[-1].copy())  # the embedding model's output
    theirs = _windowed_embeddings(audio[: len(ours) * FRAME_SAMPLES])
    assert len(ours) == len(theirs) > 20
    assert np.abs(theirs).max() > 1
    assert np.abs(np.array(ours) - theirs).max() < 1e-4


@pytest.mark.models
def test_two_frames_in_a_run_score_as_two_runs(onnx_engine: OnnxWakeEngine,
                                               voices: Voices) -> None:
    """The two-frame model gives exactly the one-frame model's scores, pairs and single frames
    mixed, where silence meets speech too (a melspectrogram over both frames at once would clip
    the quiet one to the loud one's level: 0.05 off at "Hey Jarvis")."""
    audio = np.concatenate([silence(1.0), voices.piper_pcm("Hey Jarvis, what time is it?"),
                            silence(0.5)])
    onnx_engine.reset()
    single = trace(onnx_engine, audio)
    onnx_engine.reset()
    mixed, rest = [], frames(audio)
    while rest:
        if len(rest) % 3 and len(rest) > 1:  # two, two, one, ...
            pair = onnx_engine.scores_pair(rest[0], rest[1])
            mixed += [s["hey_jarvis"] for s in pair]
            rest = rest[2:]
        else:
            mixed.append(onnx_engine.scores(rest[0])["hey_jarvis"])
            rest = rest[1:]
    assert single.max() > 0.9
    assert np.array_equal(np.array(mixed), single)


def test_only_the_embedding_model_is_streamed() -> None:
    """A model that is not a stack of convolutions whose strides make 8 rows is refused."""
    where = npm_models.installed_dir()
    melspec = (where / "melspectrogram.onnx").read_bytes()
    with pytest.raises(StreamingError, match="reshape, layers and a reshape"):
        streaming_model(melspec, melspec, 1760)
    classifier = (where / "hey_jarvis_v0.1.onnx").read_bytes()
    with pytest.raises(StreamingError):
        streaming_model(classifier, melspec, 1760)
    embedding = (where / "embedding_model.onnx").read_bytes()
    with pytest.raises(StreamingError, match="ReduceMax and a Clip"):  # two frames: per frame
        streaming_model(embedding, classifier, 1760, frames=2)

def test_okay_nabu_has_no_onnx_model() -> None:
    settings = load_settings(overrides={"wake": {"models": [{"model": "okay_nabu",
                                                             "threshold": 0.5}]}})
    with pytest.raises(ModelError, match="okay_nabu has no ONNX model") as err:
        OnnxWakeEngine(settings.wake.models)
    assert "pyopen-wakeword" in str(err.value)


def test_missing_onnx_models_name_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(ModelError) as err:
        OnnxWakeEngine(load_settings().wake.models)
    assert str(tmp_path) in err.value.message
    assert "-m appliance.npm_models" in err.value.fix
    assert "pyopen-wakeword" in err.value.fix


def _tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/models/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_install_checks_the_hash_and_unpacks_only_the_models(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = {name: name.encode() * 10 for name in npm_models.FILES}
    data = _tarball({**files, "../../evil.onnx": b"x", "other.onnx": b"y"})
    monkeypatch.setattr(npm_models, "INTEGRITY", _integrity(data))
    where = npm_models.install(data, tmp_path)
    assert where == npm_models.models_dir(tmp_path)
    assert sorted(p.name for p in where.iterdir()) == sorted(npm_models.FILES)
    assert (where / "melspectrogram.onnx").read_bytes() == files["melspectrogram.onnx"]
    assert not (tmp_path / "evil.onnx").exists()
    assert [p.name for p in where.parent.iterdir()] == [where.name]  # no staging left behind


def test_install_refuses_a_tampered_tarball(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    data = _tarball(dict.fromkeys(npm_models.FILES, b"model"))
    monkeypatch.setattr(npm_models, "INTEGRITY", _integrity(data))
    with pytest.raises(ModelError, match="does not match its pinned hash"):
        npm_models.install(data + b"\0", tmp_path)
    assert not npm_models.models_dir(tmp_path).exists()


def test_install_names_a_missing_file_and_keeps_the_old_models(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good = _tarball(dict.fromkeys(npm_models.FILES, b"model"))
    monkeypatch.setattr(npm_models, "INTEGRITY", _integrity(good))
    where = npm_models.install(good, tmp_path)
    bad = _tarball(dict.fromkeys(npm_models.FILES[:-1], b"new"))
    monkeypatch.setattr(npm_models, "INTEGRITY", _integrity(bad))
    with pytest.raises(ModelError, match=npm_models.FILES[-1]):
        npm_models.install(bad, tmp_path)
    assert (where / "melspectrogram.onnx").read_bytes() == b"model"


def test_the_installed_models_are_the_pinned_ones() -> None:
    """What scripts/bootstrap installed is what the tarball with the pinned hash holds."""
    tarball = Path(sys.prefix) / "share" / "appliance" / "npm-cache.tgz"
    data = tarball.read_bytes()
    npm_models.check_integrity(data)
    where = npm_models.installed_dir()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in npm_models.FILES:
            member = tar.extractfile(f"package/models/{name}")
            assert member is not None
            assert (where / name).read_bytes() == member.read(), name
