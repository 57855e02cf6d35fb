"""MQTT commands -> the controller. Every payload is checked first; a bad one changes nothing.

A rejected message costs one warning line, rate-limited per topic (``warn``). Messages for another
Hermes site, or replies for sessions that are not ours, are ignored quietly (debug): they are
normal traffic on a shared broker.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from appliance.controller import Controller
from appliance.mqtt import hermes
from appliance.mqtt import topics as tp
from appliance.mqtt.dialogue import Dialogue
from appliance.mqtt.outbound import Outbound
from appliance.mqtt.payloads import BadPayload, decode_text
from appliance.mqtt.tasks import TaskSet
from appliance.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)
MAX_PENDING_SPEECH = 8

Handler = Callable[[bytes], Awaitable[None]]
Warn = Callable[[str, str], None]


class Inbound:
    def __init__(
        self, controller: Controller, topics: Topics, site_id: str, *, hermes_on: bool,
        dialogue: Dialogue, outbound: Outbound, warn: Warn,
        on_ha_online: Callable[[], Awaitable[None]], start_listening: Callable[[], None],
        allow_remote_listen: bool = True,
    ) -> None:
        self._controller = controller
        self._site_id = site_id
        self._dialogue = dialogue
        self._outbound = outbound
        self._warn = warn
        self._on_ha_online = on_ha_online
        self._listen_once = start_listening  # a listen command: ignored while one has started
        self._allow_listen = allow_remote_listen  # mqtt.allow_remote_listen
        self.speech = TaskSet(MAX_PENDING_SPEECH)
        self._routes = self._build_routes(topics, hermes_on)

    def _build_routes(self, topics: Topics, hermes_on: bool) -> dict[str, Handler]:
        routes: dict[str, Handler] = {
            topics.sub(tp.SAY): self._say, topics.sub(tp.VOLUME_SET): self._volume,
            topics.sub(tp.MUTE_SET): self._mute, topics.sub(tp.LISTEN): self._listen,
            topics.sub(tp.WAKE_THRESHOLD_SET): self._wake_threshold,
            topics.sub(tp.WAKE_WORD_SET): self._wake_word,
        }
        if topics.discovery_prefix:
            routes[topics.ha_status] = self._ha_status
        if hermes_on:
            routes |= {
                hermes.SAY: self._hermes_say, hermes.START_SESSION: self._start_session,
                hermes.CONTINUE_SESSION: self._continue_session,
                hermes.END_SESSION: self._end_session, hermes.TOGGLE_ON: self._toggle_on,
                hermes.TOGGLE_OFF: self._toggle_off, hermes.START_LISTENING: self._start_listening,
            }
        return routes

    @property
    def subscriptions(self) -> list[str]:
        return list(self._routes)

    async def handle(self, topic: str, payload: bytes) -> bool:
        """Act on one message; False (and a rate-limited warning) when it was unusable."""
        handler = self._routes.get(topic)
        if handler is None:
            self._warn(topic, "no handler for this topic")
            return False
        try:
            await handler(payload)
        except BadPayload as err:
            self._warn(topic, str(err))
            return False
        return True

    # -- our topics ---------------------------------------------------------------------------

    async def _say(self, payload: bytes) -> None:
        self._speak(tp.parse_say(payload))

    async def _volume(self, payload: bytes) -> None:
        self._controller.set_volume(tp.parse_volume(payload))

    async def _mute(self, payload: bytes) -> None:
        self._controller.set_muted(tp.parse_mute(payload))

    async def _listen(self, payload: bytes) -> None:
        tp.parse_listen(payload)
        self._check_listen_allowed()
        self._listen_once()

    async def _wake_threshold(self, payload: bytes) -> None:
        self._controller.set_wake_threshold(tp.parse_wake_threshold(payload))
        await self._outbound.retain(tp.WAKE_THRESHOLD, f"{self._controller.wake_threshold:g}")

    async def _wake_word(self, payload: bytes) -> None:
        name = tp.parse_wake_word(payload, self._controller.wake_words)
        self._controller.set_active_wake_word(name)
        await self._outbound.retain(tp.WAKE_WORD, self._controller.active_wake_word)

    async def _ha_status(self, payload: bytes) -> None:
        status = decode_text(payload).lower()
        if status not in ("online", "offline"):
            raise BadPayload("Home Assistant status must be online or offline")
        if status == "online":
            await self._on_ha_online()

    # -- Hermes -------------------------------------------------------------------------------

    def _for_us(self, site_id: str, topic: str) -> bool:
        if site_id != self._site_id:
            _LOGGER.debug("ignored %s for site %r (we are %r)", topic, site_id, self._site_id)
            return False
        return True

    async def _hermes_say(self, payload: bytes) -> None:
        request = hermes.parse_say(payload)
        if self._for_us(request.site_id, hermes.SAY):
            self._spawn_speech(self._say_then_finish(request), "mqtt-hermes-say")

    async def _say_then_finish(self, request: hermes.SayRequest) -> None:
        try:
            await self._controller.say(request.text)
        except Exception as err:  # reported like Rhasspy does: the say is finished either way
            _LOGGER.warning("could not speak a Hermes say request: %s", err)
        await self._outbound.say_finished(request)

    async def _start_session(self, payload: bytes) -> None:
        start = hermes.parse_start_session(payload)
        if self._for_us(start.site_id, hermes.START_SESSION):
            if start.action:  # speaks, then opens the microphone: all or nothing
                self._check_listen_allowed()
            self._speak(start.text, listen_after=start.action)

    async def _continue_session(self, payload: bytes) -> None:
        self._session_reply(hermes.parse_session_reply(payload, follow_up=True))

    async def _end_session(self, payload: bytes) -> None:
        self._session_reply(hermes.parse_session_reply(payload, follow_up=False))

    def _session_reply(self, reply: hermes.SessionReply) -> None:
        if not self._dialogue.is_ours(reply.session_id):
            _LOGGER.debug("ignored a reply for session %r: not ours", reply.session_id)
        elif not self._dialogue.offer(reply):
            self._speak(reply.text, listen_after=reply.follow_up)

    async def _toggle_on(self, payload: bytes) -> None:
        if self._for_us(hermes.parse_site(payload), hermes.TOGGLE_ON):
            self._controller.set_wake_enabled(True)

    async def _toggle_off(self, payload: bytes) -> None:
        if self._for_us(hermes.parse_site(payload), hermes.TOGGLE_OFF):
            self._controller.set_wake_enabled(False)

    async def _start_listening(self, payload: bytes) -> None:
        if self._for_us(hermes.parse_site(payload), hermes.START_LISTENING):
            self._check_listen_allowed()
            self._listen_once()

    def _check_listen_allowed(self) -> None:
        """Opening the microphone from the broker, refused when mqtt.allow_remote_listen is
        false (one warning line, as for any refused message). A skill's continueSession still
        asks its follow-up question: that session was started at the speaker, by voice."""
        if not self._allow_listen:
            raise BadPayload("refused: it would open the microphone and "
                             "mqtt.allow_remote_listen is false")

    # -- speaking -----------------------------------------------------------------------------

    def _speak(self, text: str, *, listen_after: bool = False) -> None:
        if text:
            self._spawn_speech(self._say_then(text, listen_after), "mqtt-say")
        elif listen_after:
            self._controller.start_listening("mqtt")

    async def _say_then(self, text: str, listen_after: bool) -> None:
        await self._controller.say(text)
        if listen_after:
            self._controller.start_listening("mqtt")

    def _spawn_speech(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        if not self.speech.spawn(coro, name):
            raise BadPayload(f"too many announcements waiting ({MAX_PENDING_SPEECH}); dropped")
