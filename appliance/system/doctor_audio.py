"""Doctor checks of the audio devices: the microphone opens and hears something, the speaker plays.

Both use the daemon's own capture and playback code (``arecord``/``aplay`` or the configured
commands), so a green check means the daemon can use the device too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from appliance.audio.format import FRAME_BYTES, RATE_HZ, Int16Array
from appliance.audio.sink import open_sink
from appliance.audio.source import open_source, through_sound_server
from appliance.errors import AudioDeviceError
from appliance.settings import Settings
from appliance.system.doctor_context import CheckResult, DoctorContext, Status

RECORD_S = 2.0
SILENT_DBFS = -80.0  # below this a microphone is muted, unplugged or the wrong device
QUIET_DBFS = -60.0
MAX_CLIPPED = 0.001  # fraction of samples at full scale
TONE_HZ = 440.0
TONE_S = 0.6
TONE_DBFS = -12.0
OPEN_TIMEOUT_S = 8.0
FULL_SCALE = 32768.0

_DEVICES_FIX = "`appliance devices` lists the names; set one with `sudo appliance config set "


@dataclass(frozen=True)
class Level:
    rms_dbfs: float
    peak_dbfs: float
    clipped: float  # fraction of samples at full scale
    flat: bool = False  # every sample the same value: digital silence, not a quiet room


def measure_level(samples: Int16Array) -> Level:
    """RMS and peak level in dBFS (-inf for all zeros), the clipped fraction, and whether the
    recording is digital silence (peak-to-peak 0: a live microphone always has some noise)."""
    if len(samples) == 0:
        return Level(-math.inf, -math.inf, 0.0)
    data = samples.astype(np.float64)
    rms = math.sqrt(float(np.mean(data * data)))
    peak = float(np.max(np.abs(data)))
    clipped = float(np.mean((samples >= 32767) | (samples <= -32768)))
    flat = int(samples.max()) == int(samples.min())
    return Level(_dbfs(rms), _dbfs(peak), clipped, flat)


def _dbfs(value: float) -> float:
    return 20 * math.log10(value / FULL_SCALE) if value > 0 else -math.inf


def capture_verdict(device: str, level: Level) -> CheckResult:
    """What a recording's level says about the microphone (pure)."""
    text = (f"'{device}': level {level.rms_dbfs:.1f} dBFS RMS, peak {level.peak_dbfs:.1f} dBFS, "
            f"{level.clipped:.2%} clipped")
    if level.flat:
        value = "0" if level.peak_dbfs == -math.inf else "the same value"
        return CheckResult(
            "capture", Status.FAIL,
            f"{text}: hears nothing: digital silence (every sample is {value}), not a quiet room",
            _digital_silence_fix(device),
        )
    if level.rms_dbfs < SILENT_DBFS:
        return CheckResult(
            "capture", Status.FAIL, f"{text}: hears nothing",
            "check the microphone is connected and not muted (`alsamixer`, F4 for capture), or "
            f"pick another device: {_DEVICES_FIX}audio.input.device NAME`",
        )
    if level.clipped > MAX_CLIPPED:
        return CheckResult(
            "capture", Status.FAIL, f"{text}: clipping (too loud)",
            "lower the capture gain (`alsamixer`, F4) or move the microphone away from the speaker",
        )
    quiet = level.rms_dbfs < QUIET_DBFS
    note = ": very quiet, raise the capture gain (`alsamixer`)" if quiet else ""
    return CheckResult("capture", Status.OK, text + note)


def _digital_silence_fix(device: str) -> str:
    if through_sound_server(device):
        return ("the PulseAudio source is muted, not the microphone, or a sink's monitor that "
                "nothing plays into: `pactl list short sources` lists them, `pactl "
                "set-default-source NAME` picks one, `pactl set-source-mute NAME 0` unmutes it "
                "(or `alsamixer`, F4 for capture)")
    return ("the capture is switched off or muted in the mixer: `alsamixer` (F6 picks the card, "
            "F4 shows capture, space switches it on); or it is not the microphone: "
            f"{_DEVICES_FIX}audio.input.device NAME`")


async def record(settings: Settings, seconds: float) -> Int16Array:
    """``seconds`` of microphone audio through the daemon's capture path."""
    cfg = settings.audio.input
    frames: list[bytes] = []
    needed = math.ceil(seconds * RATE_HZ * 2 / FRAME_BYTES)
    try:
        async with (
            asyncio.timeout(seconds + OPEN_TIMEOUT_S),
            open_source(cfg.device, cfg.command, None, silence_after_s=0) as source,
        ):
            stream = source.frames()
            try:
                while len(frames) < needed:
                    frames.append(await anext(stream))
            finally:
                await _aclose(stream)
    except TimeoutError as err:
        raise AudioDeviceError(f"no audio arrived in {seconds + OPEN_TIMEOUT_S:.0f} s") from err
    return np.frombuffer(b"".join(frames), dtype="<i2").astype(np.int16)


async def _aclose(stream: AsyncIterator[bytes]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


async def check_capture(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    device = _name(settings.audio.input.device, settings.audio.input.command)
    try:
        samples = await record(settings, RECORD_S)
    except AudioDeviceError as err:
        return [CheckResult("capture", Status.FAIL, f"cannot record from '{device}': {err.message}",
                            _open_fix("audio.input.device", err.message, ctx.service_active))]
    return [capture_verdict(device, measure_level(samples))]


def tone(rate_hz: int) -> Int16Array:
    """A short 440 Hz tone at -12 dBFS with 20 ms fades (no clicks)."""
    t = np.arange(int(TONE_S * rate_hz)) / rate_hz
    tone = np.sin(2 * np.pi * TONE_HZ * t) * FULL_SCALE * 10 ** (TONE_DBFS / 20)
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    out: Int16Array = (tone * fade).astype(np.int16)
    return out


async def check_playback(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    cfg = settings.audio.output
    device = _name(cfg.device, cfg.command)
    rate_hz = cfg.rate_hz or RATE_HZ
    try:
        async with (
            asyncio.timeout(TONE_S + OPEN_TIMEOUT_S),
            open_sink(cfg.device, cfg.command, None).stream(rate_hz) as out,
        ):
            await out.write(tone(rate_hz))
    except TimeoutError:
        return [CheckResult("playback", Status.FAIL, f"'{device}' did not finish playing a "
                            f"{TONE_S} s tone in {TONE_S + OPEN_TIMEOUT_S:.0f} s",
                            _open_fix("audio.output.device", "", ctx.service_active))]
    except AudioDeviceError as err:
        return [CheckResult("playback", Status.FAIL, f"cannot play on '{device}': {err.message}",
                            _open_fix("audio.output.device", err.message, ctx.service_active))]
    return [CheckResult("playback", Status.OK,
                        f"'{device}': played a {TONE_HZ:.0f} Hz test tone (did you hear it?)")]


def _name(device: str, command: tuple[str, ...]) -> str:
    return " ".join(command) if command else device


def _open_fix(key: str, message: str, service_active: bool) -> str:
    if "busy" in message.lower():
        return ("the device is in use" + (" by the running appliance service" if service_active
                                          else "") + ": `sudo systemctl stop appliance`, run "
                "`appliance doctor` again, then `sudo systemctl start appliance`")
    return f"{_DEVICES_FIX}{key} NAME`"
