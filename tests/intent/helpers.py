"""Small helpers for the skill tests."""

from __future__ import annotations

import asyncio

from appliance.controller import Recognition, Reply
from appliance.events import Event, Subscription, UserEvent
from appliance.intent.engine import IntentEngine
from appliance.skills.service import Skills


async def ask(skills: Skills, engine: IntentEngine, text: str) -> Reply:
    recognition = engine.recognize(text)
    assert recognition is not None, f"not recognised: {text!r}"
    reply = await asyncio.wait_for(skills.handle(recognition, "session"), 5)
    assert reply is not None, f"no skill answered {recognition.name}"
    return reply


async def handled(skills: Skills, name: str, **slots: object) -> Reply:
    reply = await asyncio.wait_for(skills.handle(Recognition(name, dict(slots)), "s"), 5)
    assert reply is not None
    return reply


async def next_user_event(sub: Subscription, kind: str, timeout_s: float = 5) -> UserEvent:
    async with asyncio.timeout(timeout_s):
        while True:
            event: Event = await sub.get()
            if isinstance(event, UserEvent) and event.kind == kind:
                return event


async def settle() -> None:
    """Let the scheduler and ring tasks run until they wait on the (fake) clock again."""
    for _ in range(20):
        await asyncio.sleep(0)
