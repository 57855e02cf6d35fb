"""The built-in answers: time, date, day, what can you do, what's your name."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from appliance.controller import Recognition, Reply

# How "what can you do" describes each intent ("": not listed; the same words are said once);
# others are described from their names ("TurnOnTheFan" -> "turn on the fan").
DESCRIPTIONS = {
    "GetTime": "tell the time",
    "GetDate": "tell the date",
    "GetWeekday": "tell the day of the week",
    "ListCapabilities": "list what I can do",
    "GetName": "tell you my name",
    **dict.fromkeys(("TimerSet", "TimerCancel", "TimerCancelAll", "TimerStatus",
                     "TimerAddTime"), "set timers"),
    **dict.fromkeys(("AlarmSet", "AlarmList", "AlarmCancel", "AlarmCancelAll", "AlarmSnooze"),
                    "set alarms"),
    **dict.fromkeys(("VolumeSet", "VolumeUp", "VolumeDown", "VolumeMute", "VolumeUnmute"),
                    "change the volume"),
    "Repeat": "repeat what I said",
    **dict.fromkeys(("Stop", "TimerChoose", "AlarmChoose"), ""),
}


_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty"}


def number_words(n: int) -> str:
    """0-59 in words: voices read "4:07" as "four zero seven", so answers spell times out."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def time_words(hour24: int, minute: int) -> str:
    """14:05 -> "two oh five PM", 9:00 -> "nine o'clock AM", 0:30 -> "twelve thirty AM"."""
    hour = number_words(hour24 % 12 or 12)
    suffix = "AM" if hour24 < 12 else "PM"
    if minute == 0:
        return f"{hour} o'clock {suffix}"
    minutes = f"oh {number_words(minute)}" if minute < 10 else number_words(minute)
    return f"{hour} {minutes} {suffix}"


def say_time(now: datetime) -> str:
    return f"It's {time_words(now.hour, now.minute)}."


def say_date(now: datetime) -> str:
    return f"Today is {now:%A}, {now:%B} {_ordinal(now.day)}, {now.year}."


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def describe(intent_name: str) -> str:
    if intent_name in DESCRIPTIONS:
        return DESCRIPTIONS[intent_name]
    return " ".join(re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", intent_name)).lower()


def capabilities(intent_names: list[str]) -> str:
    things = list(dict.fromkeys(
        d for n in intent_names if n != "ListCapabilities" and (d := describe(n))))
    if not things:
        return "I can't do anything yet."
    listed = things[0] if len(things) == 1 else ", ".join(things[:-1]) + f" and {things[-1]}"
    return f"I can {listed}."


class CoreSkills:
    """An :class:`~appliance.controller.IntentHandler` for the built-in intents."""

    def __init__(
        self, name: str, intent_names: Callable[[], list[str]],
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.name = name
        self._intent_names = intent_names
        self._now = now

    async def handle(self, recognition: Recognition, session_id: str) -> Reply | None:
        answer = self.answer(recognition.name)
        return Reply(answer) if answer is not None else None

    def answer(self, intent: str) -> str | None:
        now = self._now()
        match intent:
            case "GetTime":
                return say_time(now)
            case "GetDate":
                return say_date(now)
            case "GetWeekday":
                return f"It's {now:%A}."
            case "ListCapabilities":
                return capabilities(self._intent_names())
            case "GetName":
                return f"My name is {self.name}."
        return None
