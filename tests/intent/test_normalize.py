"""Transcripts to the form templates are written in: numbers, fillers, punctuation."""

from __future__ import annotations

import pytest

from appliance.intent.normalize import normalize
from appliance.intent.numbers import say_number, words_to_digits
from appliance.intent.slots import derive_slots


@pytest.mark.parametrize(("text", "plain"), [
    ("Set a 10-minute timer.", "set a 10 minute timer"),
    ("Wake me up at 7:30 a.m.", "wake me up at 7 30 am"),
    ("Could you please set the volume to 50%?", "set the volume to 50 percent"),
    ("Set a timer for 1.5 hours, thanks.", "set a timer for 1 hours 30 minutes"),
    ("Okay, so can you cancel the pasta timer for me?", "cancel the pasta timer"),
    ("Um, set a timer for twenty-five minutes.", "set a timer for 25 minutes"),
    ("Hey Jarvis, set a timer for 5 mins", "set a timer for 5 minutes"),
    ("Set an alarm for seven oh five.", "set an alarm for 7 5"),
    ("Set an alarm for noon", "set an alarm for 12 pm"),
    ("set an alarm for 730.", "set an alarm for 7 30"),  # Whisper's "seven thirty"
    ("Wake me up at 1045 pm", "wake me up at 10 45 pm"),
    ("Set a timer for 100 minutes", "set a timer for 100 minutes"),
    ("Set the volume to 100.", "set the volume to 100"),
    # Clock times as Whisper writes them.
    ("Set an alarm for 8.15pm.", "set an alarm for 8 15 pm"),
    ("Set an alarm for 8:15 p.m.", "set an alarm for 8 15 pm"),
    ("Wake me up at six a m.", "wake me up at 6 am"),
    ("Wake me up at 6 P.M.", "wake me up at 6 pm"),
    ("Set an alarm for 7:00 a.m.", "set an alarm for 7 am"),
    ("Set an alarm at 21:00.", "set an alarm at 21"),
    ("Alarm at 18:30.", "alarm at 18 30"),
    ("Set an alarm for a quarter to eight.", "set an alarm for 7 45"),
    # Times as people say them: "N past/to M" after any word, British "half 7", round midnight.
    ("Wake me up ten past six.", "wake me up 6 10"),
    ("Alarm twenty-five to seven.", "alarm 6 35"),
    ("Set an alarm for half eight.", "set an alarm for 8 30"),
    ("Set an alarm for ten to midnight.", "set an alarm for 11 50 pm"),
    ("Set an alarm for a quarter to noon.", "set an alarm for 11 45 am"),
    ("Give me five to ten minutes.", "give me 5 to 10 minutes"),  # a range, not a time
    ("Turn off Saturday morning's alarm.", "turn off saturday morning alarm"),
    ("What's today's date?", "what's today's date"),
    # Amounts.
    ("Set a timer for 2.25 hours.", "set a timer for 2 hours 15 minutes"),
    ("Set a timer for 1.5 minutes.", "set a timer for 1 minutes 30 seconds"),
    ("Set a timer for 1.33 hours.", "set a timer for 1 33 hours"),  # not whole minutes: as is
    ("Put another minute on the timer.", "put another 1 minute on the timer"),
    ("Add two more minutes to the timer.", "add 2 minutes more to the timer"),
    # Said before and after a command.
    ("Excuse me, what time is it?", "what time is it"),
    ("Sorry, can you repeat that?", "repeat that"),
    ("Sorry?", "sorry"),
    ("Sorry, what?", "sorry what"),  # a sentence of its own: kept
    ("Hey, what should I call you?", "what should i call you"),
    ("Ugh, hit snooze.", "hit snooze"),
    ("You can unmute now.", "unmute"),
    ("Um, what time is it right now?", "what time is it"),
    # Softened: how much ("a bit"), "would you mind ...ing", what is true "at the moment".
    ("Would you mind switching the sound off?", "switch the sound off"),
    ("Could you just make it a tiny bit quieter, okay?", "make it quieter"),
    ("Which day is it at the moment, if you don't mind?", "which day is it"),
    # The wake word said last, as a name; contractions the templates spell out.
    ("Cancel the timer, Jarvis.", "cancel the timer"),
    ("Jarvis, what's the time, Jarvis?", "what's the time"),
    ("How long's it got left?", "how long is it got left"),
    ("What time's the alarm set for?", "what time is the alarm set for"),
    ("When's the next alarm?", "when is the next alarm"),
    ("What've you got on?", "what have you got on"),
    ("That's it.", "that's it"),  # what templates write as "that's" stays
    # A reason after the command, behind a comma, is not part of it.
    ("Turn off Monday's alarm, we're away.", "turn off monday alarm"),
    ("Stop, because I'm on the phone.", "stop"),
    ("I'm going out.", "i'm going out"),  # no comma: a sentence, not a reason
    # "A notch", "bit" before a comparison, "pardon" before a request, "from now".
    ("Bring it down a notch.", "bring it down"),
    ("Bit louder.", "louder"),
    ("Bit of a mess.", "bit of a mess"),
    ("Pardon, what did you say?", "what did you say"),
    ("Pardon?", "pardon"),
    ("Wake me in 2 hours from now.", "wake me in 2 hours"),
    ("Add an extra hour.", "add an extra 1 hour"),
])
def test_normalize(text: str, plain: str) -> None:
    assert normalize(text, ("hey_jarvis",)) == plain


@pytest.mark.parametrize(("words", "digits"), [
    ("twenty five minutes", "25 minutes"),
    ("an hour and a half", "1 hours 30 minutes"),
    ("one and a half hours", "1 hours 30 minutes"),
    ("a minute and a half", "1 minutes 30 seconds"),
    ("half an hour", "30 minutes"),
    ("at half past seven", "at 7 30"),
    ("at quarter to eight", "at 7 45"),
    ("for ten to seven", "for 6 50"),
    ("at quarter to one", "at 12 45"),
    ("one hundred and five", "105"),
    ("cancel that one", "cancel that one"),  # a pronoun, not a number
    ("volume to one", "volume to 1"),
    ("from 3 to 5", "from 3 to 5"),  # not a clock time
    ("one and a half hour", "1 hours 30 minutes"),
    ("a half hour", "30 minutes"),
    ("three quarters of an hour", "45 minutes"),
    ("an hour and a quarter", "1 hours 15 minutes"),
])
def test_words_to_digits(words: str, digits: str) -> None:
    assert words_to_digits(words) == digits


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (7, "seven"), (21, "twenty-one"), (40, "forty"), (100, "one hundred"),
    (105, "one hundred and five"), (999, "nine hundred and ninety-nine"), (1000, "1000"),
])
def test_say_number(n: int, words: str) -> None:
    assert say_number(n) == words


def test_derive_slots() -> None:
    assert derive_slots({"hours": 1.0, "minutes": 30.0, "name": " pasta "}) == {
        "name": "pasta", "duration_s": 5400}
    assert derive_slots({"hour": 7.0, "ampm": "am"}) == {"hour": 7, "ampm": "am"}


def test_a_list_value_may_stand_for_several_slots() -> None:
    assert derive_slots({"hour": 6.0, "day": {"day": "today", "ampm": "pm"}}) == {
        "hour": 6, "day": "today", "ampm": "pm"}
