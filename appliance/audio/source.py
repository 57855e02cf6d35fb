"""Microphones: a capture command (``arecord`` on an ALSA device) or a WAV file.

A source is an async context manager whose ``frames()`` yields :data:`FRAME_BYTES` chunks. A
capture device that is missing, busy or disappears raises :class:`AudioDeviceError`; the daemon's
reconnect loop decides when to try again. A live capture that delivers only digital silence is
warned about and reopened by the source itself (:mod:`appliance.audio.silence`): PulseAudio
moves a stream whose source went away to a fallback and leaves it there, and a new stream
attaches to the configured source again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np

from appliance.audio.format import FRAME_BYTES, FRAME_S, RATE_HZ, read_wav, resample
from appliance.audio.silence import SILENCE_AFTER_S, Reopen, ReopenOnSilence, SoundBack
from appliance.errors import AudioDeviceError

_LOGGER = logging.getLogger(__name__)

_ERROR_WORDS = re.compile(r"error|unable|cannot|can't|no such|busy|denied|refused", re.IGNORECASE)


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
    """Raw 16 kHz mono S16_LE from a child process's stdout.

    With ``silence``, digital silence restarts the child (see :class:`ReopenOnSilence`);
    ``label`` names the microphone in the log (the device, or the command).
    """

    def __init__(self, argv: Sequence[str], *, label: str = "",
                 silence: ReopenOnSilence | None = None,
                 on_silence: Callable[[bool], None] | None = None) -> None:
        self.argv = list(argv)
        self.name = " ".join(self.argv)
        self.label = label or self.name
        self.silence = silence
        self.on_silence = on_silence  # True: digital silence (reopening); False: sound again
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> CommandSource:
        if shutil.which(self.argv[0]) is None:
            raise AudioDeviceError(
                f"capture program '{self.argv[0]}' is not installed",
                fix="install alsa-utils (`apt install alsa-utils`) or set audio.input.command",
            )
        await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as err:
            raise AudioDeviceError(f"cannot start the capture program: {self.name}: {err}",
                                   fix="check audio.input.command / alsa-utils") from err

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(proc.wait(), 2.0)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def frames(self) -> AsyncIterator[bytes]:
        if self._proc is None:
            raise RuntimeError("open the source with 'async with' first")
        while True:
            frame = await self._read()
            yield frame
            verdict = self.silence.feed(frame, FRAME_S) if self.silence is not None else None
            if isinstance(verdict, Reopen):
                _log_reopen(self.label, verdict)
                if self.on_silence is not None:
                    self.on_silence(True)
                await self._stop()
                await self._start()
            elif isinstance(verdict, SoundBack):
                if self.on_silence is not None:
                    self.on_silence(False)
                _LOGGER.info("the microphone '%s' hears sound again after %.0f s of digital "
                             "silence (reopened %s)", self.label, verdict.silent_s,
                             _times(verdict.reopens))

    async def _read(self) -> bytes:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise RuntimeError("the capture process is not running")
        try:
            return await proc.stdout.readexactly(FRAME_BYTES)
        except asyncio.IncompleteReadError:
            raise await self._failure(proc) from None

    async def _failure(self, proc: asyncio.subprocess.Process) -> AudioDeviceError:
        stderr = b""
        if proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                stderr = await asyncio.wait_for(proc.stderr.read(), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 1.0)
        why = failure_reason(stderr.decode(errors="replace")) or f"exit code {proc.returncode}"
        return AudioDeviceError(
            f"capture device stopped: {self.name}: {why}",
            fix="check the microphone is connected and not used by another program; "
            "`appliance devices` lists names for audio.input.device",
        )


def failure_reason(stderr: str) -> str:
    """The line of a capture program's stderr that says what went wrong: the first that names
    an error (arecord follows PulseAudio's reason with a dump of hardware parameters)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    named = [line for line in lines if _ERROR_WORDS.search(line)]
    if named:
        return named[0]
    return lines[-1] if lines else ""


def through_sound_server(label: str) -> bool:
    """The device or command records through PulseAudio (or PipeWire's PulseAudio server)."""
    return any(word in label for word in ("pulse", "pipewire", "parec", "pw-record"))


def silence_cause(label: str) -> tuple[str, str]:
    """Why a live microphone delivers digital silence, and the fix if reopening does not help."""
    if through_sound_server(label):
        return ("its source may have gone (PulseAudio moved the capture to another source, "
                "such as a monitor)", "`pactl list short sources` shows the sources, "
                "`pactl set-default-source NAME` picks one")
    return ("it may be switched off or muted in the mixer, unplugged, or the wrong device",
            "`alsamixer` (F4 for capture, space switches it on); `appliance devices` lists "
            "the devices")


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _log_reopen(label: str, reopen: Reopen) -> None:
    if reopen.count == 1:
        cause, fix = silence_cause(label)
        _LOGGER.warning("the microphone '%s' has delivered only digital silence for %.0f s: %s; "
                        "reopening it (if it stays silent: %s)", label, reopen.silent_s, cause,
                        fix)
    else:
        _LOGGER.debug("the microphone '%s' is still digitally silent after %.0f s; reopening it "
                      "again (next after %.0f s more)", label, reopen.silent_s, reopen.next_s)


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


def open_source(device: str, command: Sequence[str], audio_in: Path | None, *,
                silence_after_s: float = SILENCE_AFTER_S,
                on_silence: Callable[[bool], None] | None = None) -> AudioSource:
    """The configured microphone: a WAV file (``--audio-in``), a command, or an ALSA device.

    A live one is reopened after ``silence_after_s`` of digital silence (0: never);
    ``on_silence(True)`` is called then, ``on_silence(False)`` when it hears sound again.
    """
    if audio_in is not None:
        return WavSource(audio_in, realtime=True)
    silence = ReopenOnSilence(silence_after_s) if silence_after_s > 0 else None
    if command:
        return CommandSource(command, label=" ".join(command), silence=silence,
                             on_silence=on_silence)
    return CommandSource(arecord_command(device), label=device, silence=silence,
                         on_silence=on_silence)
