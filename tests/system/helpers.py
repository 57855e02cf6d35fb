"""Helpers for the appliance-system tests (fixtures are in conftest.py)."""

from __future__ import annotations

import math
import socket
import subprocess
from pathlib import Path
from typing import Protocol

import numpy as np


class NotifyListener:
    """A bound AF_UNIX datagram socket standing in for systemd's ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str, env_value: str) -> None:
        self.env_value = env_value  # what to put in $NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def receive(self, count: int, timeout_s: float = 10.0) -> list[str]:
        """The next ``count`` datagrams (fails the test if they do not come in time)."""
        self.sock.settimeout(timeout_s)
        return [self.sock.recv(4096).decode() for _ in range(count)]

    def until(self, last: str, timeout_s: float = 30.0) -> list[str]:
        """Every datagram up to and including ``last``."""
        self.sock.settimeout(timeout_s)
        out: list[str] = []
        while not out or out[-1] != last:
            out.append(self.sock.recv(4096).decode())
        return out

    def drain(self) -> list[str]:
        """Every datagram already queued."""
        self.sock.setblocking(False)
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


class PulseTestDevices(Protocol):
    """What the tests use of ``pulse_devices`` (tests/conftest.py)."""

    env: dict[str, str]

    def record_speaker(self, path: Path) -> subprocess.Popen[bytes]: ...


def play_tone_into_mic(
    pulse: PulseTestDevices, folder: Path, seconds: float, amplitude: float
) -> subprocess.Popen[bytes]:
    """Play a 440 Hz tone into the "mic" sink (heard on mic.monitor) in the background."""
    t = np.arange(int(seconds * 16000)) / 16000
    tone = folder / "tone.raw"
    tone.write_bytes((np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2").tobytes())
    with tone.open("rb") as pcm:  # a file: pacat reads it at its own (real-time) pace
        return subprocess.Popen(
            ["pacat", "--playback", "--device=mic", "--format=s16le", "--rate=16000",
             "--channels=1", "--raw"],
            stdin=pcm, env=pulse.env,
        )


def loudest_window_dbfs(pcm: bytes, window: int = 1600) -> float:
    """The RMS level of the loudest ``window`` samples."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    levels = [rms_dbfs(samples[i : i + window].tobytes())
              for i in range(0, max(1, len(samples) - window + 1), window)]
    return max(levels, default=-math.inf)


def rms_dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    rms = math.sqrt(float(np.mean(samples * samples))) if len(samples) else 0.0
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
