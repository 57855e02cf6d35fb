"""A real restart: the daemon hears a timer and an alarm, is killed (no clean shutdown), starts
again, and both still ring at their times. Time comes from a file (``APPLIANCE_TEST_CLOCK``,
read only by :func:`appliance.clock.default_clock`) so nobody waits ten real minutes."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import RATE_HZ
from appliance.clock import TEST_CLOCK_ENV

from ..conftest import Voices
from ..core.daemon_proc import DaemonProcess

pytestmark = pytest.mark.models

FEED = Path(__file__).with_name("feed_audio.py")
T0 = datetime(2030, 1, 7, 6, 50, tzinfo=UTC).timestamp()  # a Monday, 06:50 (daemons run in UTC)


def config(tmp: Path, mic: list[str]) -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f"[audio.input]\ncommand = {json.dumps(mic)}\n"
        f'[audio.output]\ncommand = ["sh", "-c", "cat > /dev/null"]\n'
        f'[intent]\nsentences_dirs = []\n[skills]\nstate_dir = "{tmp / "state"}"\n')
    return path


def set_time(clock_file: Path, wall: float) -> None:
    tmp = clock_file.with_suffix(".tmp")
    tmp.write_text(repr(wall))
    tmp.replace(clock_file)


def wait_for_file(path: Path, check: object, timeout_s: float, daemon: DaemonProcess
                  ) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            data: dict[str, object] = json.loads(path.read_text())
            if callable(check) and check(data):
                return data
        time.sleep(0.2)
    log = "\n".join(daemon.lines[-40:])
    raise AssertionError(f"{path} never held the expected state; the daemon said:\n{log}")


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.stop()


def hear(tmp: Path, env: dict[str, str], voices: Voices, command: str, check: object,
         daemons: list[DaemonProcess]) -> dict[str, object]:
    """Start the daemon, say "Hey Jarvis. <command>", wait until it is saved, kill -9."""
    gap = np.zeros(int(0.4 * RATE_HZ), np.int16)
    speech = np.concatenate([gap, voices.piper_pcm("Hey Jarvis."), gap,
                             voices.piper_pcm(command)])
    raw = tmp / "speech.raw"
    raw.write_bytes(speech.astype("<i2").tobytes())
    daemon = DaemonProcess(config(tmp, [sys.executable, str(FEED), str(raw)]), env)
    daemons.append(daemon)
    saved = wait_for_file(tmp / "state" / "schedule.json", check, 240, daemon)
    daemon.proc.kill()  # power loss: no clean shutdown
    daemon.proc.wait(10)
    return saved


def test_timer_and_alarm_ring_after_a_kill_and_restart(
    tmp_path: Path, voices: Voices, daemons: list[DaemonProcess]
) -> None:
    clock_file = tmp_path / "clock"
    set_time(clock_file, T0)
    env = {**os.environ, TEST_CLOCK_ENV: str(clock_file)}
    saved = hear(tmp_path, env, voices, "Set a timer for ten minutes.",
                 lambda d: d["timers"], daemons)
    assert saved["timers"][0]["due_wall"] == pytest.approx(T0 + 600, abs=1)  # type: ignore[index]
    set_time(clock_file, T0 + 120)
    saved = hear(tmp_path, env, voices, "Set an alarm for seven thirty.",
                 lambda d: d["alarms"], daemons)
    assert saved["alarms"][0]["due_wall"] == T0 + 40 * 60  # type: ignore[index]
    assert len(saved["timers"]) == 1  # type: ignore[arg-type]

    set_time(clock_file, T0 + 300)  # back on five minutes after the timer was set
    daemon = DaemonProcess(config(tmp_path, [sys.executable, str(FEED)]), env)
    daemons.append(daemon)
    daemon.wait_for("state starting -> idle", timeout_s=240)
    mark = daemon.mark()
    assert not [x for x in daemon.lines if "ringing:" in x]  # not before its time
    set_time(clock_file, T0 + 601)
    line = daemon.wait_for("ringing: timer", mark, timeout_s=30)
    assert not [x for x in daemon.since(mark) if "ringing: alarm" in x], line
    set_time(clock_file, T0 + 40 * 60 + 1)
    daemon.wait_for("ringing: alarm", mark, timeout_s=30)
    assert not [x for x in daemon.lines if "missed while off" in x]
    assert not [x for x in daemon.lines if "Traceback" in x]
    assert daemon.stop() == 0  # a clean stop, even while ringing
