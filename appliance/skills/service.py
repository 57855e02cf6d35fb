"""All household skills as one intent handler, and the scheduler that rings timers and alarms.

``install_skills(pipeline, settings)`` is what the daemon calls: it registers the handler, the
stop listener (a button press silences a ring), the "Which timer?" context for the intent
engine, optionally Whisper's vocabulary prompt, and starts the scheduler as a tracked task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from appliance.clock import Clock, default_clock
from appliance.controller import Controller, Recognition, Reply
from appliance.events import State, StateChanged
from appliance.intent.engine import IntentEngine
from appliance.skills.alarms import AlarmSkill
from appliance.skills.book import Book
from appliance.skills.conversation import Conversation
from appliance.skills.custom import (
    CustomCommands,
    EventPublisher,
    Publisher,
    wait_until_quiet,
)
from appliance.skills.household import RepeatSkill, VolumeSkill
from appliance.skills.ring import Ringer, Ringing, cancel_and_wait, say
from appliance.skills.schedule import Item, Timer
from appliance.skills.settings import SkillsSettings
from appliance.skills.store import Store
from appliance.skills.timers import TimerSkill
from appliance.skills.words import alarm_words, join_words, timer_label

if TYPE_CHECKING:
    from appliance.pipeline import Pipeline
    from appliance.settings import Settings

_LOGGER = logging.getLogger(__name__)
MAX_SLEEP_S = 5.0  # alarms follow the wall clock (NTP may set it late): look again this often
READY_WAIT_S = 300.0


class Host(Controller, Protocol):
    """What the skills need of the pipeline beyond :class:`Controller`."""

    @property
    def last_reply(self) -> Reply | None: ...

    async def play_sound(self, samples: Any, rate_hz: int, volume: int) -> None: ...


class Skills:
    """One :class:`~appliance.controller.IntentHandler` for every household skill."""

    def __init__(self, host: Host, settings: SkillsSettings, clock: Clock, *,
                 default_volume: int, publisher: Publisher | None = None) -> None:
        self.host = host
        self.clock = clock
        self.book = Book(Store(Path(settings.state_dir)), clock, host.events,
                         settings.missed_grace_s)
        self.ringer = Ringer(host, clock, settings)
        self.conversation = Conversation(clock, settings.question_timeout_s)
        self.commands = CustomCommands(host, settings.commands, publisher)
        self.skills: list[Any] = [
            TimerSkill(self.book, self.ringer, self.conversation),
            AlarmSkill(self.book, self.ringer, self.conversation, settings.snooze_min),
            VolumeSkill(host, settings.volume_step, default_volume),
            RepeatSkill(lambda: host.last_reply),
            self.commands,
        ]

    def set_publisher(self, publisher: Publisher) -> None:
        """MQTT calls this once it can publish (``Link`` fits the protocol)."""
        self.commands.publisher = publisher

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        if recognition.name == "Stop":
            self.on_stop()
            return Reply("")
        for skill in self.skills:
            if recognition.name in skill.intents:
                reply: Reply = skill.handle(recognition)
                return reply
        return None

    def on_stop(self) -> None:
        """"Stop" by voice or ``controller.stop()``: silence the ring, forget the question."""
        self.conversation.answered()
        if self.ringer.active:
            self.ringer.stop("stop")

    # -- the scheduler ------------------------------------------------------------------------

    async def run(self) -> None:
        """Ring what comes due, until cancelled."""
        try:
            await self._announce_missed()
            while True:
                for item in self.book.pop_due():
                    self.ringer.start(self._ringing(item))
                delay = self.book.schedule.next_delay_s(self.book.now())
                await self._wait(MAX_SLEEP_S if delay is None else min(delay, MAX_SLEEP_S))
        finally:
            await self.ringer.close()
            await self.commands.close()

    async def _wait(self, seconds: float) -> None:
        self.book.changed.clear()
        sleep = asyncio.ensure_future(self.clock.sleep(seconds))
        changed = asyncio.ensure_future(self.book.changed.wait())
        try:
            # A real-time cap too: whatever the clock does, the schedule is looked at again.
            await asyncio.wait({sleep, changed}, timeout=MAX_SLEEP_S,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(sleep, changed)

    def _ringing(self, item: Item) -> Ringing:
        if isinstance(item, Timer):
            label = timer_label(item)
            return Ringing("timer", item.id, f"{label[0].upper()}{label[1:]} is done.")
        return Ringing("alarm", item.id, "")

    async def _announce_missed(self) -> None:
        """Once, when the assistant is ready: what came due while it was off (not rung late)."""
        if not self.book.missed:
            return
        now = self.book.local()
        said = [timer_label(i) if isinstance(i, Timer) else "your alarm for " + alarm_words(
            now.fromtimestamp(i.due_wall, now.tzinfo), now).rsplit(" ", 1)[0]
            for i in self.book.missed]
        self.book.missed = []
        _LOGGER.info("missed while off: %s", ", ".join(said))
        await _wait_until_ready(self.host)
        await wait_until_quiet(self.host, READY_WAIT_S)
        await say(self.host, f"While I was off, {join_words(said)} went off.")


async def _wait_until_ready(host: Controller) -> None:
    with host.events.subscribe() as sub, contextlib.suppress(TimeoutError):
        async with asyncio.timeout(READY_WAIT_S):
            while host.state is State.STARTING:
                event = await sub.get()
                if isinstance(event, StateChanged) and event.new is not State.STARTING:
                    return


def stt_prompt(engine: IntentEngine) -> str | None:
    """Whisper's initial prompt: example commands from the sentence files (None: no prompt)."""
    return engine.stt_prompt() or None


def install_skills(pipeline: Pipeline, settings: Settings,
                   clock: Clock | None = None) -> Skills:
    """Wire the household skills into ``pipeline`` (after the built-in ones) and start them."""
    publisher = EventPublisher(pipeline.events) if settings.mqtt.enabled else None
    skills = Skills(pipeline, settings.skills, clock or default_clock(),
                    default_volume=settings.audio.output.volume, publisher=publisher)
    pipeline.add_intent_handler(skills)
    pipeline.add_stop_listener(skills.on_stop)
    pipeline.intents.add_context(skills.conversation.context)
    if settings.skills.stt_prompt:
        pipeline.stt.initial_prompt = stt_prompt(pipeline.intents)
    pipeline.spawn(skills.run(), "skills")
    return skills
