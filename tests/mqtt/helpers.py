"""Test helpers: settings through the real parser, a running service, a recording MQTT client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt

from appliance.mqtt.service import MqttService
from appliance.mqtt.settings import MqttSettings
from appliance.settings import load_settings

TIMEOUT_S = 15.0


def mqtt_settings(port: int, **overrides: Any) -> MqttSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "site_id": f"t{uuid.uuid4().hex[:8]}",
        "reconnect_initial_s": 0.05, "reconnect_max_s": 0.3, "hermes_reply_timeout_s": 5.0,
    }
    values.update(overrides)
    return load_settings(overrides={"mqtt": values}).mqtt


@contextlib.asynccontextmanager
async def running(
    service: MqttService, recorder: Recorder | None = None
) -> AsyncIterator[MqttService]:
    """Run ``service``; with ``recorder``, wait until it announced itself ``online``."""
    task = asyncio.create_task(service.run(), name="test-mqtt-service")
    try:
        if recorder is not None:
            await recorder.wait_for(service.topics.availability, lambda m: text(m) == "online")
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT_S)


def text(message: aiomqtt.Message) -> str:
    payload = message.payload
    return payload.decode() if isinstance(payload, bytes) else str(payload)


def as_json(message: aiomqtt.Message) -> Any:
    return json.loads(text(message))


class Recorder:
    """Everything a plain client subscribed to ``#`` received, and a way to wait for more."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        async for message in self.client.messages:
            async with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if m.topic.matches(topic)]

    async def wait_for(
        self, topic: str, match: Callable[[aiomqtt.Message], bool] = lambda m: True,
        *, after: int = 0,
    ) -> aiomqtt.Message:
        """The first message on ``topic`` (a filter) from index ``after`` on that ``match``es."""

        def found() -> aiomqtt.Message | None:
            for message in self.messages[after:]:
                if message.topic.matches(topic) and match(message):
                    return message
            return None

        async with asyncio.timeout(TIMEOUT_S), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        result = found()
        if result is None:
            raise AssertionError(f"no message on {topic}")
        return result


@contextlib.asynccontextmanager
async def recording_client(
    port: int, topics: tuple[str, ...] = ("#",), **kw: Any
) -> AsyncIterator[Recorder]:
    client = aiomqtt.Client("127.0.0.1", port, identifier=f"rec-{uuid.uuid4().hex[:8]}", **kw)
    async with asyncio.timeout(TIMEOUT_S):
        await client.__aenter__()
    recorder = Recorder(client)
    task = asyncio.create_task(recorder.run(), name="test-recorder")
    try:
        async with asyncio.timeout(TIMEOUT_S):
            for topic in topics:
                await client.subscribe(topic)
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await asyncio.wait_for(task, TIMEOUT_S)
        with contextlib.suppress(aiomqtt.MqttError):
            await asyncio.wait_for(client.__aexit__(None, None, None), TIMEOUT_S)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (cheap, in-process state) until true; fail after TIMEOUT_S."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not condition():  # noqa: ASYNC110 - plain attributes, no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
