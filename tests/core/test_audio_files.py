"""WAV input in the formats recorders write, and the software audio helpers."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path
from typing import Any

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


def wav_header(rate: int, channels: int = 1, bits: int = 16, tag: int = 1,
               data: bytes = b"\x00" * 4096) -> bytes:
    """A WAV file as a header claims it, whatever the header says (no library checks it)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block & 0xFFFFFFFF, block & 0xFFFF,
                      bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("header", "why"), [
    pytest.param({"rate": 1}, "a sample rate of 1 Hz is not supported (allowed: 8000 to 192000 Hz)",
                 id="1 Hz"),
    pytest.param({"rate": 0}, "a sample rate of 0 Hz", id="0 Hz"),
    pytest.param({"rate": 7999}, "a sample rate of 7999 Hz", id="7999 Hz"),
    pytest.param({"rate": 192001}, "a sample rate of 192001 Hz", id="192001 Hz"),
    pytest.param({"rate": 0xFFFFFFFF}, "a sample rate of 4294967295 Hz", id="4 GHz"),
    pytest.param({"rate": 16000, "channels": 0}, "0 channels are not supported (allowed: 1 to 8)",
                 id="0 channels"),
    pytest.param({"rate": 16000, "channels": 9}, "9 channels", id="9 channels"),
    pytest.param({"rate": 16000, "channels": 65535}, "65535 channels", id="65535 channels"),
    pytest.param({"rate": 16000, "bits": 0}, "0-bit integer samples are not supported "
                 "(allowed: 8/16/24/32-bit integer)", id="0 bits"),
    pytest.param({"rate": 16000, "bits": 12}, "12-bit samples are not supported", id="12 bits"),
    pytest.param({"rate": 16000, "bits": 40}, "40-bit integer samples", id="40-bit integer"),
    pytest.param({"rate": 16000, "bits": 64}, "64-bit integer samples", id="64-bit integer"),
    pytest.param({"rate": 16000, "bits": 65528}, "65528-bit integer", id="65528 bits"),
    pytest.param({"rate": 16000, "bits": 16, "tag": 3},
                 "16-bit float samples are not supported (allowed: 32/64-bit float)",
                 id="16-bit float"),
])
def test_absurd_headers_are_refused_with_what_is_allowed(
    header: dict[str, Any], why: str, tmp_path: Path
) -> None:
    path = tmp_path / "claims.wav"
    path.write_bytes(wav_header(**header))
    with pytest.raises(AudioFileError, match=re.escape(why)) as refused:
        read_wav(path)
    assert str(path) in refused.value.message and "sox" in refused.value.fix


@pytest.mark.parametrize(("rate", "channels", "bits", "tag"), [
    (8000, 1, 16, 1), (192000, 1, 16, 1), (16000, 8, 16, 1), (16000, 2, 8, 1),
    (16000, 1, 64, 3),
])
def test_headers_at_the_limits_are_read(rate: int, channels: int, bits: int, tag: int,
                                        tmp_path: Path) -> None:
    path = tmp_path / "edge.wav"
    frames = 100
    path.write_bytes(wav_header(rate, channels, bits, tag,
                                b"\x00" * (frames * channels * bits // 8)))
    pcm = read_wav(path)
    assert pcm.rate_hz == rate and len(pcm.samples) == frames
