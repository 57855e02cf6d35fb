"""How timers, alarms and amounts of time are said (in words: voices misread digits)."""

from __future__ import annotations

from datetime import datetime

from appliance.intent.numbers import say_number
from appliance.skills.core import time_words
from appliance.skills.schedule import Timer


def _plural(n: int, unit: str) -> str:
    return f"{say_number(n)} {unit}{'' if n == 1 else 's'}"


def duration_words(seconds: float) -> str:
    """600 -> "ten minutes", 5430 -> "one hour and thirty minutes", 75 -> "one minute and
    fifteen seconds"."""
    total = max(0, round(seconds))
    if total >= 3600:
        hours, minutes = divmod(round(total / 60), 60)
        parts = [_plural(hours, "hour")] + ([_plural(minutes, "minute")] if minutes else [])
    elif total >= 60:
        minutes, secs = divmod(total, 60)
        parts = [_plural(minutes, "minute")] + ([_plural(secs, "second")] if secs else [])
    else:
        parts = [_plural(total, "second")]
    return " and ".join(parts)


def timer_label(timer: Timer) -> str:
    """"the pasta timer" or, unnamed, "the ten minute timer"."""
    if timer.name:
        name = timer.name.removesuffix(" timer")
        return f"the {name} timer"
    return f"the {duration_words(timer.duration_s).replace('s and', ' and').rstrip('s')} timer"


def day_words(when: datetime, now: datetime) -> str:
    days = (when.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"on {when:%A}"


def alarm_words(when: datetime, now: datetime) -> str:
    """"seven thirty AM tomorrow"."""
    return f"{time_words(when.hour, when.minute)} {day_words(when, now)}"


# A list said to the user names this many items at most, then says how many more there are:
# 25 timers made "Which timer?" a 544-character question.
MAX_NAMED = 3


def join_words(items: list[str], last: str = "and", most: int = MAX_NAMED) -> str:
    """"a, b and c" (``last``: "or" for a question); over ``most`` items, the first ``most``
    and how many more: "a, b, c and twenty-two more"."""
    if len(items) > most:
        items = [*items[:most], f"{say_number(len(items) - most)} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} {items[-1]}"
