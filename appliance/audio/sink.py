"""Speakers: a playback command (``aplay`` on an ALSA device) or a WAV file.

``async with sink.stream(rate_hz) as out: await out.write(samples)`` plays one answer; leaving
the block waits until it has been heard; cancelling stops the sound at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from appliance.audio.format import Int16Array, Pcm, write_wav
from appliance.errors import AudioDeviceError

_LOGGER = logging.getLogger(__name__)


class SinkStream(Protocol):
    async def write(self, samples: Int16Array) -> None: ...


class AudioSink(Protocol):
    name: str

    def stream(self, rate_hz: int) -> contextlib.AbstractAsyncContextManager[SinkStream]: ...


def aplay_command(device: str, rate_hz: int) -> list[str]:
    return ["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE",
            "-r", str(rate_hz), "-c", "1"]


class _ProcessStream:
    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self._proc = proc
        self._name = name

    async def write(self, samples: Int16Array) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(samples.astype("<i2").tobytes())
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as err:
            raise await self.failure() from err

    async def finish(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()
            await stdin.wait_closed()
        if await self._proc.wait() != 0:
            raise await self.failure()

    async def failure(self) -> AudioDeviceError:
        err = b""
        if self._proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                err = await asyncio.wait_for(self._proc.stderr.read(), 1.0)
        lines = err.decode(errors="replace").strip().splitlines()
        return AudioDeviceError(
            f"playback failed on {self._name}: {lines[-1] if lines else 'device closed'}",
            fix="check the speaker is connected; `appliance devices` lists names for "
            "audio.output.device",
        )

    async def kill(self) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()


class CommandSink:
    """Plays through a child process reading raw S16_LE mono at the stream's rate on stdin.

    ``{rate}`` in a configured command is replaced by the rate.
    """

    def __init__(self, argv_for_rate: Sequence[str] | None = None, device: str = "default") -> None:
        self._template = list(argv_for_rate) if argv_for_rate else None
        self._device = device
        self.name = " ".join(self._template) if self._template else f"aplay -D {device}"

    def _argv(self, rate_hz: int) -> list[str]:
        if self._template is None:
            return aplay_command(self._device, rate_hz)
        return [part.replace("{rate}", str(rate_hz)) for part in self._template]

    @asynccontextmanager
    async def stream(self, rate_hz: int) -> AsyncIterator[SinkStream]:
        argv = self._argv(rate_hz)
        if shutil.which(argv[0]) is None:
            raise AudioDeviceError(
                f"playback program '{argv[0]}' is not installed",
                fix="install alsa-utils (`apt install alsa-utils`) or set audio.output.command",
            )
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
        )
        out = _ProcessStream(proc, self.name)
        try:
            yield out
            await out.finish()
        finally:
            await out.kill()


class _MemoryStream:
    def __init__(self, sink: WavSink, rate_hz: int) -> None:
        self._sink = sink
        self._rate_hz = rate_hz

    async def write(self, samples: Int16Array) -> None:
        self._sink.append(samples, self._rate_hz)
        if self._sink.realtime:
            await asyncio.sleep(len(samples) / self._rate_hz)


class WavSink:
    """Records everything played into a WAV file (rewritten after each answer).

    All streams must share one rate; with ``realtime`` writing takes as long as hearing it.
    """

    def __init__(self, path: Path | None, *, realtime: bool = False) -> None:
        self.path = path
        self.name = str(path) if path else "memory"
        self.realtime = realtime
        self.rate_hz = 0
        self._chunks: list[Int16Array] = []

    def append(self, samples: Int16Array, rate_hz: int) -> None:
        if self.rate_hz and rate_hz != self.rate_hz:
            raise AudioDeviceError(
                f"{self.name}: audio at {rate_hz} Hz after {self.rate_hz} Hz",
                fix="set audio.output.rate_hz so every sound is resampled to one rate",
            )
        self.rate_hz = rate_hz
        self._chunks.append(samples.copy())

    def pcm(self) -> Pcm:
        data = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return Pcm(data.astype(np.int16), self.rate_hz or 16000)

    @asynccontextmanager
    async def stream(self, rate_hz: int) -> AsyncIterator[SinkStream]:
        try:
            yield _MemoryStream(self, rate_hz)
        finally:
            if self.path is not None:
                write_wav(self.path, self.pcm())


def open_sink(device: str, command: Sequence[str], audio_out: Path | None) -> AudioSink:
    """The configured speaker: a WAV file (``--audio-out``), a command, or an ALSA device."""
    if audio_out is not None:
        return WavSink(audio_out, realtime=True)
    if command:
        return CommandSink(command)
    return CommandSink(device=device)
