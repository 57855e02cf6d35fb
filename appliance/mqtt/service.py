"""The MQTT service the daemon runs: events out, commands in, over a self-healing connection."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from appliance.controller import Controller, Recognition, Reply
from appliance.mqtt.connection import connection_loop, fair_queue
from appliance.mqtt.dialogue import Dialogue, HermesIntentHandler
from appliance.mqtt.discovery import DeviceInfo, is_listening
from appliance.mqtt.inbound import Inbound
from appliance.mqtt.link import Link, cancel_checkpoint
from appliance.mqtt.outbound import Outbound
from appliance.mqtt.payloads import WarnLimiter
from appliance.mqtt.settings import MqttSettings, resolve_site_id
from appliance.mqtt.tasks import Coalesced, HoldOff
from appliance.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)
WARN_INTERVAL_S = 60.0
OFFLINE_TIMEOUT_S = 2.0
MAX_WAITING_PER_TOPIC = 16  # messages of one topic waiting to be handled; then the oldest goes
HA_ONLINE_SETTLE_S = 1.0  # Home Assistant said "online": republish once, this long after
LISTEN_HOLD_S = 1.0  # after a listen command starts listening, further ones are ignored


@dataclass
class Stats:
    received: int = 0  # messages taken from the broker and fully handled
    rejected: int = 0  # of which unusable (bad payload, unknown topic)
    dropped: int = 0  # not handled: too many were waiting on their topic


class MqttService:
    """Owns the link to the broker; ``intent_handler`` answers intents through Hermes skills."""

    def __init__(
        self, settings: MqttSettings, controller: Controller, *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.site_id = resolve_site_id(settings)
        self.topics = Topics.for_site(settings, self.site_id)
        self.stats = Stats()
        self._controller = controller
        self._clock = clock
        self._limiter = WarnLimiter(WARN_INTERVAL_S)
        self._link = Link()
        self._republish = Coalesced(self._publish_discovery, HA_ONLINE_SETTLE_S, "mqtt-discovery")
        self._listen_hold = HoldOff(LISTEN_HOLD_S)
        dialogue = Dialogue()
        self._outbound = Outbound(
            self._link, self.topics, self.site_id, hermes_on=settings.hermes, dialogue=dialogue
        )
        self._inbound = Inbound(
            controller, self.topics, self.site_id, hermes_on=settings.hermes, dialogue=dialogue,
            outbound=self._outbound, warn=self._warn, on_ha_online=self._ha_online,
            start_listening=self._start_listening,
            allow_remote_listen=settings.allow_remote_listen,
        )
        self.intent_handler = HermesIntentHandler(
            dialogue, self._outbound.announce_intent, settings.hermes_reply_timeout_s
        )

    @property
    def connected(self) -> bool:
        return self._link.connected

    async def run(self) -> None:
        """Until cancelled. Events are followed even while the broker is away."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._follow_events(), name="mqtt-events")
                inbox = fair_queue(MAX_WAITING_PER_TOPIC, self._dropped)
                group.create_task(
                    connection_loop(self.settings, self.topics.availability, self._serve,
                                    queue_type=inbox),
                    name="mqtt-connection",
                )
        finally:
            await self._inbound.speech.close()

    async def _follow_events(self) -> None:
        with self._controller.events.subscribe() as events:
            async for event in events:
                try:
                    await self._outbound.on_event(event)
                except Exception:
                    _LOGGER.exception("could not publish %s", type(event).__name__)

    async def _serve(self, client: aiomqtt.Client) -> None:
        self._link.attach(client)
        try:
            await client.subscribe([(topic, 1) for topic in self._inbound.subscriptions])
            cancel_checkpoint()
            await self._publish_discovery()
            await self._link.publish(self.topics.availability, "online", retain=True)
            async for message in client.messages:
                await self.handle_message(str(message.topic), message.payload)
                cancel_checkpoint()
        except asyncio.CancelledError:
            await self._say_offline(client)
            raise
        finally:
            self._link.detach()
            await self._republish.close()

    def _dropped(self, topic: str) -> None:
        """Too many were waiting on ``topic``: its oldest message was dropped (called by the
        connection's incoming queue)."""
        self.stats.dropped += 1
        self._warn(topic, f"more than {MAX_WAITING_PER_TOPIC} waiting; dropped the oldest")

    @property
    def subscriptions(self) -> list[str]:
        return self._inbound.subscriptions

    async def handle_message(self, topic: str, payload: object) -> None:
        """Act on one incoming message (the broker loop calls this; so can tests)."""
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        if not await self._inbound.handle(topic, data):
            self.stats.rejected += 1
        self.stats.received += 1

    async def _ha_online(self) -> None:
        """A burst of "online" (however long) republishes once; commands do not wait for it."""
        if self._republish.request():
            _LOGGER.debug("Home Assistant is online: discovery again in %.1f s",
                          HA_ONLINE_SETTLE_S)

    def _start_listening(self) -> None:
        """One listen command at a time: a flood of them starts one turn (and one chime)."""
        if is_listening(self._controller.state):
            _LOGGER.debug("ignored an MQTT listen command: already listening")
        elif not self._listen_hold.allow(self._clock()):
            _LOGGER.debug("ignored an MQTT listen command: one started listening less than "
                          "%.1f s ago", LISTEN_HOLD_S)
        else:
            self._controller.start_listening("mqtt")

    async def _publish_discovery(self) -> None:
        await self._outbound.publish_discovery(self._device())
        await self._outbound.publish_all_state(self._controller)

    def _device(self) -> DeviceInfo:
        return DeviceInfo(self.site_id, self.site_id, tuple(self._controller.wake_words),
                          remote_listen=self.settings.allow_remote_listen)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        try:
            await client.publish(
                self.topics.availability, "offline", qos=1, retain=True,
                timeout=OFFLINE_TIMEOUT_S,
            )
        except aiomqtt.MqttError as err:
            _LOGGER.debug("could not publish offline: %s", err)

    def _warn(self, topic: str, reason: str) -> None:
        held = self._limiter.check(topic, self._clock())
        if held is None:
            return
        more = f" ({held} more since the last warning)" if held else ""
        _LOGGER.warning("ignored an MQTT message on %.80r: %s%s", topic, reason, more)


class HermesSlot:
    """The intent handler ``run_mqtt`` registers once per controller; it forwards to the service
    running now (none: it declines at once), so restarting MQTT on a reload adds no handlers."""

    def __init__(self) -> None:
        self.handler: HermesIntentHandler | None = None

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        handler = self.handler
        return None if handler is None else await handler.handle(recognition, session_id)


_SLOTS: weakref.WeakKeyDictionary[Controller, HermesSlot] = weakref.WeakKeyDictionary()


def hermes_slot(controller: Controller) -> HermesSlot:
    slot = _SLOTS.get(controller)
    if slot is None:
        slot = _SLOTS[controller] = HermesSlot()
        controller.add_intent_handler(slot)
    return slot


async def run_mqtt(settings: MqttSettings, controller: Controller) -> None:
    """The daemon's MQTT task: returns at once when MQTT is off, else runs until cancelled.

    With ``hermes = true``, intents no local skill handles are offered to Hermes skills: the
    first call registers a :class:`HermesSlot` on ``controller`` (after the built-in skills).
    """
    if not settings.enabled:
        _LOGGER.info("MQTT is off ([mqtt] host is empty)")
        return
    service = MqttService(settings, controller)
    slot = hermes_slot(controller) if settings.hermes else None
    _LOGGER.info("MQTT: site %s, topics under %s/", service.site_id, service.topics.base)
    try:
        if slot is not None:
            slot.handler = service.intent_handler
        await service.run()
    finally:
        if slot is not None and slot.handler is service.intent_handler:
            slot.handler = None
