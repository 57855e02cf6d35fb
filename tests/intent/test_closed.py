"""The closed-vocabulary step's text half: skeletons, the nearest of them, filling, choosing.

Whisper's scoring is replaced by a hand-written scorer (a table of log-probabilities); the real
one is tested with the model in ``test_closed_whisper.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from appliance.controller import Moot
from appliance.intent.closed import ClosedVocabulary, SkeletonIndex, fill, sound_key
from appliance.intent.engine import IntentEngine, make_engine
from appliance.intent.skeletons import SPAN_WORDS, Skeleton, Slot, choice_values, skeletons
from appliance.settings import IntentSettings, load_settings


@pytest.fixture(scope="module")
def engine() -> IntentEngine:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    return IntentEngine(settings.intent, ("hey_jarvis",))


@pytest.fixture(scope="module")
def closed(engine: IntentEngine) -> ClosedVocabulary:
    return ClosedVocabulary(engine, max_penalty=4.0)


@pytest.fixture(scope="module")
def daemons_closed() -> ClosedVocabulary:
    """With the daemon's engine (it drops "please" and corrects words)."""
    settings = load_settings(overrides={"intent": {"sentences_dirs": []}})
    return ClosedVocabulary(make_engine(settings, ("hey_jarvis",)), max_penalty=4.0)


@pytest.fixture(scope="module")
def index(engine: IntentEngine) -> SkeletonIndex:
    return SkeletonIndex(skeletons(engine.intents), choice_values(engine.intents))


def words(text: str) -> list[str]:
    return text.split()


def test_numbers_names_and_times_are_placeholders_small_word_lists_choices(
        engine: IntentEngine) -> None:
    all_texts = {s.text for s in skeletons(engine.intents)}
    assert "cancel all timers" in all_texts
    assert "what time is it" in all_texts
    assert any(t.startswith("set a timer for <duration>") for t in all_texts)
    assert any("<name>" in t for t in all_texts)
    timers = [s for s in skeletons(engine.intents) if s.intent == "TimerSet"]
    assert len(timers) < 5000  # a duration is one placeholder, not every number and unit


def test_templates_that_need_a_question_are_left_out(engine: IntentEngine) -> None:
    names = {s.intent for s in skeletons(engine.intents)}
    assert "TimerChoose" not in names and "AlarmChoose" not in names


def test_a_misheard_command_finds_its_sentence_among_the_nearest(
        index: SkeletonIndex) -> None:
    found = index.candidates(words("can't sell it all timers"))
    assert found[0].intent == "TimerCancelAll"
    assert " ".join(found[0].words) == "cancel all timers"


def test_a_word_that_sounds_alike_is_found_by_its_sound() -> None:
    assert sound_key("volume") == sound_key("follum")
    volume = Skeleton("VolumeUp", ("volume", "up"))
    other = Skeleton("Stop", ("stop",))
    found = SkeletonIndex([other, volume], {}).nearest(["follum", "up"], k=1)
    assert found == [volume]


def test_numbers_and_names_keep_what_was_heard() -> None:
    skeleton = Skeleton("TimerSet", ("set", "a", Slot("name", "words"), "timer", "for",
                                     Slot("minutes", "number"), "minutes"))
    assert fill(skeleton, words("sit a pasta timer for 8 minutes"), {}) == tuple(
        words("set a pasta timer for 8 minutes"))


def test_a_duration_is_kept_whole_and_a_choice_is_its_closest_value() -> None:
    skeleton = Skeleton("AlarmSet", ("set", "an", "alarm", "for", Slot("when", "span")))
    assert fill(skeleton, words("set in alarm for 7 30 tomorrow"),
                {SPAN_WORDS: ["tomorrow"]}) == tuple(
        words("set an alarm for 7 30 tomorrow"))
    day = Skeleton("AlarmCancel", ("cancel", "the", Slot("day", "choice"), "alarm"))
    choices = {"day": ["today", "tomorrow", "monday"]}
    assert fill(day, words("cancel the tomorow alarm"), choices) == tuple(
        words("cancel the tomorrow alarm"))


def test_a_placeholder_with_nothing_heard_in_its_place_is_no_candidate() -> None:
    skeleton = Skeleton("TimerSet", ("set", "a", "timer", "for", Slot("duration", "span")))
    assert fill(skeleton, words("set a timer for"), {}) is None
    number = Skeleton("VolumeSet", ("volume", Slot("volume", "number")))
    assert fill(number, words("volume up"), {}) is None


class Table:
    """Log-probabilities by sentence (what Whisper would say of the audio); -50 otherwise."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.asked: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> list[float]:
        self.asked.append([t.strip() for t in texts])
        return [self.scores.get(t.strip(), -50.0) for t in texts]


def test_the_audio_decides_between_the_candidates(closed: ClosedVocabulary) -> None:
    scorer = Table({"Can't sell it all timers.": -12.0, "Cancel all timers.": -14.0})
    choice = closed.choose("Can't sell it all timers.", scorer)
    assert choice is not None
    assert choice.recognition.name == "TimerCancelAll"
    assert choice.sentence == "cancel all timers"
    assert choice.penalty == 2.0
    assert choice.recognition.text == "Can't sell it all timers."
    assert scorer.asked[0][0] == "Can't sell it all timers."  # the free transcript first


def test_a_command_the_audio_does_not_support_is_not_taken(closed: ClosedVocabulary) -> None:
    """Out of domain: the nearest command is far less likely than what Whisper wrote."""
    scorer = Table({"What time does the pharmacy close?": -6.0})
    assert closed.choose("What time does the pharmacy close?", scorer) is None


def test_slots_come_from_the_engine_as_for_any_transcript(closed: ClosedVocabulary) -> None:
    scorer = Table({"Said a timer for 10 minutes.": -9.0, "Set a timer for 10 minutes.": -10.0})
    choice = closed.choose("Said a timer for 10 minutes.", scorer)
    assert choice is not None
    assert (choice.recognition.name, choice.recognition.slots) == ("TimerSet",
                                                                   {"duration_s": 600})


def test_no_scores_means_no_choice(closed: ClosedVocabulary) -> None:
    assert closed.choose("Can't sell it all timers.", lambda texts: None) is None
    assert closed.choose("", Table({})) is None


def test_the_setting_is_validated() -> None:
    assert isinstance(load_settings().intent, IntentSettings)
    assert load_settings().intent.closed_vocabulary is True
    with pytest.raises(Exception, match="closed_max_penalty"):
        load_settings(overrides={"intent": {"closed_max_penalty": -1}})


@pytest.mark.parametrize(("said", "whole"), [
    ("What time is it?", True),  # ... "now" changes nothing
    ("Volume up.", True),
    ("Cancel all timers.", True),
    ("How long is left on the timer?", True),
    ("Turn it up.", False),  # ... "to 7": another intent
    ("Set a timer for 10 minutes.", False),  # ... "for the pasta": another slot
    ("Cancel the timer.", False),  # ... "for the eggs"
    ("Stop.", False),  # ... "the timer"
    ("The garden looks lovely.", False),  # not understood at all
])
def test_a_whole_command_is_one_that_cannot_go_on_to_mean_more(
        closed: ClosedVocabulary, said: str, whole: bool) -> None:
    assert closed.is_whole_command(said) is whole


@pytest.mark.parametrize(("said", "whole"), [
    ("Set a timer for ten minutes, please.", True),  # a request ends with "please"
    ("Turn the volume down, thanks.", True),
    ("Cancel the timer, thank you.", True),
    ("Please set a timer for 10 minutes.", False),  # ... "for the pasta"
    ("The garden looks lovely, thank you.", False),  # polite, but not understood
])
def test_a_command_that_ends_with_please_or_thanks_is_whole(
        daemons_closed: ClosedVocabulary, said: str, whole: bool) -> None:
    assert daemons_closed.is_whole_command(said) is whole


NO_TIMERS = Moot(idle=frozenset({"TimerCancel", "TimerCancelAll", "TimerStatus", "TimerAddTime",
                                  "AlarmCancel", "AlarmCancelAll"}))
ONE_TIMER = Moot(idle=frozenset({"AlarmCancel", "AlarmCancelAll"}),
                 one_target=frozenset({"TimerCancel", "TimerStatus"}))
TWO_TIMERS = Moot(idle=frozenset({"AlarmCancel", "AlarmCancelAll"}))


@pytest.mark.parametrize(("said", "moot", "whole"), [
    ("Cancel the timer.", NO_TIMERS, True),  # ... "for the eggs": there are none either way
    ("Cancel the timer.", ONE_TIMER, True),  # ... "for the eggs": "the timer" is the one
    ("Cancel the timer.", TWO_TIMERS, False),  # which one matters
    ("Stop.", NO_TIMERS, True),  # ... "the timer" would do nothing
    ("Stop.", ONE_TIMER, False),  # ... "the timer" would cancel it
    ("Cancel the alarm.", NO_TIMERS, True),  # (with a timer, "... timer" cancels it)
    ("Turn the volume down.", NO_TIMERS, False),  # ... "to 3": no state makes that moot
    ("Set a timer for 10 minutes.", NO_TIMERS, False),  # ... "for the pasta"
])
def test_more_words_for_a_command_that_is_moot_now_are_not_waited_for(
        daemons_closed: ClosedVocabulary, said: str, moot: Moot, whole: bool) -> None:
    assert daemons_closed.is_whole_command(said, moot) is whole
    assert not daemons_closed.is_whole_command(said)  # (without the skills' say, it waits)


def test_a_word_that_starts_commands_is_not_a_timer_s_name_at_the_start(
        daemons_closed: ClosedVocabulary) -> None:
    """"stop" ... "timer for 5 minutes" is cancelling a timer (moot with none), not setting
    one named "stop"; a word that starts no command may still be a name there."""
    assert daemons_closed.engine.recognize("stop timer for 5 minutes").name == "TimerCancel"
    assert daemons_closed.is_whole_command("Stop.", NO_TIMERS)
    assert not daemons_closed.is_whole_command("10 minute timer.", NO_TIMERS)  # ... "for the
    # pasta": a sentence that starts with its amount still goes on


def test_an_amount_holds_only_the_words_an_amount_can_hold(index: SkeletonIndex) -> None:
    """"set time or 6 minutes": the misheard "time or" is the sentence's own words, not part of
    the duration."""
    found = index.candidates(words("set time or 6 minutes"))
    assert "set timer for 6 minutes" in [" ".join(c.words) for c in found]
    assert not any("or" in c.words for c in found)


@pytest.mark.parametrize("heard", [
    "i set a alarm for 10 seconds",  # a statement about an alarm, not a command
    "stop it you too",  # the command stops short of what was said
    "turn the volume up on the tv",
])
def test_a_sentence_that_does_not_account_for_what_was_heard_is_no_candidate(
        index: SkeletonIndex, heard: str) -> None:
    found = [(c.intent, " ".join(c.words)) for c in index.candidates(words(heard))]
    assert ("Stop", "stop it") not in found
    assert ("VolumeUp", "turn the volume up") not in found
    assert not any(intent == "AlarmSet" for intent, _ in found)
