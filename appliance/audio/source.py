"""Microphones: a capture command (``arecord`` on an ALSA device) or a WAV file.

A source is an async context manager whose ``frames()`` yields :data:`FRAME_BYTES` chunks. A
capture device that is missing, busy or disappears raises :class:`AudioDeviceError`; the daemon's
reconnect loop decides when to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np

from appliance.audio.format import FRAME_BYTES, FRAME_S, RATE_HZ, read_wav, resample
from appliance.errors import AudioDeviceError

_LOGGER = logging.getLogger(__name__)


class AudioSource(Protocol):
    """Where microphone frames come from."""

    name: str

    async def __aenter__(self) -> AudioSource: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def frames(self) -> AsyncIterator[bytes]: ...


def arecord_command(device: str) -> list[str]:
    return ["arecord", "-q", "-D", device, "-t", "raw", "-f", "S16_LE",
            "-r", str(RATE_HZ), "-c", "1", "--buffer-time=200000"]


class CommandSource:
    """Raw 16 kHz mono S16_LE from a child process's stdout."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.name = " ".join(self.argv)
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> CommandSource:
        if shutil.which(self.argv[0]) is None:
            raise AudioDeviceError(
                f"capture program '{self.argv[0]}' is not installed",
                fix="install alsa-utils (`apt install alsa-utils`) or set audio.input.command",
            )
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(proc.wait(), 2.0)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def frames(self) -> AsyncIterator[bytes]:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise RuntimeError("open the source with 'async with' first")
        while True:
            try:
                yield await proc.stdout.readexactly(FRAME_BYTES)
            except asyncio.IncompleteReadError:
                raise await self._failure(proc) from None

    async def _failure(self, proc: asyncio.subprocess.Process) -> AudioDeviceError:
        stderr = b""
        if proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                stderr = await asyncio.wait_for(proc.stderr.read(), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 1.0)
        detail = stderr.decode(errors="replace").strip().splitlines()
        why = detail[-1] if detail else f"exit code {proc.returncode}"
        return AudioDeviceError(
            f"capture device stopped: {self.name}: {why}",
            fix="check the microphone is connected and not used by another program; "
            "`appliance devices` lists names for audio.input.device",
        )


class WavSource:
    """Frames from a WAV file (any rate; resampled), then ``tail_s`` of silence, then the end.

    With ``realtime`` the frames come at the pace of a microphone.
    """

    def __init__(self, path: Path, *, realtime: bool = False, tail_s: float = 2.0) -> None:
        self.path = path
        self.name = str(path)
        self.realtime = realtime
        self.tail_s = tail_s

    async def __aenter__(self) -> WavSource:
        pcm = read_wav(self.path)
        samples = resample(pcm.samples, pcm.rate_hz, RATE_HZ)
        tail = np.zeros(int(self.tail_s * RATE_HZ), dtype=np.int16)
        self._data = np.concatenate([samples, tail]).astype("<i2").tobytes()
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, offset in enumerate(range(0, len(self._data), FRAME_BYTES)):
            frame = self._data[offset : offset + FRAME_BYTES]
            yield frame.ljust(FRAME_BYTES, b"\0")
            if self.realtime:
                await asyncio.sleep(max(0.0, start + (n + 1) * FRAME_S - loop.time()))
            else:
                await asyncio.sleep(0)


def open_source(device: str, command: Sequence[str], audio_in: Path | None) -> AudioSource:
    """The configured microphone: a WAV file (``--audio-in``), a command, or an ALSA device."""
    if audio_in is not None:
        return WavSource(audio_in, realtime=True)
    if command:
        return CommandSource(command)
    return CommandSource(arecord_command(device))
