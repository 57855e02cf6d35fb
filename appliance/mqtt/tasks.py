"""Flood control for the MQTT service: what a burst of incoming messages may start.

- :class:`TaskSet`: a small, bounded set of named tasks (speaking a Hermes ``say`` must not
  block the inbox).
- :class:`Coalesced`: one job that a burst of requests runs once (Home Assistant's ``online``).
- :class:`TopicQueues`: the messages waiting to be handled, a bounded queue per topic, served
  in turn, so a flood on one topic cannot hold up the others.
- :class:`HoldOff`: at most one start per interval (``listen``); pure, the caller passes the time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


class TaskSet:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> bool:
        """Start ``coro``; False (and ``coro`` closed) when ``limit`` tasks are still running."""
        if len(self._tasks) >= self._limit:
            coro.close()
            return False
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("task %s failed: %s", task.get_name(), task.exception())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # Failures were logged by _done; cancellations are what we asked for.
        await asyncio.gather(*tasks, return_exceptions=True)


class Coalesced:
    """``job`` run ``settle_s`` after it was asked for; asking again while it waits or runs
    changes nothing, so a burst of requests runs it once."""

    def __init__(self, job: Callable[[], Awaitable[None]], settle_s: float, name: str) -> None:
        self._job = job
        self._settle_s = settle_s
        self._name = name
        self._task = TaskSet(1)

    def request(self) -> bool:
        """True if this started the job; False if it was already waiting or running."""
        if self._task:
            return False
        return self._task.spawn(self._settled(), self._name)

    async def _settled(self) -> None:
        await asyncio.sleep(self._settle_s)
        await self._job()

    async def close(self) -> None:
        await self._task.close()


class TopicQueues(Generic[T]):
    """Items waiting, in a queue of at most ``per_topic`` for each topic, served in turn.

    Topics take turns (round robin), so an item waits behind at most one item of every other
    busy topic. When a topic's queue is full its oldest item makes room: for commands, the
    latest one counts. Holds the storage of :func:`appliance.mqtt.connection.fair_queue`.
    """

    def __init__(self, per_topic: int) -> None:
        self._per_topic = per_topic
        self._queues: OrderedDict[str, deque[T]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[T]:
        for queue in self._queues.values():
            yield from queue

    def put(self, topic: str, item: T) -> bool:
        """Queue ``item``; False if the topic's oldest item was dropped to make room for it."""
        queue = self._queues.setdefault(topic, deque())
        full = len(queue) >= self._per_topic
        if full:
            queue.popleft()
        else:
            self._count += 1
        queue.append(item)
        return not full

    def pop(self) -> T:
        """The oldest item of the topic whose turn it is (IndexError when empty)."""
        if not self._queues:
            raise IndexError("pop from empty TopicQueues")
        topic, queue = next(iter(self._queues.items()))
        item = queue.popleft()
        self._count -= 1
        if queue:
            self._queues.move_to_end(topic)  # its turn is over
        else:
            del self._queues[topic]
        return item


class HoldOff:
    """Allows one start, then none for ``hold_s`` seconds."""

    def __init__(self, hold_s: float) -> None:
        self._hold_s = hold_s
        self._last_s: float | None = None

    def allow(self, now_s: float) -> bool:
        if self._last_s is not None and now_s - self._last_s < self._hold_s:
            return False
        self._last_s = now_s
        return True
