"""All household skills as one intent handler, and the scheduler that rings timers and alarms.

``install_skills(pipeline, settings, clock)`` is what the daemon calls: it registers the handler,
the stop listener (a button press silences a ring), the "Which timer?" context for the intent
engine, and starts the scheduler as a supervised task (restarted if it dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from appliance.clock import Clock
from appliance.controller import Controller, Moot, Recognition, Reply
from appliance.events import State, StateChanged
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
        self.timers = TimerSkill(self.book, self.ringer, self.conversation)
        self.alarms = AlarmSkill(self.book, self.ringer, self.conversation, settings.snooze_min)
        self.skills: list[Any] = [
            self.timers,
            self.alarms,
            VolumeSkill(host, settings.volume_step, default_volume),
            RepeatSkill(lambda: host.last_reply),
            self.commands,
        ]

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        if recognition.name == "Stop":
            self.on_stop()
            return Reply("")
        for skill in self.skills:
            if recognition.name in skill.intents:
                reply: Reply = skill.handle(recognition)
                return reply
        return None

    def moot(self) -> Moot:
        """What the timers and alarms say more words could not change now."""
        return self.timers.moot() | self.alarms.moot()

    def on_stop(self) -> None:
        """"Stop" by voice or ``controller.stop()``: silence the ring, forget the question."""
        self.conversation.answered()
        if self.ringer.active:
            self.ringer.stop("stop")

    # -- the scheduler ------------------------------------------------------------------------

    async def run(self) -> None:
        """Ring what comes due, until cancelled (a failure is the supervisor's: it logs it
        and starts this again; what rings keeps ringing)."""
        await self._announce_missed()
        while True:
            for item in self.book.pop_due():
                self.ringer.start(self._ringing(item))
            delay = self.book.schedule.next_delay_s(self.book.now())
            await self._wait(MAX_SLEEP_S if delay is None else min(delay, MAX_SLEEP_S))

    async def close(self) -> None:
        """Silence the ring and end the own commands' hooks."""
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


class Installed:
    """The household skills as installed in a pipeline (its extension ``skills``)."""

    def __init__(self, pipeline: Pipeline, skills: Skills, position: int | None) -> None:
        self.pipeline = pipeline
        self.skills = skills
        pipeline.add_intent_handler(skills, position)
        pipeline.add_stop_listener(skills.on_stop)
        pipeline.add_intent_context(skills.conversation.context)
        pipeline.extensions["skills"] = self
        self.scheduler = pipeline.supervisor.keep_running("skills", skills.run)

    async def uninstall(self) -> None:
        """Stop the scheduler and the ring; take the handler, listener and context out."""
        self.scheduler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.scheduler
        await self.skills.close()
        self.pipeline.remove_stop_listener(self.skills.on_stop)
        self.pipeline.remove_intent_context(self.skills.conversation.context)
        if self.pipeline.extensions.get("skills") is self:
            del self.pipeline.extensions["skills"]


def install_skills(pipeline: Pipeline, settings: Settings, clock: Clock,
                   position: int | None = None) -> Installed:
    """Wire the household skills into ``pipeline`` (after the built-in ones, or at the
    ``position`` of the skills they replace) and start their scheduler, supervised: if it dies
    it is logged and started again."""
    publisher = EventPublisher(pipeline.events) if settings.mqtt.enabled else None
    skills = Skills(pipeline, settings.skills, clock,
                    default_volume=settings.audio.output.volume, publisher=publisher)
    return Installed(pipeline, skills, position)


async def reinstall_skills(pipeline: Pipeline, settings: Settings) -> Installed:
    """A reload changed ``[skills]``: the same skills on the new settings, in the same place
    among the intent handlers (timers, alarms and questions are kept: they are stored)."""
    old = pipeline.extensions["skills"]
    assert isinstance(old, Installed)
    await old.uninstall()
    position = pipeline.remove_intent_handler(old.skills)
    return install_skills(pipeline, settings, old.skills.clock, position)
