"""Fixtures for the appliance-system tests: a fake systemd notify socket, the PulseAudio test
devices in this process's environment, and a throwaway mosquitto."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.helpers import NotifyListener, PulseTestDevices, free_port

START_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------------------------
# systemd notify socket


@pytest.fixture
def notify_socket() -> Iterator[NotifyListener]:
    # A short path: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path can be longer.
    folder = Path(tempfile.mkdtemp(prefix="notify-", dir="/tmp"))
    listener = NotifyListener(str(folder / "n.sock"), str(folder / "n.sock"))
    try:
        yield listener
    finally:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def abstract_notify_socket() -> Iterator[NotifyListener]:
    name = f"appliance-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = NotifyListener("\0" + name, "@" + name)
    try:
        yield listener
    finally:
        listener.close()


# ---------------------------------------------------------------------------------------------
# PulseAudio: the lead's session-wide ``pulse_devices`` (tests/conftest.py)


@pytest.fixture
def pulse(pulse_devices: PulseTestDevices, monkeypatch: pytest.MonkeyPatch) -> PulseTestDevices:
    """The PulseAudio test devices, with this process's environment pointing ALSA's ``pulse``
    device at them (the doctor's arecord/aplay children inherit it)."""
    for key in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
        monkeypatch.setenv(key, pulse_devices.env[key])
    return pulse_devices


# ---------------------------------------------------------------------------------------------
# mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    """An anonymous broker on a free loopback port; yields the port."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}persistence false\nlistener {port} 127.0.0.1\nallow_anonymous true\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(port):
            assert proc.poll() is None, "mosquitto exited"
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
