"""The user's own commands (``[[skills.commands]]``): a templated answer, MQTT message and/or
program run.

``{slot}`` in the response, the MQTT payload/topic and each program argument is replaced by what
was heard (no shell is involved). Programs and publishing run as tracked background tasks, never
on the audio path; a program that fails or outlives ``timeout_s`` (it is then killed, with its
children) is logged and a short apology is spoken once the assistant is quiet.

Publishing goes through a :class:`Publisher` (the MQTT side provides one: ``Link.publish`` fits);
until one is set, messages are logged and kept in :attr:`LogPublisher.published`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Coroutine
from typing import Any, Protocol

from appliance.controller import Controller, Recognition, Reply
from appliance.events import MQTT_PUBLISH, EventBus, State, StateChanged, UserEvent
from appliance.skills.core import describe
from appliance.skills.ring import say
from appliance.skills.settings import CommandSettings

_LOGGER = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
QUIET_WAIT_S = 60.0
STDERR_TAIL = 300


class Publisher(Protocol):
    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> bool: ...


class LogPublisher:
    """Stands in until MQTT provides a publisher: logs and keeps what would have been sent."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> bool:
        _LOGGER.info("MQTT not connected; not published: %s %s", topic, payload)
        self.published.append((topic, payload))
        return False


class EventPublisher:
    """Hands messages to the MQTT service through the event stream (a ``UserEvent``); MQTT sends
    them when connected. True means handed over, not delivered."""

    def __init__(self, events: EventBus) -> None:
        self.events = events

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> bool:
        self.events.publish(UserEvent(MQTT_PUBLISH,
                                      {"topic": topic, "payload": payload, "retain": retain}))
        return True


def fill(template: str, slots: dict[str, Any]) -> str:
    """"Setting {room} to {level}" with slots -> text; unknown slots become ""."""
    return _PLACEHOLDER.sub(lambda m: str(slots.get(m.group(1), "")), template)


class CustomCommands:
    def __init__(self, controller: Controller, commands: tuple[CommandSettings, ...],
                 publisher: Publisher | None = None) -> None:
        self.controller = controller
        self.commands = {cmd.intent: cmd for cmd in commands}
        self.publisher: Publisher = publisher or LogPublisher()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def intents(self) -> frozenset[str]:
        return frozenset(self.commands)

    def handle(self, recognition: Recognition) -> Reply:
        cmd = self.commands[recognition.name]
        slots = recognition.slots
        if cmd.mqtt_topic:
            self._spawn(self._publish(cmd, slots), f"mqtt-{cmd.intent}")
        if cmd.command:
            argv = [fill(arg, slots) for arg in cmd.command]
            self._spawn(self._run(cmd, argv), f"hook-{cmd.intent}")
        return Reply(fill(cmd.response, slots))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, cmd: CommandSettings, slots: dict[str, Any]) -> None:
        topic, payload = fill(cmd.mqtt_topic, slots), fill(cmd.mqtt_payload, slots)
        if not await self.publisher.publish(topic, payload):
            _LOGGER.warning("%s: MQTT message to %s not sent", cmd.intent, topic)

    async def _run(self, cmd: CommandSettings, argv: list[str]) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as err:
            await self._failed(cmd, f"cannot start {argv[0]}: {err}")
            return
        try:
            async with asyncio.timeout(cmd.timeout_s):
                _out, err_bytes = await proc.communicate()
        except TimeoutError:
            await _kill(proc)
            await self._failed(cmd, f"{argv[0]} still running after {cmd.timeout_s}s: killed")
            return
        finally:
            if proc.returncode is None:
                await _kill(proc)
        if proc.returncode != 0:
            tail = err_bytes.decode(errors="replace").strip()[-STDERR_TAIL:]
            await self._failed(cmd, f"{argv[0]} exited with {proc.returncode}: {tail}")
        else:
            _LOGGER.info("%s: %s done", cmd.intent, argv[0])

    async def _failed(self, cmd: CommandSettings, why: str) -> None:
        _LOGGER.error("command for %s failed: %s", cmd.intent, why)
        await wait_until_quiet(self.controller, QUIET_WAIT_S)
        await say(self.controller, f"Sorry, {describe(cmd.intent)} failed.")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the program and everything it started (its own session), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


async def wait_until_quiet(controller: Controller, timeout_s: float) -> None:
    """Until the assistant is idle (or muted), so an announcement does not cut a conversation."""
    quiet = (State.IDLE, State.MUTED)
    with controller.events.subscribe() as sub, contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while controller.state not in quiet:
                event = await sub.get()
                if isinstance(event, StateChanged) and event.new in quiet:
                    return
