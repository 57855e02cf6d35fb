"""sd_notify(3) without libsystemd: tell systemd we are ready, what we are doing, and alive.

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) to a
``Type=notify`` service; each message is one datagram of ``KEY=VALUE`` lines. Outside systemd the
variable is unset and every call here does nothing, so the daemon calls it unconditionally.

The watchdog is petted from the event loop, at half of ``$WATCHDOG_USEC``, and only while the
daemon says it is healthy: a blocked loop or a stuck pipeline stops the pings and systemd restarts
the service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from appliance.events import State, StateChanged

_LOGGER = logging.getLogger(__name__)

SEND_TIMEOUT_S = 0.5


def socket_address(value: str) -> str:
    """``$NOTIFY_SOCKET`` as a ``sendto`` address: ``@name`` is the abstract socket ``\\0name``."""
    return "\0" + value[1:] if value.startswith("@") else value


def watchdog_usec(env: Mapping[str, str], pid: int) -> int:
    """The watchdog timeout systemd set for *this* process, or 0 when there is none."""
    usec = env.get("WATCHDOG_USEC", "")
    owner = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (owner and owner != str(pid)):
        return 0
    return int(usec)


class Notifier:
    """Sends sd_notify messages; a no-op when ``$NOTIFY_SOCKET`` is unset (not under systemd)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = socket_address(raw) if raw else ""
        self.watchdog_usec = watchdog_usec(env, os.getpid())
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def ready(self, status: str) -> None:
        """Start-up (or a reload) is complete: models loaded, audio open."""
        self.send(f"READY=1\nSTATUS={_one_line(status)}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={_one_line(text)}")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=stopping")

    def reloading(self) -> None:
        """Reloading the configuration; call :meth:`ready` again when done."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading configuration")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def send(self, message: str) -> None:
        """Send one datagram; failures are logged (once at warning level), never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Wait briefly when systemd's queue is full (READY=1 must not be lost), but never
                # hold up the event loop for long.
                sock.settimeout(SEND_TIMEOUT_S)
                sock.sendto(message.encode(), self._address)
        except OSError as err:
            level = logging.DEBUG if self._warned else logging.WARNING
            _LOGGER.log(level, "cannot notify systemd at %s: %s", self._address, err)
            self._warned = True


def _one_line(text: str) -> str:
    return " ".join(text.split())


_STATUS_TEXT = {
    State.STARTING: "starting: loading models",
    State.IDLE: "listening for the wake word",
    State.WAKE: "wake word heard",
    State.LISTENING: "listening to a command",
    State.THINKING: "understanding the command",
    State.SPEAKING: "speaking",
    State.MUTED: "muted: microphone off",
    State.ERROR: "error",
}


def status_line(event: StateChanged) -> str:
    """The systemd STATUS= text for a state change (``systemctl status`` shows it)."""
    text = state_status(event.new)
    return f"{text}: {event.reason}" if event.reason else text


def state_status(state: State) -> str:
    """What the assistant is doing in ``state``, as the status line says it."""
    return _STATUS_TEXT.get(state, str(state))


async def run_watchdog(notifier: Notifier, healthy: Callable[[], bool]) -> None:
    """Send WATCHDOG=1 every half watchdog period while ``healthy()``; returns at once if
    systemd set no watchdog. Runs until cancelled (start it in the daemon's TaskGroup)."""
    if not notifier.enabled or notifier.watchdog_usec <= 0:
        _LOGGER.debug("no systemd watchdog requested")
        return
    interval_s = notifier.watchdog_usec / 2_000_000
    _LOGGER.debug("petting the systemd watchdog every %.1f s while healthy", interval_s)
    was_healthy = True
    while True:
        ok = _is_healthy(healthy)
        if ok:
            notifier.watchdog()
        if ok != was_healthy:
            _log_health_change(ok)
            was_healthy = ok
        await asyncio.sleep(interval_s)


def _is_healthy(healthy: Callable[[], bool]) -> bool:
    try:
        return bool(healthy())
    except Exception:
        _LOGGER.exception("health check failed: counting as unhealthy")
        return False


def _log_health_change(ok: bool) -> None:
    if ok:
        _LOGGER.info("healthy again: petting the systemd watchdog")
    else:
        _LOGGER.warning("unhealthy: not petting the systemd watchdog (systemd will restart us)")
