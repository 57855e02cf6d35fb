"""Sentences to intents, the built-in answers, and sentence files that are wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from appliance.errors import IntentError
from appliance.intent.engine import IntentEngine
from appliance.intent.normalize import normalize
from appliance.settings import load_settings
from appliance.skills.core import CoreSkills, capabilities, say_date, time_words


def engine(*dirs: Path) -> IntentEngine:
    settings = load_settings(overrides={"intent": {"sentences_dirs": [str(d) for d in dirs]}})
    return IntentEngine(settings.intent, ("hey_jarvis",))


@pytest.mark.parametrize(("text", "intent"), [
    ("What time is it?", "GetTime"),
    (" Hey Jarvis, what's the time?", "GetTime"),
    ("Jarvis. What time is it now?", "GetTime"),
    ("Um, what is the date today?", "GetDate"),
    ("What day is it?", "GetWeekday"),
    ("What can you do?", "ListCapabilities"),
    ("What's your name?", "GetName"),
])
def test_transcripts_match(text: str, intent: str) -> None:
    result = engine().recognize(text)
    assert result is not None and result.name == intent


@pytest.mark.parametrize("text", ["Turn on the kitchen lights.", "", "Hey Jarvis.",
                                  "What time is the train?"])
def test_out_of_domain_is_not_matched(text: str) -> None:
    assert engine().recognize(text) is None


def test_normalize() -> None:
    assert normalize("Hey, Jarvis! Uh, what’s   the TIME?", ("hey_jarvis",)) == "what's the time"


@pytest.mark.parametrize(("h", "m", "words"), [
    (0, 0, "twelve o'clock AM"), (9, 5, "nine oh five AM"), (12, 30, "twelve thirty PM"),
    (16, 39, "four thirty-nine PM"), (23, 59, "eleven fifty-nine PM"), (13, 10, "one ten PM"),
])
def test_times_are_spoken_in_words(h: int, m: int, words: str) -> None:
    assert time_words(h, m) == words


def test_date_and_capabilities() -> None:
    assert say_date(datetime(2026, 11, 22)) == "Today is Sunday, November 22nd, 2026."
    assert capabilities(["GetTime", "GetDate", "ListCapabilities", "TurnOnTheFan"]) == (
        "I can tell the time, tell the date and turn on the fan.")


async def test_core_skills_answer_with_injected_clock() -> None:
    skills = CoreSkills("Jarvis", lambda: ["GetTime"], now=lambda: datetime(2026, 1, 1, 7, 0))
    reply = await skills.handle(engine().recognize("what time is it") or pytest.fail(), "s")
    assert reply is not None and reply.text == "It's seven o'clock AM."
    assert await skills.handle(engine().recognize("what's your name") or pytest.fail(), "s")


def test_user_sentences_add_intents(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "language: en\nintents:\n  StartFan:\n    data:\n      - sentences:\n"
        "          - \"(start|turn on) the fan\"\n")
    result = engine(tmp_path).recognize("Please turn on the fan")
    assert result is None  # "please" is not in the template
    result = engine(tmp_path).recognize("Turn on the fan.")
    assert result is not None and result.name == "StartFan"
    assert "StartFan" in engine(tmp_path).intent_names


@pytest.mark.parametrize(("content", "where", "what"), [
    ("language: en\nintents:\n  X:\n    data:\n     - sentences: [\n", ":6", "invalid YAML"),
    ("language: en\nintents:\n  X:\n    data:\n      - sentences:\n          - \"a (b\"\n",
     ":6", "bad sentence template"),
    ("- just\n- a list\n", "", "expected a mapping"),
])
def test_malformed_sentence_files_name_file_and_line(
    content: str, where: str, what: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    with pytest.raises(IntentError) as info:
        engine(tmp_path)
    assert f"{path}{where}" in info.value.message
    assert what in info.value.message
