"""sd_notify and the watchdog, against a notify socket bound by the test (as systemd would)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from appliance.events import State, StateChanged
from appliance.system.sdnotify import Notifier, run_watchdog, status_line, watchdog_usec
from tests.system.helpers import NotifyListener


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier(env={})
    assert not notifier.enabled
    notifier.ready("ready")
    notifier.status("x")
    notifier.stopping()
    notifier.reloading()
    notifier.watchdog()


async def test_watchdog_returns_at_once_when_systemd_set_none(
    notify_socket: NotifyListener,
) -> None:
    notifier = Notifier(env={"NOTIFY_SOCKET": notify_socket.env_value})
    async with asyncio.timeout(5):
        await run_watchdog(notifier, lambda: True)
    assert notify_socket.drain() == []


def test_messages_reach_the_socket(notify_socket: NotifyListener) -> None:
    notifier = Notifier(env={"NOTIFY_SOCKET": notify_socket.env_value})
    notifier.ready("listening for\nthe wake word")
    notifier.status("speaking")
    notifier.stopping()
    assert notify_socket.receive(3) == [
        "READY=1\nSTATUS=listening for the wake word",
        "STATUS=speaking",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_reloading_carries_the_monotonic_clock(notify_socket: NotifyListener) -> None:
    notifier = Notifier(env={"NOTIFY_SOCKET": notify_socket.env_value})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    (message,) = notify_socket.receive(1)
    fields = dict(line.split("=", 1) for line in message.splitlines())
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


def test_abstract_socket_names(abstract_notify_socket: NotifyListener) -> None:
    assert abstract_notify_socket.env_value.startswith("@")
    Notifier(env={"NOTIFY_SOCKET": abstract_notify_socket.env_value}).watchdog()
    assert abstract_notify_socket.receive(1) == ["WATCHDOG=1"]


def test_a_missing_socket_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(env={"NOTIFY_SOCKET": "/nonexistent/notify.sock"})
    with caplog.at_level(logging.WARNING):
        notifier.ready("x")
        notifier.ready("x")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "/nonexistent/notify.sock" in warnings[0].getMessage()


def test_watchdog_is_for_this_process_only() -> None:
    pid = os.getpid()
    assert watchdog_usec({"WATCHDOG_USEC": "30000000"}, pid) == 30_000_000
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(pid)}, pid) == 30_000_000
    assert watchdog_usec({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(pid + 1)}, pid) == 0
    assert watchdog_usec({"WATCHDOG_USEC": "soon"}, pid) == 0
    assert watchdog_usec({}, pid) == 0


def test_status_line_from_state_changes() -> None:
    assert status_line(StateChanged(State.STARTING, State.IDLE)) == "listening for the wake word"
    assert status_line(StateChanged(State.IDLE, State.ERROR, "microphone unplugged")) == (
        "error: microphone unplugged")
    for state in State:
        assert status_line(StateChanged(State.IDLE, state))


# A stand-in daemon: run_watchdog in a TaskGroup, the event loop blocked by time.sleep (a hang),
# then a spell of unhealthy. Markers on the same socket order the pings against the phases.
_PROGRAM = textwrap.dedent("""
    import asyncio, time
    from appliance.system.sdnotify import Notifier, run_watchdog

    async def main():
        notifier = Notifier()
        state = {"calls": 0, "healthy": True}
        progressed = asyncio.Event()

        def healthy():
            state["calls"] += 1
            progressed.set()
            return state["healthy"]

        async def checks(n):
            target = state["calls"] + n
            while state["calls"] < target:
                progressed.clear()
                await progressed.wait()

        async with asyncio.timeout(30), asyncio.TaskGroup() as tg:
            task = tg.create_task(run_watchdog(notifier, healthy), name="watchdog")
            notifier.ready("up")
            await checks(3)
            notifier.send("X_PHASE=hang")
            time.sleep(1.0)  # the event loop is stuck: 20 watchdog periods pass
            notifier.send("X_PHASE=resumed")
            await checks(3)
            state["healthy"] = False
            notifier.send("X_PHASE=unhealthy")
            await checks(3)
            notifier.send("X_PHASE=healthy")
            state["healthy"] = True
            await checks(3)
            notifier.send("X_PHASE=done")
            task.cancel()

    asyncio.run(main())
""")


def test_watchdog_pings_only_while_the_loop_runs_and_is_healthy(
    notify_socket: NotifyListener,
) -> None:
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.env_value, "WATCHDOG_USEC": "100000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-c", _PROGRAM], env=env)
    try:
        messages = notify_socket.until("X_PHASE=done")
    finally:
        assert proc.wait(timeout=30) == 0
    assert messages[0] == "READY=1\nSTATUS=up"
    phases = _split_by_phase(messages[1:])
    assert list(phases) == ["start", "hang", "resumed", "unhealthy", "healthy", "done"]
    assert phases["start"].count("WATCHDOG=1") >= 2
    assert phases["hang"] == []  # blocked loop: no pings
    assert phases["resumed"].count("WATCHDOG=1") >= 2
    assert phases["unhealthy"] == []  # unhealthy: no pings
    assert phases["healthy"].count("WATCHDOG=1") >= 2
    assert set(phases["start"] + phases["resumed"] + phases["healthy"]) == {"WATCHDOG=1"}


def _split_by_phase(messages: list[str]) -> dict[str, list[str]]:
    phases: dict[str, list[str]] = {"start": []}
    current = "start"
    for message in messages:
        if message.startswith("X_PHASE="):
            current = message.removeprefix("X_PHASE=")
            phases[current] = []
        else:
            phases[current].append(message)
    return phases


async def test_a_crashing_health_check_counts_as_unhealthy(notify_socket: NotifyListener) -> None:
    notifier = Notifier(env={"NOTIFY_SOCKET": notify_socket.env_value, "WATCHDOG_USEC": "20000"})
    calls = 0
    enough = asyncio.Event()

    def healthy() -> bool:
        nonlocal calls
        calls += 1
        if calls >= 6:
            enough.set()
        if calls <= 3:
            raise RuntimeError("pipeline state unreadable")
        return True

    task = asyncio.create_task(run_watchdog(notifier, healthy), name="watchdog")
    try:
        async with asyncio.timeout(10):
            await enough.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls >= 6
    assert notify_socket.drain() == ["WATCHDOG=1"] * (calls - 3)
