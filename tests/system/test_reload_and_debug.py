"""SIGHUP reload decisions and the debug recordings of utterances."""

from __future__ import annotations

import stat
import wave
from pathlib import Path

import numpy as np

from appliance.settings import load_settings
from appliance.stages import stages_to_rebuild
from appliance.system.debug import save_utterance, saved_utterances
from appliance.system.reload import diff_settings


def test_unchanged_settings_reload_nothing() -> None:
    assert diff_settings(load_settings(), load_settings()) == set()


def test_only_the_changed_sections_are_named() -> None:
    old = load_settings()
    new = load_settings(overrides={"stt": {"threads": 3}, "mqtt": {"host": "broker.lan"}})
    changed = diff_settings(old, new)
    assert changed == {"stt", "mqtt"}
    assert stages_to_rebuild(changed) == {"stt"}


def test_volume_change_needs_no_model_reload() -> None:
    changed = diff_settings(load_settings(),
                            load_settings(overrides={"audio": {"output": {"volume": 10}}}))
    assert changed == {"audio"}
    assert stages_to_rebuild(changed) == set()


def test_a_new_output_device_rebuilds_the_player_and_skills_the_intents() -> None:
    assert stages_to_rebuild({"audio", "audio.output"}) == {"tts"}
    assert stages_to_rebuild({"skills"}) == {"intents"}  # own commands' sentences
    assert stages_to_rebuild({"wake"}) == {"wake", "intents"}  # the wake phrases


def test_wake_model_list_change_is_seen() -> None:
    new = load_settings(overrides={"wake": {"models": [{"model": "alexa", "threshold": 0.5}]}})
    assert diff_settings(load_settings(), new) == {"wake"}


def _pcm(seconds: float, value: int) -> bytes:
    return np.full(int(seconds * 16000), value, dtype="<i2").tobytes()


def test_utterances_are_not_saved_by_default(tmp_path: Path) -> None:
    folder = tmp_path / "utterances"
    settings = load_settings(overrides={"debug": {"dir": str(folder)}})
    assert settings.debug.save_utterances == 0
    save_utterance(settings.debug, _pcm(1, 100), "hello")
    assert not folder.exists()


def test_only_the_newest_utterances_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "utterances"
    settings = load_settings(overrides={"debug": {"save_utterances": 3, "dir": str(folder)}})
    for n in range(1, 6):
        save_utterance(settings.debug, _pcm(0.5, n), f"command {n}")
    kept = saved_utterances(folder)
    assert len(kept) == 3
    for expected, wav_path in zip((3, 4, 5), kept, strict=True):
        with wave.open(str(wav_path)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        assert len(frames) == 8000
        assert set(frames.tolist()) == {expected}
        assert wav_path.with_suffix(".txt").read_text() == f"command {expected}\n"
        assert stat.S_IMODE(wav_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(wav_path.with_suffix(".txt").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [p.name for p in kept] + [p.with_suffix(".txt").name for p in kept])


def test_an_unwritable_folder_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = load_settings(overrides={"debug": {"save_utterances": 2, "dir": str(blocker)}})
    save_utterance(settings.debug, _pcm(0.1, 1), "x")
    assert blocker.read_text() == "not a folder"
