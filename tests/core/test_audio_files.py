"""WAV input in the formats recorders write, and the software audio helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import Int16Array, Pcm, chime, read_wav, resample, scale, write_wav
from appliance.errors import AudioFileError


def tone(rate: int, seconds: float = 0.5) -> Int16Array:
    t = np.arange(int(rate * seconds)) / rate
    out: Int16Array = (np.sin(2 * np.pi * 440 * t) * 0.5 * 32767).astype(np.int16)
    return out


@pytest.mark.parametrize("sox_args", [["-b", "16"], ["-b", "24"], ["-b", "32"],
                                      ["-e", "floating-point", "-b", "32"], ["-c", "2"]])
def test_reads_what_sox_writes(sox_args: list[str], tmp_path: Path) -> None:
    src = tmp_path / "src.wav"
    write_wav(src, Pcm(tone(22050), 22050))
    out = tmp_path / "out.wav"
    subprocess.run(["sox", str(src), *sox_args, str(out)], check=True)
    pcm = read_wav(out)
    assert pcm.rate_hz == 22050
    assert len(pcm.samples) == len(tone(22050))
    assert np.abs(pcm.samples.astype(int) - tone(22050)).max() <= 2


@pytest.mark.parametrize(("data", "why"), [
    (b"", "no RIFF/WAVE header"),
    (b"RIFF\x04\x00\x00\x00WAVE", "missing fmt or data chunk"),
])
def test_bad_files_say_why(data: bytes, why: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    with pytest.raises(AudioFileError, match=why):
        read_wav(path)


def test_resample_keeps_duration_and_pitch() -> None:
    out = resample(tone(22050, 1.0), 22050, 16000)
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) - 440) <= 1


def test_volume_curve() -> None:
    x = np.full(10, 10000, np.int16)
    assert scale(x, 100)[0] == 10000
    assert scale(x, 50)[0] == 2500
    assert scale(x, 0)[0] == 0


def test_chime_is_short_and_not_silent() -> None:
    c = chime(22050)
    assert 0.1 < len(c) / 22050 < 0.2
    assert np.abs(c).max() > 5000
