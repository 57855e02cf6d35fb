"""The daemon and the CLI on bad input: one clear line, the right exit code, no crash loop."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import Pcm, write_wav

from .daemon_proc import DaemonProcess


def appliance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True,
                          text=True, timeout=180, env=env)


@pytest.mark.models
def test_missing_microphone_is_reported_once_and_retried(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[audio.input]\ndevice = "hw:CARD=NoSuchCard"\n'
                      "retry_initial_s = 0.2\nretry_max_s = 1.0\n"
                      "[intent]\nsentences_dirs = []\n")
    daemon = DaemonProcess(config, None)
    try:
        line = daemon.wait_for("capture device stopped", timeout_s=180)
        assert "NoSuchCard" in line
        assert "fix:" in line and "appliance devices" in line
        daemon.wait_for("state starting -> error", timeout_s=10)
        time.sleep(2.5)  # several retries at 0.2-1 s
        assert daemon.proc.poll() is None, "the daemon exited instead of retrying"
        assert sum("capture device stopped" in x for x in daemon.lines) == 1
        assert not [x for x in daemon.lines if "Traceback" in x]
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[stt]\nthreads = 'two'\n", "'stt.threads' must be a whole number"),
        ("[stt]\nthreadz = 2\n", "unknown key 'stt.threadz'"),
        ("[listen]\nend_silence_s = 99\n", "'listen.end_silence_s' = 99"),
        ("[wake]\nengine = 'snowboy'\n", "'wake.engine' = 'snowboy' is not allowed"),
        ("[stt\nthreads = 2\n", "config.toml: Expected ']'"),
        ('[stt]\nmodel = "/no/such/model"\n', "stt.model: /no/such/model is not a directory"),
        ('[tts]\nvoice = "/no/such/voice.onnx"\n', "tts.voice: /no/such/voice.onnx does not"),
        ('[wake]\n[[wake.models]]\nmodel = "hey_nobody"\nthreshold = 0.5\n',
         "'hey_nobody' is not a built-in wake word"),
    ],
)
def test_bad_config_is_one_clear_line(config: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config)
    result = appliance("run", "--config", str(path), "--audio-in", "/dev/null")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("appliance: error ["), result.stderr
    assert expected in lines[0]
    assert lines[1].startswith("  fix: ")
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[stt]\nthreadz = 2\n")
    result = appliance("intent", "what time is it", "--config", str(path), "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


@pytest.mark.models
def test_corrupt_model_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    model = tmp_path / "whisper"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.bin").write_bytes(b"not a model" * 100)
    path = tmp_path / "config.toml"
    path.write_text(f'[stt]\nmodel = "{model}"\n')
    wav = tmp_path / "silence.wav"
    write_wav(wav, Pcm(np.zeros(16000, np.int16), 16000))
    result = appliance("transcribe", "--config", str(path), str(wav))
    assert result.returncode == 2
    assert f"the Whisper model at {model} failed to load" in result.stderr
    assert "fix:" in result.stderr


def test_unreadable_wav_is_named(tmp_path: Path) -> None:
    result = appliance("listen", "/dev/null")
    assert result.returncode == 2
    assert "error [audio_file_invalid]: /dev/null: not a PCM WAV file" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = appliance("intent", "hi", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml does not exist" in result.stderr
