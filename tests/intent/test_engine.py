"""The engine: exact and fuzzy matching, thresholds, own commands, context, the benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import IntentError
from appliance.intent.bench import run_intents
from appliance.intent.engine import IntentEngine, make_engine
from appliance.settings import load_settings


def test_exact_match_has_full_confidence(engine: IntentEngine) -> None:
    result = engine.recognize("Set a pasta timer for eight minutes.")
    assert result is not None
    assert (result.name, result.slots, result.confidence) == (
        "TimerSet", {"name": "pasta", "duration_s": 480}, 1.0)


@pytest.mark.parametrize(("text", "intent"), [
    ("set a timmer for 10 minutes", "TimerSet"),
    ("cancle the timer", "TimerCancel"),
    ("set an alarum for 6 am", "AlarmSet"),
    ("repeet that", "Repeat"),
])
def test_misheard_words_are_corrected_with_lower_confidence(
    engine: IntentEngine, text: str, intent: str
) -> None:
    result = engine.recognize(text)
    assert result is not None and result.name == intent
    assert 0.8 <= result.confidence < 1.0


def assert_means(engine: IntentEngine, text: str, intent: str,
                 slots: dict[str, object]) -> None:
    """Understood (exactly or by fuzzy correction) as ``intent`` with exactly ``slots``."""
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots) == (intent, slots)


def assert_understood(engine: IntentEngine, text: str, intent: str,
                      slots: dict[str, object]) -> None:
    """Understood exactly (no fuzzy correction) as ``intent`` with exactly ``slots``."""
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots, found.confidence) == (intent, slots,
                                                                                 1.0)


@pytest.mark.parametrize("text", ["How late is it open?", "What time is it in Tokyo?"])
def test_a_last_word_is_never_dropped_to_make_a_command(engine: IntentEngine, text: str) -> None:
    """Cut short of what was said, a sentence means something else."""
    assert engine.recognize(text) is None


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("Set an alarm for 8.15pm.", "AlarmSet", {"hour": 8, "minute": 15, "ampm": "pm"}),
    ("Set an alarm for 8:15 p.m.", "AlarmSet", {"hour": 8, "minute": 15, "ampm": "pm"}),
    ("Wake me up at six a m.", "AlarmSet", {"hour": 6, "ampm": "am"}),
    ("Set an alarm for a quarter to eight.", "AlarmSet", {"hour": 7, "minute": 45}),
    ("Set an alarm at 21:00.", "AlarmSet", {"hour": 21}),
    ("Set me an alarm for 7:00 a.m.", "AlarmSet", {"hour": 7, "ampm": "am"}),
    ("Set an alarm for 6.30am tomorrow.", "AlarmSet",
     {"hour": 6, "minute": 30, "ampm": "am", "day": "tomorrow"}),
    ("Set a timer for 1.5 hours.", "TimerSet", {"duration_s": 5400}),
    ("Timer for three quarters of an hour.", "TimerSet", {"duration_s": 2700}),
    ("Snooze it for ten more minutes.", "AlarmSnooze", {"duration_s": 600}),
    ("Put another minute on the pasta timer.", "TimerAddTime",
     {"duration_s": 60, "name": "pasta"}),
    # A day's part: "tomorrow evening" is pm; on a given day the morning needs no am.
    ("Set an alarm for tomorrow evening at 6.", "AlarmSet",
     {"day": "tomorrow", "ampm": "pm", "hour": 6}),
    ("Set an alarm for this evening at 8.", "AlarmSet", {"day": "today", "ampm": "pm", "hour": 8}),
    ("Set an alarm for Friday morning at 6.", "AlarmSet", {"day": "friday", "hour": 6}),
])
def test_numbers_and_times_in_the_forms_whisper_writes(
    engine: IntentEngine, text: str, intent: str, slots: dict[str, object]
) -> None:
    assert_understood(engine, text, intent, slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("Get rid of the pizza timer.", "TimerCancel", {"name": "pizza"}),
    ("Get rid of the timer.", "TimerCancel", {}),
    ("Get rid of my alarm.", "AlarmCancel", {}),
    ("Get rid of all the alarms I set.", "AlarmCancelAll", {}),
    ("Never mind the rice timer.", "TimerCancel", {"name": "rice"}),
    ("Cancel both timers.", "TimerCancelAll", {}),
    ("Timer ten minutes.", "TimerSet", {"duration_s": 600}),
    ("Start a tea timer, 4 minutes.", "TimerSet", {"duration_s": 240, "name": "tea"}),
    ("Is the egg timer still going?", "TimerStatus", {"name": "egg"}),
    ("Volume eight out of ten.", "VolumeSet", {"volume": 8}),
    ("Put the volume on max.", "VolumeSet", {"volume": 10}),
    ("That's too loud.", "VolumeDown", {}),
    ("Which day of the week is today?", "GetWeekday", {}),
    ("What should I call you?", "GetName", {}),
    ("I didn't catch that, say it again please.", "Repeat", {}),
])
def test_paraphrases_people_say(
    engine: IntentEngine, text: str, intent: str, slots: dict[str, object]
) -> None:
    assert_understood(engine, text, intent, slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    # Hedged and softened: the request inside is what counts.
    ("Would you mind starting a timer for twelve minutes?", "TimerSet", {"duration_s": 720}),
    ("Alright, could you just lower the volume slightly for me?", "VolumeDown", {}),
    ("Do you think you could cancel the rice timer, please?", "TimerCancel", {"name": "rice"}),
    ("Okay, what's the date currently?", "GetDate", {}),
    ("Can you turn it up a little bit right now?", "VolumeUp", {}),
])
def test_hedged_and_softened_requests(
    engine: IntentEngine, text: str, intent: str, slots: dict[str, object]
) -> None:
    assert_means(engine, text, intent, slots)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    # Said to the speaker as to a person: "yourself", "your volume", "your voice".
    ("Crank yourself up.", "VolumeUp", {}),
    ("Lower your voice.", "VolumeDown", {}),
    ("Put your volume at six.", "VolumeSet", {"volume": 6}),
    ("Talk up, I can't hear you.", "VolumeUp", {}),
    ("Switch your sound off.", "VolumeMute", {}),
    ("Could you turn down your sound?", "VolumeDown", {}),
])
def test_the_speaker_addressed_as_a_person(
    engine: IntentEngine, text: str, intent: str, slots: dict[str, object]
) -> None:
    assert_means(engine, text, intent, slots)


@pytest.mark.parametrize(("text", "intent"), [
    # Questions asked the long way round: "do you know ...", "remind me ...", "any idea ...".
    ("Have you got any idea what the time is?", "GetTime"),
    ("Could you tell me what the time is?", "GetTime"),
    ("Remind me which day of the week it is.", "GetWeekday"),
    ("I want to know today's date.", "GetDate"),
    ("What types of stuff can you help me with?", "ListCapabilities"),
    ("Tell me what you can do.", "ListCapabilities"),
])
def test_questions_in_other_shapes(engine: IntentEngine, text: str, intent: str) -> None:
    found = engine.recognize(text)
    assert found is not None and found.name == intent


@pytest.mark.parametrize("text", [
    "Once again, please.", "Repeat what you said one more time.", "Sorry, what was that again?",
    "What were you just saying?", "Could you say what you said once more?",
])
def test_asked_to_repeat_in_other_words(engine: IntentEngine, text: str) -> None:
    found = engine.recognize(text)
    assert found is not None and found.name == "Repeat"


@pytest.mark.parametrize(("text", "slots"), [
    # Times of day as people say them, the day and the part of the day in either order.
    ("Wake me up twenty past five tomorrow.", {"hour": 5, "minute": 20, "day": "tomorrow"}),
    ("Set an alarm for five to six in the evening.", {"hour": 5, "minute": 55, "ampm": "pm"}),
    ("Set an alarm for half nine on Sunday.", {"hour": 9, "minute": 30, "day": "sunday"}),
    ("Set an alarm for tonight at eleven fifteen.", {"hour": 11, "minute": 15, "ampm": "pm"}),
    ("Wake me at quarter to seven in the morning on Thursday.",
     {"hour": 6, "minute": 45, "ampm": "am", "day": "thursday"}),
    ("Set an alarm for eight o'clock tomorrow evening.",
     {"hour": 8, "day": "tomorrow", "ampm": "pm"}),
    ("Set an alarm for ten to midnight.", {"hour": 11, "minute": 50, "ampm": "pm"}),
])
def test_times_of_day_as_people_say_them(
    engine: IntentEngine, text: str, slots: dict[str, object]
) -> None:
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots) == ("AlarmSet", slots)


@pytest.mark.parametrize(("text", "slots"), [
    # An alarm named by when it rings.
    ("Skip Wednesday's alarm.", {"day": "wednesday"}),
    ("Switch off the alarm I set for half six.", {"hour": 6, "minute": 30}),
    ("We won't need the alarm on Thursday after all.", {"day": "thursday"}),
    ("Get rid of my Sunday eight o'clock alarm.", {"day": "sunday", "hour": 8}),
    ("No alarm on Tuesday.", {"day": "tuesday"}),
    ("Disable tomorrow evening's alarm.", {"day": "tomorrow", "ampm": "pm"}),
])
def test_alarms_cancelled_by_when_they_ring(
    engine: IntentEngine, text: str, slots: dict[str, object]
) -> None:
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots) == ("AlarmCancel", slots)


@pytest.mark.parametrize("text", [
    "What's left on the shopping list?", "How long have we got left?",
    "Add 10 minutes to the meeting.", "Give the dog another 5 minutes.",
    "Get rid of the spider.", "I can't hear you, Mum.", "Mute the TV.",
    "What time is it in Tokyo?", "Is it raining today?", "Is there a bus running?",
    "Remind me what time the dentist is.", "Do you know what the weather is?",
    "Any idea what the score is?", "What kind of music can you play?",
    "What was that noise?", "What were you doing?", "One more time and you're grounded.",
    "Cancel Monday's meeting.", "Skip tomorrow's class.", "I won't need a car on Friday.",
    "No school tomorrow.",
    # Near the timers named by what is cooking, which the grammar leaves out.
    "How long does the meeting have left?", "Give the kids five more minutes.",
    "Add milk to the list.", "How long does the race have left?", "Stop the race.",
    "Put it down.", "Turn the TV down.", "Bring it up at the meeting.", "Turn yourself off.",
])
def test_out_of_domain_near_the_new_sentences_gets_nothing(
    engine: IntentEngine, text: str
) -> None:
    assert engine.recognize(text) is None


def test_threshold_one_means_exact_only() -> None:
    settings = load_settings(overrides={"intent": {"sentences_dirs": []},
                                        "skills": {"fuzzy_threshold": 1.0}})
    strict = make_engine(settings)
    assert strict.recognize("set a timmer for 10 minutes") is None
    assert strict.recognize("set a timer for 10 minutes") is not None


@pytest.mark.parametrize("text", [
    "Stop smoking.", "Stop the music.", "Set a reminder for 10 minutes.", "Cancel my order.",
    "What time is the train?", "Set the thermostat to 20 degrees.", "Thank you for watching.",
    "Nute.", "Snays.",  # a lone misheard word is not guessed
])
def test_near_misses_are_not_understood(engine: IntentEngine, text: str) -> None:
    assert engine.recognize(text) is None


def test_answer_sentences_need_the_question(engine: IntentEngine) -> None:
    assert engine.recognize("the pasta one") is None
    engine.add_context(lambda: {"question": "timer"})
    try:
        result = engine.recognize("the pasta one")
        assert result is not None and result.name == "TimerChoose"
        assert result.slots == {"name": "pasta"}
        assert engine.recognize("set a timer for 5 minutes") is not None  # others still work
    finally:
        engine._contexts.clear()


def test_own_commands_from_config_add_sentences() -> None:
    command = {"intent": "FanOn", "sentences": ["(turn|switch on the fan"],
               "response": "Fan on.", "mqtt_topic": "", "mqtt_payload": "",
               "command": [], "timeout_s": 5.0}
    settings = load_settings(overrides={
        "intent": {"sentences_dirs": []},
        "skills": {"commands": [command]},
        })
    with pytest.raises(IntentError, match=r"skills.commands\[0\].sentences"):
        make_engine(settings)  # unbalanced bracket: the error names the config key
    command["sentences"] = ["(turn|switch) on the fan"]
    settings = load_settings(overrides={"intent": {"sentences_dirs": []},
                                        "skills": {"commands": [command]}})
    result = make_engine(settings).recognize("Switch on the fan, please.")
    assert result is not None and result.name == "FanOn"


def test_user_sentence_file_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("language: en\nintents:\n  X:\n    data:\n      - sentences:\n"
                   "          - \"set (the fan\"\n")
    settings = load_settings(overrides={"intent": {"sentences_dirs": [str(tmp_path)]}})
    with pytest.raises(IntentError) as info:
        make_engine(settings)
    assert f"{bad}:6" in info.value.message


def test_text_benchmark_meets_the_targets() -> None:
    results = run_intents(load_settings())["intents"]
    assert results["utterances"] >= 200
    assert results["out_of_domain"] >= 40
    assert results["intent_accuracy_percent"] >= 97.0, results["mistakes"]
    assert results["false_accepts"] == 0, results["mistakes"]
    assert results["slot_accuracy_percent"] >= 97.0, results["mistakes"]


def test_text_benchmark_reports_four_sets_and_hides_heldouts_mistakes() -> None:
    results = run_intents(load_settings())
    assert {"intents", "paraphrases", "heldout", "paraphrases2"} <= set(results)
    for listed in ("intents", "paraphrases", "paraphrases2"):
        assert "mistakes" in results[listed], listed
    assert "mistakes" not in results["heldout"]
    assert results["heldout"]["utterances"] == 90
    assert results["paraphrases2"]["utterances"] >= 200


def test_text_benchmark_leaves_out_sets_a_data_dir_lacks(tmp_path: Path) -> None:
    (tmp_path / "intents.yaml").write_text(
        '- {text: "What time is it?", intent: GetTime}\n- {text: "Play jazz.", intent: null}\n')
    results = run_intents(load_settings(), tmp_path)
    assert results["intents"]["utterances"] == 2
    assert not {"paraphrases", "heldout", "paraphrases2"} & set(results)
