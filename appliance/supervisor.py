"""Every background task has an owner that knows what its failure means.

:meth:`Supervisor.fire` runs a one-shot side task (a chime, saving a recording): a failure is
logged, and reported to the caller's ``on_error`` if it gave one, and touches nothing else.
:meth:`Supervisor.keep_running` runs a long-lived service (the timers' scheduler): when it
dies it is logged with its traceback and started again after a capped, jittered backoff; a run
that lasted ``healthy_s`` resets the backoff. :meth:`close` cancels and awaits them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from appliance.backoff import Backoff

_LOGGER = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Supervisor:
    """``sleep`` and ``monotonic`` are injected: tests restart a service without waiting."""

    def __init__(self, *, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] | None = None,
                 restart_initial_s: float = 1.0, restart_max_s: float = 60.0,
                 healthy_s: float = 60.0) -> None:
        self._sleep = sleep
        self._monotonic = monotonic or time.monotonic
        self._restart = (restart_initial_s, restart_max_s)
        self._healthy_s = healthy_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self.restarts: dict[str, int] = {}

    def fire(self, coro: Coroutine[Any, Any, Any], name: str,
             on_error: Callable[[BaseException], None] | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` once; its failure is logged (and given to ``on_error``), nothing more."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._fired_done(t, on_error))
        return task

    def _fired_done(self, task: asyncio.Task[Any],
                    on_error: Callable[[BaseException], None] | None) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (err := task.exception()) is None:
            return
        if on_error is not None:
            on_error(err)
        else:
            _LOGGER.warning("%s failed: %s: %s", task.get_name(), type(err).__name__, err)

    def keep_running(self, name: str,
                     service: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        """Run ``service()`` until cancelled, starting it again whenever it fails."""
        task = asyncio.get_running_loop().create_task(self._keep(name, service), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _keep(self, name: str, service: Callable[[], Coroutine[Any, Any, None]]) -> None:
        backoff = Backoff(*self._restart)
        while True:
            started = self._monotonic()
            try:
                await service()
                return  # it finished by itself: nothing to restart
            except Exception as err:  # any failure of a service is logged here
                if self._monotonic() - started >= self._healthy_s:
                    backoff.reset()
                delay = backoff.next_delay()
                self.restarts[name] = self.restarts.get(name, 0) + 1
                _LOGGER.error("%s failed; restarting it in %.1f s", name, delay, exc_info=err)
            await self._sleep(delay)

    async def close(self) -> None:
        """Cancel every task and wait for it to end (no orphan tasks)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
