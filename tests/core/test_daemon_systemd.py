"""The real daemon under a fake systemd: READY, STATUS, WATCHDOG, STOPPING, SIGHUP, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import PulseDevices, Voices
from .daemon_proc import DaemonProcess
from .test_daemon_audio import CONFIG as AUDIO_CONFIG

pytestmark = [pytest.mark.audio, pytest.mark.models]

# The audio test's devices, with a short stall time for the watchdog check.
CONFIG = AUDIO_CONFIG + "[pipeline]\nwatchdog_stall_s = 1.5\n"


class FakeSystemd:
    """A NOTIFY_SOCKET the daemon reports to, as systemd would read it."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.path = path
        self.messages: list[tuple[float, str]] = []

    def drain(self) -> list[str]:
        while True:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return [m for _, m in self.messages]
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in m for m in self.drain()):
                return
        raise AssertionError(f"no {text!r} from the daemon: {self.drain()}")

    def now(self) -> float:
        """The current time, after taking in everything sent so far (messages are stamped on
        receipt)."""
        self.drain()
        return time.monotonic()

    def count_since(self, text: str, since: float) -> int:
        self.drain()
        return sum(text in m for t, m in self.messages if t >= since)


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.sock.close()


def capture_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "arecord"], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_ready_watchdog_reload_and_stop(
    systemd: FakeSystemd, pulse_devices: PulseDevices, voices: Voices, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {**pulse_devices.env, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "1000000"}
    daemon = DaemonProcess(config, env)
    try:
        systemd.wait_for("READY=1", 180)
        ready = [m for m in systemd.drain() if "READY=1" in m]
        # READY is sent on the first state change, which comes after the models loaded and the
        # microphone delivered audio.
        assert ready == ["READY=1\nSTATUS=listening for the wake word: ready"]
        log = "\n".join(daemon.lines)
        assert log.index("models loaded") < log.index("state starting -> idle")
        start = systemd.now()
        time.sleep(2.0)
        assert systemd.count_since("WATCHDOG=1", start) >= 3  # every 0.5 s while healthy

        # A hung capture: no frames, so the pipeline is unhealthy and the pings stop.
        (arecord,) = capture_children(daemon.proc.pid)
        os.kill(arecord, signal.SIGSTOP)
        time.sleep(2.5)
        stalled = systemd.now()
        time.sleep(1.5)
        assert systemd.count_since("WATCHDOG=1", stalled) == 0
        os.kill(arecord, signal.SIGCONT)
        resumed = systemd.now()
        time.sleep(1.5)
        assert systemd.count_since("WATCHDOG=1", resumed) >= 1

        # SIGHUP: the configuration is read again; only what changed is rebuilt.
        mark = daemon.mark()
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("reloaded; changed: nothing", mark, timeout_s=20)
        assert any("RELOADING=1" in m for m in systemd.drain())
        config.write_text(CONFIG.replace("[intent]", "volume = 40\n[intent]"))
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("reloaded; changed: audio", mark, timeout_s=20)
        assert "models loaded" not in "\n".join(daemon.since(mark))
    finally:
        assert daemon.stop() == 0
    assert any("STOPPING=1" in m for m in systemd.drain())
