"""`appliance doctor` through the real command line: green on the PulseAudio test devices, red
with the fix for no devices, a silent microphone, bad model paths, a dead broker, a bad config."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.cli import main
from tests.system.helpers import (
    PulseTestDevices,
    free_port,
    loudest_window_dbfs,
    play_tone_into_mic,
)

TONE_AMPLITUDE = 0.25  # of full scale: a sine's RMS is amplitude / sqrt(2)
TONE_RMS_DBFS = 20 * math.log10(TONE_AMPLITUDE / math.sqrt(2))
DOCTOR_TONE_DBFS = -12.0 - 3.01  # doctor plays a -12 dBFS-peak sine


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


PULSE_DEVICES = '[audio.input]\ndevice = "pulse"\n\n[audio.output]\ndevice = "pulse"\n'
NO_DEVICES = ('[audio.input]\ndevice = "plughw:CARD=NoSuchCard,DEV=0"\n\n'
              '[audio.output]\ndevice = "plughw:CARD=NoSuchCard,DEV=0"\n')


def doctor(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str]:
    code = main(["doctor", "--config", str(config), *args])
    return code, capsys.readouterr().out


def lines_of(out: str, check: str) -> list[str]:
    """The result line(s) of one check, each with its fix line when it has one."""
    results = out.strip().split("\n\n")[0]  # the summary follows a blank line
    blocks = re.split(r"\n(?=\[(?: OK |FAIL|INFO)\] )", results)
    return [b for b in blocks if b[7:].startswith(f"{check:<11} ")]


@pytest.mark.audio
@pytest.mark.models
def test_green_on_the_pulseaudio_test_devices(
    pulse: PulseTestDevices, mosquitto: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml",
                          PULSE_DEVICES + f'\n[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto}\n')
    speaker = tmp_path / "speaker.raw"
    # The tone outlasts the model loading that comes before the capture check.
    mic = play_tone_into_mic(pulse, tmp_path, seconds=60, amplitude=TONE_AMPLITUDE)
    recorder = pulse.record_speaker(speaker)
    try:
        code, out = doctor(capsys, config)
    finally:
        for proc in (mic, recorder):
            proc.terminate()
            proc.wait(timeout=10)
    assert code == 0, out
    assert "[FAIL]" not in out
    assert out.rstrip().endswith("All checks passed.")
    (capture,) = lines_of(out, "capture")
    level = re.search(r"level (-?\d+\.\d) dBFS RMS", capture)
    assert level, capture
    measured = float(level.group(1))
    assert abs(measured - TONE_RMS_DBFS) < 2.0, capture
    assert "0.00% clipped" in capture
    # The doctor's test tone really reached the speaker.
    assert abs(loudest_window_dbfs(speaker.read_bytes()) - DOCTOR_TONE_DBFS) < 3.0
    (wake,) = lines_of(out, "wake")
    assert wake.startswith("[ OK ] wake")
    assert "fired" in wake
    assert "CC BY-NC-SA 4.0" in lines_of(out, "wake model")[0]
    assert "MIT" in lines_of(out, "stt model")[0]
    assert "licence CC0" in lines_of(out, "tts voice")[0]  # from the voice's MODEL_CARD
    assert lines_of(out, "mqtt")[0].startswith(f"[ OK ] mqtt        connected to MQTT broker "
                                               f"127.0.0.1:{mosquitto}")


def test_red_without_audio_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", NO_DEVICES)
    code, out = doctor(capsys, config, "--only", "capture", "--only", "playback")
    assert code == 1
    (capture,) = lines_of(out, "capture")
    (playback,) = lines_of(out, "playback")
    assert capture.startswith("[FAIL] capture     cannot record from 'plughw:CARD=NoSuchCard")
    assert "fix: `appliance devices` lists the names" in capture
    assert "audio.input.device NAME" in capture
    assert playback.startswith("[FAIL] playback    cannot play on 'plughw:CARD=NoSuchCard")
    assert "audio.output.device NAME" in playback
    assert "2 problems found" in out


@pytest.mark.audio
def test_red_when_the_microphone_hears_nothing(
    pulse: PulseTestDevices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml", PULSE_DEVICES)
    code, out = doctor(capsys, config, "--only", "capture")
    assert code == 1
    (capture,) = lines_of(out, "capture")
    assert capture.startswith("[FAIL] capture     'pulse': level -inf dBFS RMS")
    assert "hears nothing" in capture
    assert "alsamixer" in capture


def test_red_with_bad_model_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", (
        f'[stt]\nmodel = "{tmp_path}/whisper-small"\n\n'
        f'[tts]\nvoice = "{tmp_path}/en_GB-alan.onnx"\n\n'
        f'[[wake.models]]\nmodel = "{tmp_path}/hey_computer.tflite"\nthreshold = 0.5\n'))
    code, out = doctor(capsys, config, "--only", "models", "--quick")
    assert code == 1
    (stt,) = lines_of(out, "stt model")
    assert stt.startswith(f"[FAIL] stt model   stt.model: {tmp_path}/whisper-small is not a "
                          "directory")
    assert "fix: point it at a directory with a CTranslate2 Whisper model" in stt
    (tts,) = lines_of(out, "tts voice")
    assert f"{tmp_path}/en_GB-alan.onnx does not exist" in tts
    assert "fix: a Piper voice is two files" in tts
    (wake,) = lines_of(out, "wake model")
    assert f"{tmp_path}/hey_computer.tflite does not exist" in wake
    assert "fix:" in wake


def test_red_with_a_dead_broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    config = write_config(tmp_path / "config.toml", f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    code, out = doctor(capsys, config, "--only", "mqtt")
    assert code == 1
    (mqtt,) = lines_of(out, "mqtt")
    assert mqtt.startswith("[FAIL] mqtt")
    assert f"127.0.0.1:{port}" in mqtt
    assert "fix:" in mqtt


def test_red_when_the_satellite_does_not_answer(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # no daemon there
    config = write_config(tmp_path / "config.toml",
                          f'[esphome]\nenabled = true\naddress = "127.0.0.1"\nport = {port}\n')
    code, out = doctor(capsys, config, "--only", "esphome")
    assert code == 1
    (esphome,) = lines_of(out, "esphome")
    assert esphome.startswith("[FAIL] esphome")
    assert f"127.0.0.1:{port} does not answer" in esphome
    assert "systemctl status appliance" in esphome


def test_red_with_an_invalid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", "[stt]\nthreads = 99\n")
    code, out = doctor(capsys, config, "--only", "config", "--only", "models")
    assert code == 1
    (line,) = lines_of(out, "config")
    assert line.startswith(f"[FAIL] config      {config}:2: 'stt.threads' = 99 is not allowed")
    assert "fix: set 'stt.threads' to a value from 1 to 16" in line
    assert lines_of(out, "models") == [
        "[INFO] models      not checked: the configuration is invalid"]


def test_plain_text_off_a_terminal_colour_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml", NO_DEVICES)
    _, plain = doctor(capsys, config, "--only", "config", "--only", "capture")
    assert "\033[" not in plain
    assert "[ OK ] config" in plain
    _, coloured = doctor(capsys, config, "--only", "config", "--only", "capture",
                         "--color", "always")
    assert "\033[32m✓\033[0m config" in coloured
    assert "\033[31m✗\033[0m capture" in coloured


def test_doctor_runs_as_a_program(tmp_path: Path) -> None:
    """The installed entry point, as over SSH: exit code 1 and the fix on stdout."""
    config = write_config(tmp_path / "config.toml", NO_DEVICES)
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "doctor", "--config", str(config), "--only", "capture"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "fix:" in result.stdout


def test_level_measurement_of_known_signals() -> None:
    from appliance.system.doctor_audio import capture_verdict, measure_level

    t = np.arange(16000) / 16000
    half = (np.sin(2 * np.pi * 440 * t) * 16384).astype(np.int16)
    level = measure_level(half)
    assert abs(level.rms_dbfs - (-6.02 - 3.01)) < 0.05
    assert abs(level.peak_dbfs - (-6.02)) < 0.05
    assert level.clipped == 0.0
    assert capture_verdict("mic", level).status == "ok"
    silence = measure_level(np.zeros(16000, dtype=np.int16))
    assert silence.rms_dbfs == -math.inf
    assert capture_verdict("mic", silence).status == "fail"
    clipped = measure_level(np.clip(half.astype(np.int32) * 4, -32768, 32767).astype(np.int16))
    assert clipped.clipped > 0.3
    verdict = capture_verdict("mic", clipped)
    assert verdict.status == "fail"
    assert "lower the capture gain" in verdict.fix
