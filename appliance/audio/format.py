"""The one internal audio format: 16 kHz, 16-bit signed little-endian, mono, 80 ms frames.

openWakeWord consumes 1280-sample (80 ms) frames, so capture is cut into those. Conversion happens
only at capture (files) and playback (the voice's rate to the device's).
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from appliance.errors import AudioFileError

RATE_HZ = 16000
SAMPLE_WIDTH = 2
CHANNELS = 1
FRAME_SAMPLES = 1280
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH
FRAME_S = FRAME_SAMPLES / RATE_HZ

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit audio at ``rate_hz``."""

    samples: Int16Array
    rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2").tobytes()


def resample(samples: Int16Array, from_hz: int, to_hz: int) -> Int16Array:
    """High-quality resampling (libsoxr); a no-op when the rates match."""
    if from_hz == to_hz or len(samples) == 0:
        return samples
    import soxr

    out = np.asarray(soxr.resample(samples.astype(np.float32), from_hz, to_hz))
    resampled: Int16Array = np.clip(np.round(out), -32768, 32767).astype(np.int16)
    return resampled


def scale(samples: Int16Array, volume: int) -> Int16Array:
    """Software volume 0-100 (a perceptual curve: 50 is about -12 dB)."""
    if volume >= 100:
        return samples
    gain = (volume / 100.0) ** 2
    return (samples.astype(np.float32) * gain).astype(np.int16)


_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
MIN_FILE_RATE_HZ = 8000  # what read_wav accepts: a header outside these is refused, not resampled
MAX_FILE_RATE_HZ = 192000
MAX_FILE_CHANNELS = 8
_BITS = {_PCM: (8, 16, 24, 32), _FLOAT: (32, 64)}


def read_wav(path: Path) -> Pcm:
    """Read a PCM WAV (plain or WAVE_FORMAT_EXTENSIBLE), mixed to mono: 8/16/24/32-bit integer
    or 32/64-bit float samples, 8-192 kHz, 1-8 channels; anything else is an AudioFileError."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise AudioFileError(f"{path}: cannot read: {err.strerror}", fix="check the path"
                               ) from err
    tag, channels, rate, width, raw = _parse_riff(path, data)
    _check_header(path, tag, channels, rate, width)
    raw = raw[: len(raw) // (width * channels) * width * channels]
    samples = _to_float(tag, width, raw)
    mono = samples.reshape(-1, channels).mean(axis=1)
    return Pcm(np.clip(np.round(mono * 32768), -32768, 32767).astype(np.int16), rate)


def _check_header(path: Path, tag: int, channels: int, rate: int, width: int) -> None:
    """Refuse what no recording has (a 1 Hz rate would take hours to resample)."""
    kind = "float" if tag == _FLOAT else "integer"

    def refuse(what: str, allowed: str, fix: str) -> AudioFileError:
        return AudioFileError(f"{path}: {what} not supported (allowed: {allowed})",
                              fix=f"convert it: `sox {path} {fix} out.wav`")

    if not MIN_FILE_RATE_HZ <= rate <= MAX_FILE_RATE_HZ:
        raise refuse(f"a sample rate of {rate} Hz is",
                     f"{MIN_FILE_RATE_HZ} to {MAX_FILE_RATE_HZ} Hz", f"-r {RATE_HZ}")
    if not 1 <= channels <= MAX_FILE_CHANNELS:
        raise refuse(f"{channels} channels are", f"1 to {MAX_FILE_CHANNELS}", "-c 1")
    if 8 * width not in _BITS[tag]:
        bits = "/".join(str(b) for b in _BITS[tag])
        raise refuse(f"{8 * width}-bit {kind} samples are", f"{bits}-bit {kind}", "-b 16")


def _to_float(tag: int, width: int, raw: bytes) -> npt.NDArray[np.float64]:
    """Samples as floats in [-1, 1) from 8/16/24/32-bit integer or 32/64-bit float PCM (the
    header was checked: nothing else comes here)."""
    if tag == _FLOAT:
        return np.frombuffer(raw, dtype=f"<f{width}").astype(np.float64)
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        return ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).astype(np.float64) / 2**31
    out: npt.NDArray[np.float64] = (
        np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64) / 2 ** (8 * width - 1))
    return out


def _parse_riff(path: Path, data: bytes) -> tuple[int, int, int, int, bytes]:
    def bad(why: str) -> AudioFileError:
        return AudioFileError(
            f"{path}: not a PCM WAV file ({why})",
            fix=f"convert it, e.g. `sox {path.name} -r 16000 -c 1 -b 16 out.wav`",
        )

    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise bad("no RIFF/WAVE header")
    pos, fmt, raw = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            raw = body
        pos += 8 + size + (size & 1)
    if fmt is None or raw is None or len(fmt) < 16:
        raise bad("missing fmt or data chunk")
    tag = int.from_bytes(fmt[0:2], "little")
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    if tag not in (_PCM, _FLOAT):
        raise bad(f"format {tag}, not PCM")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if bits % 8:
        raise AudioFileError(f"{path}: {bits}-bit samples are not supported (allowed: whole "
                             "bytes: 8, 16, 24 or 32-bit integer, 32 or 64-bit float)",
                             fix=f"convert it: `sox {path} -b 16 out.wav`")
    return tag, channels, rate, bits // 8, raw


def wav_bytes(pcm: Pcm) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(pcm.rate_hz)
        wav.writeframes(pcm.to_bytes())
    return buf.getvalue()


def write_wav(path: Path, pcm: Pcm) -> None:
    path.write_bytes(wav_bytes(pcm))


def to_float(samples: Int16Array) -> npt.NDArray[np.float32]:
    return samples.astype(np.float32) / 32768.0


def chime(rate_hz: int, duration_s: float = 0.12) -> Int16Array:
    """The wake earcon: two short rising tones with soft edges (not speech, never transcribed)."""
    half = int(rate_hz * duration_s / 2)
    t = np.arange(half) / rate_hz
    envelope = np.sin(np.pi * np.arange(half) / half)
    tones = [np.sin(2 * np.pi * f * t) * envelope for f in (880.0, 1320.0)]
    earcon: Int16Array = (np.concatenate(tones) * 0.35 * 32767).astype(np.int16)
    return earcon
