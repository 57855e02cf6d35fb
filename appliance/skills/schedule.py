"""Timers and alarms as plain data, and the pure rules about them (no clock is read here).

A timer counts down on the monotonic clock (``due_mono``); its wall-clock ``due_wall`` is kept
for the state file, so after a restart it ends at the same wall-clock time. An alarm is a
wall-clock time. Loading after a restart: what came due less than ``grace_s`` ago rings now,
anything older was missed while the speaker was off and is reported once, never rung late.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Now:
    wall: float
    mono: float


@dataclass(frozen=True)
class Timer:
    id: str
    name: str
    duration_s: int
    due_wall: float
    due_mono: float

    def left_s(self, now: Now) -> float:
        return max(0.0, self.due_mono - now.mono)


@dataclass(frozen=True)
class Alarm:
    id: str
    due_wall: float
    snoozed: bool = False


Item = Timer | Alarm


def new_id() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Schedule:
    timers: dict[str, Timer] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)

    def add_timer(self, name: str, duration_s: int, now: Now) -> Timer:
        timer = Timer(new_id(), name, duration_s, now.wall + duration_s, now.mono + duration_s)
        self.timers[timer.id] = timer
        return timer

    def add_time(self, timer: Timer, seconds: int) -> Timer:
        longer = replace(timer, duration_s=timer.duration_s + seconds,
                         due_wall=timer.due_wall + seconds, due_mono=timer.due_mono + seconds)
        self.timers[timer.id] = longer
        return longer

    def add_alarm(self, due_wall: float, *, snoozed: bool = False) -> Alarm:
        alarm = Alarm(new_id(), due_wall, snoozed)
        self.alarms[alarm.id] = alarm
        return alarm

    def sorted_timers(self) -> list[Timer]:
        return sorted(self.timers.values(), key=lambda t: t.due_mono)

    def sorted_alarms(self) -> list[Alarm]:
        return sorted(self.alarms.values(), key=lambda a: a.due_wall)

    def pop_due(self, now: Now) -> list[Item]:
        """Remove and return what is due now, earliest first."""
        due: list[Item] = [t for t in self.sorted_timers() if t.due_mono <= now.mono]
        due += [a for a in self.sorted_alarms() if a.due_wall <= now.wall]
        for item in due:
            self.remove(item)
        return due

    def remove(self, item: Item) -> None:
        if isinstance(item, Timer):
            self.timers.pop(item.id, None)
        else:
            self.alarms.pop(item.id, None)

    def next_delay_s(self, now: Now) -> float | None:
        """Seconds until the next timer or alarm is due (None: nothing scheduled)."""
        delays = [t.due_mono - now.mono for t in self.timers.values()]
        delays += [a.due_wall - now.wall for a in self.alarms.values()]
        return max(0.0, min(delays)) if delays else None

    def to_json(self, now: Now) -> dict[str, Any]:
        """Timers' wall-clock ends are refreshed from the monotonic clock (it never jumps)."""
        timers = [replace(t, due_wall=now.wall + (t.due_mono - now.mono))
                  for t in self.sorted_timers()]
        return {"saved_wall": now.wall,
                "timers": [_timer_json(t) for t in timers],
                "alarms": [asdict(a) for a in self.sorted_alarms()]}


def _timer_json(timer: Timer) -> dict[str, Any]:
    data = asdict(timer)
    del data["due_mono"]
    return data


def load_schedule(data: dict[str, Any], now: Now, grace_s: float) -> tuple[Schedule, list[Item]]:
    """The saved schedule, and what was missed while off (removed from it)."""
    schedule = Schedule()
    missed: list[Item] = []
    for raw in data.get("timers", []):
        timer = Timer(str(raw["id"]), str(raw["name"]), int(raw["duration_s"]),
                      float(raw["due_wall"]), now.mono + float(raw["due_wall"]) - now.wall)
        schedule.timers[timer.id] = timer
    for raw in data.get("alarms", []):
        alarm = Alarm(str(raw["id"]), float(raw["due_wall"]), bool(raw.get("snoozed", False)))
        schedule.alarms[alarm.id] = alarm
    for item in list(schedule.timers.values()) + list(schedule.alarms.values()):
        if item.due_wall < now.wall - grace_s:
            missed.append(item)
            schedule.remove(item)
    return schedule, missed


def alarm_time(now: datetime, hour: int, minute: int = 0, ampm: str = "",
               day: str = "") -> datetime | None:
    """When "at ``hour``:``minute`` [am/pm] [day]" next happens after ``now``; None if never.

    Without am/pm, 1-12 may be morning or evening: the first one still ahead is taken (on a
    given day, the morning one).
    """
    hours = _hours(hour, ampm)
    if not hours or not 0 <= minute <= 59:
        return None
    days = _days(now, day)
    for date in days:
        for h in hours:
            candidate = datetime.combine(date, time(h, minute), tzinfo=now.tzinfo)
            if candidate > now:
                return candidate
    return None


def _hours(hour: int, ampm: str) -> list[int]:
    if ampm:
        if not 1 <= hour <= 12:
            return [hour] if 13 <= hour <= 23 and ampm == "pm" else []
        return [hour % 12 + (12 if ampm == "pm" else 0)]
    if hour == 0 or hour > 12:
        return [hour] if hour <= 23 else []
    return [hour % 12, hour % 12 + 12] if hour == 12 else [hour, hour + 12]


def _days(now: datetime, day: str) -> list[Any]:
    today = now.date()
    if day == "today":
        return [today]
    if day == "tomorrow":
        return [today + timedelta(days=1)]
    if day in WEEKDAYS:
        ahead = (WEEKDAYS.index(day) - today.weekday()) % 7
        return [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)]
    return [today, today + timedelta(days=1)]
