"""Timers and alarms as plain data, and the pure rules about them (no clock is read here).

A timer counts down on the monotonic clock (``due_mono``); its wall-clock ``due_wall`` is kept
for the state file, so after a restart it ends at the same wall-clock time. An alarm is a
wall-clock time. Loading after a restart: what came due less than ``grace_s`` ago rings now,
anything older was missed while the speaker was off and is reported once, never rung late.

Every time and duration is checked where it comes in (adding, loading): finite, in range. A NaN
due time would never come due and would make the scheduler wake without pause.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
VERSION = 1  # of the saved form (:meth:`Schedule.to_json`)
MAX_WALL = 32503680000.0  # 3000-01-01 UTC: after any time the speaker sets, before datetime's end
MAX_DURATION_S = 366 * 24 * 3600  # a timer (after any time added) or a snooze: at most a year
MAX_TEXT = 200  # characters of an id or a timer's name
_TIMER_KEYS = frozenset({"id", "name", "duration_s", "due_wall"})
_ALARM_KEYS = frozenset({"id", "due_wall", "snoozed"})
_TOP_KEYS = frozenset({"version", "saved_wall", "timers", "alarms"})


class ScheduleError(ValueError):
    """A time, duration or saved field the schedule refuses; the message names it."""


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
        """A new timer (:class:`ScheduleError` for a duration or clock reading out of range)."""
        duration_s = check_duration(duration_s, "duration_s")
        due_wall = check_time(now.wall + duration_s, "the timer's end")
        timer = Timer(new_id(), name, duration_s, due_wall,
                      check_finite(now.mono + duration_s, "the timer's end"))
        self.timers[timer.id] = timer
        return timer

    def add_time(self, timer: Timer, seconds: int) -> Timer:
        check_duration(seconds, "seconds")
        longer = replace(timer, duration_s=check_duration(timer.duration_s + seconds,
                                                          "the timer's length"),
                         due_wall=check_time(timer.due_wall + seconds, "the timer's end"),
                         due_mono=timer.due_mono + seconds)
        self.timers[timer.id] = longer
        return longer

    def add_alarm(self, due_wall: float, *, snoozed: bool = False) -> Alarm:
        alarm = Alarm(new_id(), check_time(due_wall, "the alarm's time"), snoozed)
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
        return {"version": VERSION, "saved_wall": now.wall,
                "timers": [_timer_json(t) for t in timers],
                "alarms": [asdict(a) for a in self.sorted_alarms()]}


def _timer_json(timer: Timer) -> dict[str, Any]:
    data = asdict(timer)
    del data["due_mono"]
    return data


def load_schedule(data: object, now: Now, grace_s: float) -> tuple[Schedule, list[Item]]:
    """The saved schedule, and what was missed while off (removed from it).

    ``data`` must be exactly what :meth:`Schedule.to_json` writes (every field of the right
    type, finite and in range); anything else is a :class:`ScheduleError` naming the field."""
    top = _object(data, "the file", _TOP_KEYS)
    if type(top["version"]) is not int or top["version"] != VERSION:
        raise ScheduleError(f"version: {_show(top['version'])} is not {VERSION}")
    check_time(top["saved_wall"], "saved_wall")
    schedule = Schedule()
    for where, raw in _items(top["timers"], "timers", _TIMER_KEYS):
        due_wall = check_time(raw["due_wall"], f"{where}.due_wall")
        timer = Timer(_text(raw["id"], f"{where}.id"), _text(raw["name"], f"{where}.name", 0),
                      check_duration(raw["duration_s"], f"{where}.duration_s"), due_wall,
                      now.mono + due_wall - now.wall)
        _put(schedule.timers, timer, where)
    for where, raw in _items(top["alarms"], "alarms", _ALARM_KEYS):
        if type(raw["snoozed"]) is not bool:
            raise ScheduleError(f"{where}.snoozed: {_show(raw['snoozed'])} is not true or false")
        alarm = Alarm(_text(raw["id"], f"{where}.id"),
                      check_time(raw["due_wall"], f"{where}.due_wall"), raw["snoozed"])
        _put(schedule.alarms, alarm, where)
    missed: list[Item] = []
    for item in list(schedule.timers.values()) + list(schedule.alarms.values()):
        if item.due_wall < now.wall - grace_s:
            missed.append(item)
            schedule.remove(item)
    return schedule, missed


def check_finite(value: object, where: str) -> float:
    """``value`` as a float if it is a finite number (not a bool), else :class:`ScheduleError`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScheduleError(f"{where}: {_show(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ScheduleError(f"{where}: {_show(value)} is not a finite number")
    return number


def check_time(value: object, where: str) -> float:
    """A wall-clock time in epoch seconds: finite, from 1970 to the year 3000."""
    wall = check_finite(value, where)
    if not 0 <= wall <= MAX_WALL:
        raise ScheduleError(f"{where}: {_show(value)} is not a time from 1970 to the year 3000 "
                            f"(0 to {MAX_WALL:.0f} epoch seconds)")
    return wall


def check_duration(value: object, where: str) -> int:
    """Whole seconds, from one second to :data:`MAX_DURATION_S`."""
    if type(value) is not int or not 0 < value <= MAX_DURATION_S:
        raise ScheduleError(f"{where}: {_show(value)} is not a whole number of seconds from 1 "
                            f"to {MAX_DURATION_S}")
    return value


def _object(value: object, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScheduleError(f"{where}: {_show(value)} is not an object")
    if value.keys() != keys:
        missing, unknown = sorted(keys - value.keys()), sorted(set(value) - keys)
        wrong = [f"missing {', '.join(missing)}"] if missing else []
        wrong += [f"unknown {', '.join(_show(k) for k in unknown)}"] if unknown else []
        raise ScheduleError(f"{where}: {'; '.join(wrong)} (expected {', '.join(sorted(keys))})")
    return value


def _items(value: object, where: str, keys: frozenset[str]) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, list):
        raise ScheduleError(f"{where}: {_show(value)} is not a list")
    return [(f"{where}[{i}]", _object(raw, f"{where}[{i}]", keys)) for i, raw in enumerate(value)]


def _text(value: object, where: str, shortest: int = 1) -> str:
    if not isinstance(value, str) or not shortest <= len(value) <= MAX_TEXT:
        raise ScheduleError(f"{where}: {_show(value)} is not a text of {shortest} to {MAX_TEXT} "
                            "characters")
    return value


def _put(items: dict[str, Any], item: Timer | Alarm, where: str) -> None:
    if item.id in items:
        raise ScheduleError(f"{where}.id: {item.id!r} is used twice")
    items[item.id] = item


def _show(value: object) -> str:
    """``value`` for a log line: short, and never the repr of a (maybe deeply nested) container."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
