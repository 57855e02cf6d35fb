"""Timers by voice: set, cancel, cancel all, how long left, add time; "Which timer?" when unsure."""

from __future__ import annotations

import difflib
from typing import Any

from appliance.controller import NOTHING_MOOT, Moot, Recognition, Reply
from appliance.skills.book import COMES_BACK, UNDONE, Book, unless_saved
from appliance.skills.conversation import Conversation
from appliance.skills.ring import Ringer
from appliance.skills.schedule import MAX_DURATION_S, Timer
from appliance.skills.words import duration_words, join_words, timer_label

MAX_TIMER_S = 24 * 3600
NO_TIMERS = "You have no timers."


def _plain_name(name: str) -> str:
    words = [w for w in name.lower().split() if w not in ("the", "my", "timer", "a")]
    return " ".join(words)


def find_timers(timers: list[Timer], slots: dict[str, Any]) -> list[Timer]:
    """The timers ``slots`` point at: by name (closely), by duration, or all of them."""
    if slots.get("all"):
        return timers
    if "duration_s" in slots:
        return [t for t in timers if t.duration_s == slots["duration_s"] and not t.name]
    if slots.get("name"):
        wanted = _plain_name(str(slots["name"]))
        names = {t.id: _plain_name(t.name) for t in timers}
        exact = [t for t in timers if names[t.id] == wanted]
        if exact:
            return exact
        return [t for t in timers if names[t.id] and difflib.SequenceMatcher(
            None, names[t.id], wanted).ratio() >= 0.75]
    return timers


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class TimerSkill:
    intents = frozenset({"TimerSet", "TimerCancel", "TimerCancelAll", "TimerStatus",
                         "TimerAddTime", "TimerChoose"})

    def __init__(self, book: Book, ringer: Ringer, conversation: Conversation) -> None:
        self.book = book
        self.ringer = ringer
        self.conversation = conversation

    def handle(self, recognition: Recognition) -> Reply:
        slots = recognition.slots
        match recognition.name:
            case "TimerSet":
                return self.set(str(slots.get("name") or ""), int(slots.get("duration_s", 0)))
            case "TimerCancelAll":
                return self.cancel(self.book.schedule.sorted_timers())
            case "TimerChoose":
                return self.choose(slots)
        if recognition.name == "TimerCancel" and self._ringing_timer():
            self.ringer.stop("voice")
            return Reply("")
        return self.on_timers(recognition.name, slots, ask=True)

    def moot(self) -> Moot:
        """No timers: asking after one or cancelling one does nothing, whatever is said of
        it. One timer: "the timer" is that one, so which (its name, its length) is moot. (A
        ringing timer is stopped by "cancel the timer", so then nothing is moot.)"""
        if self._ringing_timer():
            return NOTHING_MOOT
        return Moot.by_count(
            len(self.book.schedule.timers),
            idle=frozenset({"TimerCancel", "TimerCancelAll", "TimerStatus", "TimerAddTime"}),
            one_target=frozenset({"TimerCancel", "TimerStatus"}))

    def _ringing_timer(self) -> bool:
        return any(item.kind == "timer" for item in self.ringer.ringing.values())

    def set(self, name: str, duration_s: int) -> Reply:
        if not 0 < duration_s <= MAX_TIMER_S:
            return Reply("Timers can be from one second to one day long.")
        name = "" if _plain_name(name) == "" else name
        self.book.schedule.add_timer(name, duration_s, self.book.now())
        saved = self.book.commit()
        label = f"{_plain_name(name)} timer" if name else "timer"
        return Reply(unless_saved(f"{_capital(label)} set for {duration_words(duration_s)}.",
                                  saved))

    def on_timers(self, intent: str, slots: dict[str, Any], *, ask: bool) -> Reply:
        timers = self.book.schedule.sorted_timers()
        if not timers:
            return Reply(NO_TIMERS)
        chosen = find_timers(timers, slots)
        specific = any(k in slots for k in ("name", "duration_s", "all"))
        if intent == "TimerAddTime":
            specific = any(k in slots for k in ("name", "all"))
            chosen = find_timers(timers, {k: v for k, v in slots.items() if k != "duration_s"})
        if not chosen:
            return Reply("I couldn't find that timer.")
        if intent == "TimerStatus":
            return self.status(chosen, only=len(timers) == 1)
        if len(chosen) > 1 and not specific and ask:
            return self._ask(intent, chosen, slots)
        if intent == "TimerAddTime":
            return self.add_time(chosen, int(slots.get("duration_s", 0)))
        return self.cancel(chosen)

    def _ask(self, intent: str, timers: list[Timer], slots: dict[str, Any]) -> Reply:
        action = "add" if intent == "TimerAddTime" else "cancel"
        self.conversation.ask("timer", action, duration_s=slots.get("duration_s", 0))
        labels = [timer_label(t) for t in timers]
        listed = join_words(labels, "or")
        return Reply(f"Which timer? {_capital(listed)}?", follow_up=True)

    def choose(self, slots: dict[str, Any]) -> Reply:
        """The answer to "Which timer?"."""
        question = self.conversation.pending("timer")
        self.conversation.answered()
        timers = self.book.schedule.sorted_timers()
        if question is None or not timers:
            return Reply(NO_TIMERS if question else "Sorry, I didn't understand.")
        chosen = find_timers(timers, slots)
        if not chosen:
            return Reply("I couldn't find that timer.")
        if question.action == "add":
            return self.add_time(chosen, int(question.extra["duration_s"]))
        return self.cancel(chosen)

    def cancel(self, timers: list[Timer]) -> Reply:
        if not timers:
            return Reply(NO_TIMERS)
        for timer in timers:
            self.book.schedule.remove(timer)
        saved = self.book.commit()
        text = {1: f"Cancelled {timer_label(timers[0])}.", 2: "Cancelled both timers."}.get(
            len(timers), f"Cancelled {len(timers)} timers.")
        return Reply(unless_saved(text, saved, COMES_BACK))

    def add_time(self, timers: list[Timer], seconds: int) -> Reply:
        if not 0 < seconds <= MAX_TIMER_S:
            return Reply("I can add from one second to one day.")
        if any(t.duration_s + seconds > MAX_DURATION_S for t in timers):
            return Reply("A timer can't be longer than a year.")
        now = self.book.now()
        longer = [self.book.schedule.add_time(t, seconds) for t in timers]
        saved = self.book.commit()
        left = [f"{timer_label(t)} has {duration_words(t.left_s(now))} left" for t in longer]
        return Reply(unless_saved(
            f"Added {duration_words(seconds)}. {_capital(join_words(left))}.", saved, UNDONE))

    def status(self, timers: list[Timer], *, only: bool = False) -> Reply:
        """``only``: the one timer there is, so what is left is the whole answer (and the
        first thing heard)."""
        now = self.book.now()
        if only:
            return Reply(f"{_capital(duration_words(timers[0].left_s(now)))} left.")
        left = [f"{timer_label(t)} has {duration_words(t.left_s(now))} left" for t in timers]
        return Reply(f"{_capital(join_words(left))}.")
