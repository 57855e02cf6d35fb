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
    results = run_intents(load_settings())
    assert results["utterances"] >= 200
    assert results["out_of_domain"] >= 40
    assert results["intent_accuracy_percent"] >= 97.0, results["mistakes"]
    assert results["false_accepts"] == 0, results["mistakes"]
    assert results["slot_accuracy_percent"] >= 97.0, results["mistakes"]
