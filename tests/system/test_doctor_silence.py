"""`appliance doctor`'s capture check tells digital silence (every sample the same: a muted or
absent source) from a quiet room (a little noise), with the fix for each."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import Int16Array
from appliance.cli import main
from appliance.system.doctor_audio import capture_verdict, measure_level
from tests.system.helpers import PulseTestDevices, play_tone_into_mic

PULSE_MIC = '[audio.input]\ndevice = "pulse"\n'


def noise(rms_lsb: float, seconds: float = 2.0) -> Int16Array:
    rng = np.random.default_rng(0)
    out: Int16Array = np.round(rng.normal(0, rms_lsb, int(16000 * seconds))).astype(np.int16)
    return out


def test_all_zeros_is_digital_silence_with_the_fix_for_the_device() -> None:
    zeros = measure_level(np.zeros(32000, np.int16))
    assert zeros.flat
    pulse = capture_verdict("pulse", zeros)
    assert pulse.status == "fail"
    assert "digital silence (every sample is 0), not a quiet room" in pulse.detail
    assert "`pactl list short sources`" in pulse.fix
    assert "`pactl set-source-mute NAME 0`" in pulse.fix
    card = capture_verdict("plughw:CARD=seeed2micvoicec,DEV=0", zeros)
    assert "digital silence (every sample is 0)" in card.detail
    assert "`alsamixer` (F6 picks the card, F4 shows capture, space switches it on)" in card.fix
    assert "pactl" not in card.fix


def test_one_value_repeated_is_digital_silence_too() -> None:
    stuck = measure_level(np.full(32000, 12, np.int16))  # -68.7 dBFS: "quiet" by its level
    assert stuck.flat
    verdict = capture_verdict("hw:1,0", stuck)
    assert verdict.status == "fail"
    assert "digital silence (every sample is the same value)" in verdict.detail


def test_a_quiet_room_is_not_digital_silence() -> None:
    faint = measure_level(noise(rms_lsb=1.0))  # a microphone at the bottom of its gain: -90 dBFS
    assert not faint.flat
    verdict = capture_verdict("hw:1,0", faint)
    assert verdict.status == "fail"
    assert verdict.detail.endswith(": hears nothing")
    assert "digital silence" not in verdict.detail
    quiet = measure_level(noise(rms_lsb=20.0))  # a quiet room: -64 dBFS
    verdict = capture_verdict("hw:1,0", quiet)
    assert verdict.status == "ok"
    assert "very quiet" in verdict.detail
    assert "digital silence" not in verdict.detail


@pytest.mark.audio
def test_a_muted_pulseaudio_source_is_reported_as_digital_silence(
    pulse: PulseTestDevices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(PULSE_MIC)
    tone = play_tone_into_mic(pulse, tmp_path, seconds=20, amplitude=0.25)
    mute = ["pactl", "set-source-mute", "mic.monitor"]
    subprocess.run([*mute, "1"], env=pulse.env, check=True, timeout=10)
    try:
        code = main(["doctor", "--config", str(config), "--only", "capture"])
    finally:
        subprocess.run([*mute, "0"], env=pulse.env, check=True, timeout=10)
        tone.terminate()
        tone.wait(timeout=10)
    out = capsys.readouterr().out
    assert code == 1
    assert ("[FAIL] capture     'pulse': level -inf dBFS RMS, peak -inf dBFS, 0.00% clipped: "
            "hears nothing: digital silence (every sample is 0), not a quiet room\n") in out
    assert "`pactl set-source-mute NAME 0` unmutes it" in out


@pytest.mark.audio
def test_a_faint_tone_is_quiet_not_silent(
    pulse: PulseTestDevices, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(PULSE_MIC)
    tone = play_tone_into_mic(pulse, tmp_path, seconds=20, amplitude=0.001)  # -63 dBFS RMS
    try:
        code = main(["doctor", "--config", str(config), "--only", "capture"])
    finally:
        tone.terminate()
        tone.wait(timeout=10)
    out = capsys.readouterr().out
    assert code == 0, out
    level = re.search(r"\[ OK \] capture     'pulse': level (-\d+\.\d) dBFS RMS", out)
    assert level, out
    assert abs(float(level.group(1)) - (-63.0)) < 1.0, out
    assert "very quiet" in out
    assert "digital silence" not in out
