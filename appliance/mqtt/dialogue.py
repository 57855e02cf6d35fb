"""Intents answered by Hermes skills: match ``endSession``/``continueSession`` to our sessions.

Every recognised intent is published on ``hermes/intent/<name>`` (Node-RED flows see them all).
Only when no local skill handled it does the pipeline call :class:`HermesIntentHandler`, which
waits a bounded time for the skill's reply. A reply that arrives before the handler starts
waiting is kept for it; a reply for a session that is ours but not waiting is spoken instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from appliance.controller import Recognition, Reply
from appliance.mqtt.hermes import SessionReply

_LOGGER = logging.getLogger(__name__)
_MAX_SESSIONS = 32
T = TypeVar("T")

Announce = Callable[[Recognition, str], Awaitable[bool]]


class Dialogue:
    """Which sessions are ours, which intents were published, and who waits for a reply."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, None] = OrderedDict()
        self._announced: OrderedDict[str, Recognition] = OrderedDict()
        self._early: dict[str, SessionReply] = {}
        self._waiting: dict[str, asyncio.Future[SessionReply]] = {}

    def session_started(self, session_id: str) -> bool:
        """Remember ``session_id``; False if it was already open (a follow-up turn)."""
        new = session_id not in self._open
        _bounded_put(self._open, session_id, None)
        self._announced.pop(session_id, None)  # a new turn may repeat the same intent
        self._early.pop(session_id, None)
        return new

    def session_ended(self, session_id: str) -> bool:
        """Forget ``session_id``; False if it never started (an announcement)."""
        self._announced.pop(session_id, None)
        self._early.pop(session_id, None)
        opened = session_id in self._open
        self._open.pop(session_id, None)
        return opened

    def in_session(self, session_id: str) -> bool:
        """True while ``session_id`` is an open dialogue session (not an announcement)."""
        return session_id in self._open

    def is_ours(self, session_id: str) -> bool:
        return session_id in self._open or session_id in self._announced

    def should_announce(self, recognition: Recognition, session_id: str) -> bool:
        """True once per (session turn, recognition): the caller then publishes the intent."""
        if self._announced.get(session_id) == recognition:
            return False
        _bounded_put(self._announced, session_id, recognition)
        return True

    def offer(self, reply: SessionReply) -> bool:
        """Hand a skill's reply to the handler waiting for it (now or soon); False: nobody."""
        waiter = self._waiting.get(reply.session_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)
            return True
        if reply.session_id in self._announced:
            self._early[reply.session_id] = reply
            return True
        return False

    async def wait_reply(self, session_id: str, timeout_s: float) -> SessionReply | None:
        early = self._early.pop(session_id, None)
        if early is not None:
            return early
        waiter: asyncio.Future[SessionReply] = asyncio.get_running_loop().create_future()
        self._waiting[session_id] = waiter
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(session_id, None)


def _bounded_put(store: OrderedDict[str, T], key: str, value: T) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > _MAX_SESSIONS:
        store.popitem(last=False)


class HermesIntentHandler:
    """An :class:`appliance.controller.IntentHandler` for intents that Hermes skills answer."""

    def __init__(self, dialogue: Dialogue, announce: Announce, timeout_s: float) -> None:
        self._dialogue = dialogue
        self._announce = announce
        self._timeout_s = timeout_s

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        if not await self._announce(recognition, session_id):
            return None  # no broker: no skill can answer
        reply = await self._dialogue.wait_reply(session_id, self._timeout_s)
        if reply is None:
            _LOGGER.info(
                "no Hermes skill answered intent %s within %.1f s", recognition.name,
                self._timeout_s,
            )
            return None
        return Reply(text=reply.text, follow_up=reply.follow_up)
