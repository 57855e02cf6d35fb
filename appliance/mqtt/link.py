"""The current broker connection, shared by everything that publishes; offline it drops messages.

State topics are kept by :class:`~appliance.mqtt.outbound.Outbound` and republished on reconnect,
so dropping while offline loses no state; one-off events (a wake word an hour ago) are not
replayed late on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt

_LOGGER = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0


def cancel_checkpoint() -> None:
    """Raise CancelledError if this task was asked to stop.

    On Python 3.11, ``asyncio.wait_for`` (used by aiomqtt for every acknowledged call) can
    swallow a cancellation that arrives just as the operation completes; checking after each
    such call keeps shutdown reliable.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def to_json(data: Any) -> str:
    return json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":"))


class Link:
    def __init__(self) -> None:
        self._client: aiomqtt.Client | None = None
        self.dropped = 0  # messages not sent because the broker was unreachable

    @property
    def connected(self) -> bool:
        return self._client is not None

    def attach(self, client: aiomqtt.Client) -> None:
        self._client = client

    def detach(self) -> None:
        self._client = None

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> bool:
        """Send now if connected (QoS 1 for retained state, 0 for events); False if not sent."""
        client = self._client
        if client is None:
            self.dropped += 1
            return False
        try:
            await client.publish(
                topic, payload, qos=1 if retain else 0, retain=retain, timeout=PUBLISH_TIMEOUT_S
            )
        except (TimeoutError, aiomqtt.MqttError) as err:
            self.dropped += 1
            _LOGGER.debug("not published to %s: %s", topic, err)
            return False
        finally:
            cancel_checkpoint()
        return True

    async def publish_json(self, topic: str, data: Any, *, retain: bool = False) -> bool:
        return await self.publish(topic, to_json(data), retain=retain)
