"""Alarms by voice: set ("wake me at 7 30", "tomorrow at 6"), list, cancel, snooze."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from appliance.controller import NOTHING_MOOT, Moot, Recognition, Reply
from appliance.skills.book import COMES_BACK, Book, unless_saved
from appliance.skills.conversation import Conversation
from appliance.skills.ring import Ringer
from appliance.skills.schedule import MAX_DURATION_S, WEEKDAYS, Alarm, alarm_time
from appliance.skills.words import alarm_words, duration_words, join_words

NO_ALARMS = "You have no alarms."


def matches(alarm_at: datetime, slots: dict[str, Any], now: datetime) -> bool:
    """Does "the 7 alarm" / "the alarm at 7 30 pm tomorrow" mean this alarm?"""
    if "hour" in slots:
        hour, ampm = int(slots["hour"]), str(slots.get("ampm", ""))
        hours = {hour} if hour > 12 or hour == 0 else {hour % 12, hour % 12 + 12}
        if ampm:
            hours = {h for h in hours if (h >= 12) == (ampm == "pm")}
        if alarm_at.hour not in hours or alarm_at.minute != int(slots.get("minute", 0)):
            return False
    day = str(slots.get("day", ""))
    if day == "today":
        return alarm_at.date() == now.date()
    if day == "tomorrow":
        return alarm_at.date() == now.date() + timedelta(days=1)
    if day in WEEKDAYS:
        return alarm_at.weekday() == WEEKDAYS.index(day)
    return True


class AlarmSkill:
    intents = frozenset({"AlarmSet", "AlarmList", "AlarmCancel", "AlarmCancelAll",
                         "AlarmSnooze", "AlarmChoose"})

    def __init__(self, book: Book, ringer: Ringer, conversation: Conversation,
                 snooze_min: int) -> None:
        self.book = book
        self.ringer = ringer
        self.conversation = conversation
        self.snooze_min = snooze_min

    def handle(self, recognition: Recognition) -> Reply:
        slots = recognition.slots
        match recognition.name:
            case "AlarmSet":
                return self.set(slots)
            case "AlarmList":
                return self.list_alarms()
            case "AlarmCancelAll":
                return self.cancel(self.book.schedule.sorted_alarms())
            case "AlarmSnooze":
                return self.snooze(int(slots.get("duration_s") or 60 * self.snooze_min))
            case "AlarmChoose":
                return self.choose(slots)
        if self._ringing_alarm():
            self.ringer.stop("voice")
            return Reply("")
        return self.cancel_some(slots)

    def moot(self) -> Moot:
        """As for timers: no alarms, cancelling one does nothing; one alarm, "the alarm" is
        that one (nothing is moot while an alarm rings)."""
        if self._ringing_alarm():
            return NOTHING_MOOT
        return Moot.by_count(len(self.book.schedule.alarms),
                             idle=frozenset({"AlarmCancel", "AlarmCancelAll"}),
                             one_target=frozenset({"AlarmCancel"}))

    def _ringing_alarm(self) -> bool:
        return any(item.kind == "alarm" for item in self.ringer.ringing.values())

    def _at(self, alarm: Alarm) -> datetime:
        return datetime.fromtimestamp(alarm.due_wall, self.book.local().tzinfo)

    def _words(self, alarm: Alarm) -> str:
        return alarm_words(self._at(alarm), self.book.local())

    def set(self, slots: dict[str, Any]) -> Reply:
        now = self.book.local()
        if slots.get("duration_s"):
            seconds = int(slots["duration_s"])
            when: datetime | None = (now + timedelta(seconds=seconds)
                                     if 0 < seconds <= MAX_DURATION_S else None)
        else:
            when = alarm_time(now, int(slots.get("hour", -1)), int(slots.get("minute", 0)),
                              str(slots.get("ampm", "")), str(slots.get("day", "")))
        if when is None:
            return Reply("Sorry, I can't set an alarm for that time.")
        alarm = self.book.schedule.add_alarm(when.timestamp())
        saved = self.book.commit()
        return Reply(unless_saved(f"Alarm set for {self._words(alarm)}.", saved))

    def list_alarms(self) -> Reply:
        alarms = self.book.schedule.sorted_alarms()
        if not alarms:
            return Reply(NO_ALARMS)
        if len(alarms) == 1:
            return Reply(f"You have an alarm for {self._words(alarms[0])}.")
        listed = join_words([self._words(a) for a in alarms])
        return Reply(f"You have {len(alarms)} alarms: {listed}.")

    def find(self, slots: dict[str, Any]) -> list[Alarm]:
        now = self.book.local()
        alarms = self.book.schedule.sorted_alarms()
        if slots.get("all"):
            return alarms
        return [a for a in alarms if matches(self._at(a), slots, now)]

    def cancel_some(self, slots: dict[str, Any]) -> Reply:
        alarms = self.book.schedule.sorted_alarms()
        if not alarms:
            return Reply(NO_ALARMS)
        chosen = self.find(slots)
        if not chosen:
            return Reply("I couldn't find that alarm.")
        if len(chosen) > 1 and not any(k in slots for k in ("hour", "day", "all")):
            self.conversation.ask("alarm", "cancel")
            listed = " or ".join(self._words(a) for a in chosen)
            return Reply(f"Which alarm? {listed}?", follow_up=True)
        return self.cancel(chosen)

    def choose(self, slots: dict[str, Any]) -> Reply:
        question = self.conversation.pending("alarm")
        self.conversation.answered()
        if question is None:
            return Reply("Sorry, I didn't understand.")
        chosen = self.find(slots)
        return self.cancel(chosen) if chosen else Reply("I couldn't find that alarm.")

    def cancel(self, alarms: list[Alarm]) -> Reply:
        if not alarms:
            return Reply(NO_ALARMS)
        words = [self._words(a) for a in alarms]
        for alarm in alarms:
            self.book.schedule.remove(alarm)
        saved = self.book.commit()
        text = (f"Cancelled your alarm for {words[0]}." if len(alarms) == 1 else
                f"Cancelled {len(alarms)} alarms.")
        return Reply(unless_saved(text, saved, COMES_BACK))

    def snooze(self, seconds: int) -> Reply:
        if not self._ringing_alarm():
            return Reply("There's no alarm ringing.")
        if not 0 < seconds <= MAX_DURATION_S:
            return Reply("Sorry, I can't snooze for that long.")
        self.ringer.stop("snooze")
        now = self.book.now()
        self.book.schedule.add_alarm(now.wall + seconds, snoozed=True)
        saved = self.book.commit()
        return Reply(unless_saved(f"Snoozing for {duration_words(seconds)}.", saved))
