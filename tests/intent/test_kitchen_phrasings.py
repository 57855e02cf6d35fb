"""Phrasings people use at a kitchen speaker (issue 11): the rules behind them, and the sentences
near them that must get nothing.

The sentences here are not those of the benchmark sets (``bench_data/``): these test one rule
each; the sets measure how far the rules go.
"""

from __future__ import annotations

from typing import Any

import pytest

from appliance.intent.engine import IntentEngine
from appliance.intent.fuzzy import template_words
from appliance.intent.slots import timer_name


def means(engine: IntentEngine, text: str) -> tuple[str, dict[str, Any]] | None:
    found = engine.recognize(text)
    return None if found is None else (found.name, found.slots)


# A timer named by its food, said without "timer": any word of the food list, after "how long",
# "how much longer" or an amount to add.
@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("How long's left on the spaghetti?", "TimerStatus", {"name": "spaghetti"}),
    ("How much longer on my scones?", "TimerStatus", {"name": "scones"}),
    ("How many minutes are left for the risotto?", "TimerStatus", {"name": "risotto"}),
    ("How long until the muffins are ready?", "TimerStatus", {"name": "muffins"}),
    ("How long have the sausages got left?", "TimerStatus", {"name": "sausages"}),
    ("Add 3 more minutes to the curry.", "TimerAddTime", {"name": "curry", "duration_s": 180}),
    ("Put another 2 minutes on the garlic bread.", "TimerAddTime",
     {"name": "garlic bread", "duration_s": 120}),
    ("Give the stew another 10 minutes.", "TimerAddTime", {"name": "stew", "duration_s": 600}),
])
def test_a_food_alone_names_its_timer(engine: IntentEngine, text: str, intent: str,
                                      slots: dict[str, Any]) -> None:
    assert means(engine, text) == (intent, slots)


# Said with "timer", a name may be anything, first or after the amount.
@pytest.mark.parametrize(("text", "slots"), [
    ("Timer for the flapjacks, 25 minutes.", {"name": "flapjacks", "duration_s": 1500}),
    ("Timer for 6 minutes for the fish fingers.", {"name": "fish fingers", "duration_s": 360}),
    ("Put a 9 minute timer on for the laundry.", {"name": "laundry", "duration_s": 540}),
    ("Put a timer on for the gravy, 4 minutes.", {"name": "gravy", "duration_s": 240}),
    ("Start a timer for the oats for 5 minutes.", {"name": "oats", "duration_s": 300}),
    ("Laundry timer, 40 minutes.", {"name": "laundry", "duration_s": 2400}),
    ("I'd like a 3 minute timer for the tea.", {"name": "tea", "duration_s": 180}),
    ("Do me a timer for 20 minutes.", {"duration_s": 1200}),
])
def test_a_timer_is_set_in_the_order_people_say_it(engine: IntentEngine, text: str,
                                                   slots: dict[str, Any]) -> None:
    assert means(engine, text) == ("TimerSet", slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("Add a minute to the timer for the toast.", "TimerAddTime",
     {"name": "toast", "duration_s": 60}),
    ("Cancel the timer called lasagne.", "TimerCancel", {"name": "lasagne"}),
])
def test_a_timer_name_loses_its_article_and_the_word_timer(
        engine: IntentEngine, text: str, intent: str, slots: dict[str, Any]) -> None:
    assert means(engine, text) == (intent, slots)


def test_a_timer_name_is_a_few_words_not_a_sentence() -> None:
    assert timer_name("TimerSet", {"name": "the roast potatoes"}) == {"name": "roast potatoes"}
    assert timer_name("TimerSet", {"name": "the big red pot of soup"}) is None
    assert timer_name("GetTime", {}) == {}
    assert timer_name("MyCommand", {"name": "a long wildcard value here"}) == {
        "name": "a long wildcard value here"}  # own commands' slots are theirs


def test_the_food_list_is_never_guessed_from_a_word_like_it(engine: IntentEngine) -> None:
    assert "dough" not in template_words(engine.data)
    assert means(engine, "Add 5 minutes to the dog.") is None  # not "the dough"


@pytest.mark.parametrize(("text", "intent"), [
    ("Got any timers on?", "TimerStatus"),
    ("Any timers going?", "TimerStatus"),
    ("What timers have I got running?", "TimerStatus"),
    ("What's the pasta timer at?", "TimerStatus"),
    ("When does the timer go off?", "TimerStatus"),
    ("How are the timers going?", "TimerStatus"),
    ("Make the rice timer 2 minutes longer.", "TimerAddTime"),
    ("Cancel each single timer.", "TimerCancelAll"),
    ("Kill every timer.", "TimerCancelAll"),
    ("Got any alarms on?", "AlarmList"),
    ("Have I got any alarms set?", "AlarmList"),
    ("What have I got set for Friday?", "AlarmList"),
    ("Is the alarm set for tomorrow morning?", "AlarmList"),
    ("Check the alarms.", "AlarmList"),
    ("Wipe every alarm.", "AlarmCancelAll"),
    ("Kill all of the alarms.", "AlarmCancelAll"),
    ("Cancel all the alarms I've got.", "AlarmCancelAll"),
    ("Kill the alarm.", "AlarmCancel"),
    ("Delete the wake-up alarm.", "AlarmCancel"),
    ("Press the snooze button.", "AlarmSnooze"),
])
def test_got_any_every_and_kill(engine: IntentEngine, text: str, intent: str) -> None:
    found = means(engine, text)
    assert found is not None and found[0] == intent


@pytest.mark.parametrize(("text", "slots"), [
    ("I need to be up at 5 on Monday.", {"hour": 5, "day": "monday"}),
    ("I'd like an alarm at 6:40.", {"hour": 6, "minute": 40}),
    ("New alarm for quarter past 6.", {"hour": 6, "minute": 15}),
    ("Set an alarm for 2 hours from now.", {"duration_s": 7200}),
])
def test_alarms_as_people_ask_for_them(engine: IntentEngine, text: str,
                                       slots: dict[str, Any]) -> None:
    assert means(engine, text) == ("AlarmSet", slots)


@pytest.mark.parametrize(("text", "slots"), [
    ("Two more minutes.", {"duration_s": 120}),
    ("Let me sleep another 5 minutes.", {"duration_s": 300}),
])
def test_more_minutes_is_a_snooze(engine: IntentEngine, text: str,
                                  slots: dict[str, Any]) -> None:
    assert means(engine, text) == ("AlarmSnooze", slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("Bring it up a notch.", "VolumeUp", {}),
    ("Bit softer.", "VolumeDown", {}),
    ("Too loud!", "VolumeDown", {}),
    ("Crank the volume all the way up.", "VolumeSet", {"volume": 10}),
    ("We can't hear you, speak up.", "VolumeUp", {}),
    ("Mute it now.", "VolumeMute", {}),
    ("Volume off.", "VolumeMute", {}),
    ("Take yourself off mute.", "VolumeUnmute", {}),
    ("Volume back on.", "VolumeUnmute", {}),
    ("Thanks, stop.", "Stop", {}),
    ("Repeat the last part.", "Repeat", {}),
    ("What was that you just said?", "Repeat", {}),
    ("Pardon, say it again.", "Repeat", {}),
    ("What's the date again, Jarvis?", "GetDate", {}),
    ("Which month are we in?", "GetDate", {}),
    ("Is it the 21st today?", "GetDate", {}),
    ("May I have the time?", "GetTime", {}),
    ("What was your name again?", "GetName", {}),
    ("Who am I talking with?", "GetName", {}),
    ("Tell me some examples of what I can ask you.", "ListCapabilities", {}),
])
def test_everyday_forms_of_the_other_intents(engine: IntentEngine, text: str, intent: str,
                                             slots: dict[str, Any]) -> None:
    assert means(engine, text) == (intent, slots)


@pytest.mark.parametrize("text", [
    # Near the food-named timers: not food, or not a question of time.
    "How much longer for the bus?", "How long is left on the lease?",
    "How long until the kids are ready?", "How long has the car got left?",
    "How much time is left on the parking meter?", "Add 5 minutes to the meeting.",
    "Give the cat 5 more minutes.", "What's left on the pizza menu?",
    "How much rice have we got left?", "Is there any soup left?",
    # A wildcard name that would be a whole sentence.
    "Did you remember to set the oven timer for 40 minutes?",
    "I told you the pasta timer was 10 minutes.",
    # Someone else's alarm, or a sentence about one.
    "Turn off the smoke alarm.", "Switch off the car alarm.", "Set the burglar alarm.",
    "I need an alarm clock.", "New alarm clock arrived today.", "Kill my alarm clock.",
    # "got any", "what have I got", "check", "kill", "wipe" said of other things.
    "Got any change?", "What have I got set up on the table?", "Check the oven.",
    "Kill the lights.", "Wipe the table.", "Wipe all the counters.",
    # Volume, stop, repeat, time and name near misses.
    "Mute it, Dad.", "Take it off the heat.", "Sound on the TV is broken.",
    "Too loud in here.", "That's enough, stop fighting.", "Repeat the last part of the song.",
    "What was that you said to your brother?", "Let me sleep on it.",
    "Five minutes more and we're leaving.", "What month is your birthday?",
    "Is it the 3rd of May today?", "Who am I talking to about the boiler?",
    "Tell me who you are voting for.", "What do you do for a living?",
    "What's the date of the wedding, Jarvis?", "Give me the salt.",
])
def test_near_misses_of_the_new_phrasings_get_nothing(engine: IntentEngine, text: str) -> None:
    assert engine.recognize(text) is None
