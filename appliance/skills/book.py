"""The one owner of the timers and alarms: changes go through :meth:`Book.commit`, which saves
them atomically, tells MQTT when the next timer/alarm is due, and wakes the scheduler.

A change that could not be saved (disk full, state folder read-only) still holds until a
restart; the skills say so in their answer (:func:`unless_saved`)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from appliance.clock import Clock
from appliance.events import EventBus, UserEvent
from appliance.skills.schedule import Item, Now, Schedule, load_schedule
from appliance.skills.store import Store

LOST = "but I couldn't save it: it will be lost if I restart"
COMES_BACK = "but I couldn't save that: it may come back if I restart"
UNDONE = "but I couldn't save that: a restart will undo it"


def unless_saved(text: str, saved: bool, caveat: str = LOST) -> str:
    """``text``, and when the change it reports was not saved, that a restart will undo it."""
    return text if saved else f"{text.removesuffix('.')}, {caveat}."


class Book:
    def __init__(self, store: Store, clock: Clock, events: EventBus, grace_s: float) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.schedule, self.missed = self._restore(grace_s)
        self.changed = asyncio.Event()
        self._published: dict[str, str | None] = {}
        if self.missed:
            self.commit()

    def _restore(self, grace_s: float) -> tuple[Schedule, list[Item]]:
        now = self.now()
        loaded = self.store.load(lambda data: load_schedule(data, now, grace_s))
        return loaded or (Schedule(), [])

    def now(self) -> Now:
        return Now(self.clock.wall(), self.clock.monotonic())

    def local(self) -> datetime:
        return self.clock.now()

    def pop_due(self) -> list[Item]:
        due = self.schedule.pop_due(self.now())
        if due:
            self.commit()
        return due

    def commit(self) -> bool:
        """Save, publish, wake the scheduler; False if the save failed (the store logged it)."""
        now = self.now()
        saved = self.store.save(self.schedule.to_json(now))
        timers = self.schedule.sorted_timers()
        alarms = self.schedule.sorted_alarms()
        self._publish("next_timer", now.wall + timers[0].left_s(now) if timers else None)
        self._publish("next_alarm", alarms[0].due_wall if alarms else None)
        self.changed.set()
        return saved

    def _publish(self, kind: str, wall: float | None) -> None:
        at = None if wall is None else datetime.fromtimestamp(
            round(wall), self.local().tzinfo).isoformat()
        if self._published.get(kind, "unset") != at:
            self._published[kind] = at
            self.events.publish(UserEvent(kind, {"at": at}))
