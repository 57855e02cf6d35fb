"""The speaker's one source of time (timers, alarms, spoken time, night dimming), behind one
small interface so tests control it: no test reads the wall clock, the time zone or the date.

:class:`SystemClock` is the real one. :class:`FakeClock` is for tests in the same process (time
moves only when the test calls :meth:`FakeClock.advance`). For tests that restart the daemon, the
environment variable ``APPLIANCE_TEST_CLOCK`` names a file holding the current time as epoch
seconds; :func:`default_clock` (the one place that reads it) then returns a :class:`FileClock`
that follows the file. Never set it in production.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Protocol

TEST_CLOCK_ENV = "APPLIANCE_TEST_CLOCK"


class Clock(Protocol):
    def wall(self) -> float:
        """Epoch seconds (for what must survive a restart, and for alarms)."""

    def monotonic(self) -> float:
        """Seconds that never jump (for durations)."""

    def now(self) -> datetime:
        """The local wall-clock time, timezone-aware."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now().astimezone()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """Time stands still until :meth:`advance`; sleepers wake when their time has come.

    Local time is ``tz`` (UTC unless given), never the machine's time zone."""

    def __init__(self, wall: float, tz: tzinfo = UTC) -> None:
        self._wall = wall
        self._mono = 1000.0
        self._tzinfo = tz
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall, self._tzinfo)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + max(0.0, seconds), future))
        self._wake()
        await future

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._mono += seconds
        self._wake()

    def _wake(self) -> None:
        waiting = []
        for due, future in self._sleepers:
            if future.done():
                continue
            if due <= self._mono:
                future.set_result(None)
            else:
                waiting.append((due, future))
        self._sleepers = waiting


class FileClock:
    """Test clock for child processes: the time is whatever the file says (epoch seconds)."""

    POLL_S = 0.02

    def __init__(self, path: Path) -> None:
        self.path = path

    def wall(self) -> float:
        try:
            wall = float(self.path.read_text().strip())
        except (OSError, ValueError):
            return time.time()
        return wall if math.isfinite(wall) else time.time()

    def monotonic(self) -> float:
        return self.wall()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall()).astimezone()

    async def sleep(self, seconds: float) -> None:
        until = self.wall() + max(0.0, seconds)
        while self.wall() < until:  # noqa: ASYNC110 (the file is the clock: poll it)
            await asyncio.sleep(self.POLL_S)


def minute_of_day(clock: Clock) -> int:
    """Minutes after local midnight (the LEDs' night-dim schedule)."""
    now = clock.now()
    return now.hour * 60 + now.minute


def default_clock() -> Clock:
    path = os.environ.get(TEST_CLOCK_ENV)
    return FileClock(Path(path)) if path else SystemClock()
