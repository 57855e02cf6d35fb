"""The first piece Piper says: a long first sentence starts with its first clause alone."""

from __future__ import annotations

import pytest

from appliance.tts import spoken_pieces


@pytest.mark.parametrize(("text", "expected"), [
    ("Today is Tuesday, the first of December, 2026.",
     ["Today is Tuesday,", "the first of December, 2026."]),
    ("Today is Tuesday, December 1st, 2026.", ["Today is Tuesday,", "December 1st, 2026."]),
    ("I can tell the time and the date, set timers and alarms, and change the volume.",
     ["I can tell the time and the date,", "set timers and alarms, and change the volume."]),
    ("You have three alarms: seven AM, eight thirty AM and nine AM. Anything else?",
     ["You have three alarms:", "seven AM, eight thirty AM and nine AM. Anything else?"]),
    ("The pasta timer has nine minutes left, the tea timer has two minutes left and two more.",
     ["The pasta timer has nine minutes left,",
      "the tea timer has two minutes left and two more."]),
])
def test_a_long_first_sentence_starts_with_its_first_clause(text: str,
                                                            expected: list[str]) -> None:
    assert spoken_pieces(text) == expected


@pytest.mark.parametrize("text", [
    "It's 4:35 PM. Your pasta timer has nine minutes left.",  # a short first sentence
    "Sure. Today is Tuesday, the first of December, 2026.",  # only the first one is cut
    "Which timer? The pasta timer, the tea timer or the egg timer?",
    "Set a timer for ten minutes and then tell me when the pasta water boils.",  # no clause
    "Hello.",
    "Sorry, I didn't understand.",
])
def test_a_short_first_sentence_or_one_without_a_clause_is_not_cut(text: str) -> None:
    assert spoken_pieces(text) == [text]


def test_a_clause_too_short_to_say_alone_is_not_cut_off() -> None:
    text = "Okay, the pasta timer has nine minutes left and the tea timer has two."
    assert spoken_pieces(text) == [text]


def test_the_first_clause_is_one_the_rest_of_its_sentence_can_follow_without_a_gap() -> None:
    """"All right then," would leave 81 characters to make while 15 play: cut later."""
    text = ("All right then, the pasta timer has nine minutes left and the tea timer has two "
            "minutes, so hurry.")
    assert spoken_pieces(text) == [
        "All right then, the pasta timer has nine minutes left and the tea timer has two "
        "minutes,",
        "so hurry.",
    ]


def test_every_piece_is_bounded_and_together_they_are_the_text() -> None:
    long = ("Right now, " + "the tea timer, " * 12 + "the pasta timer and the egg timer are "
            "running. Then there is the alarm at seven.")
    said = spoken_pieces(long, limit=60)
    assert said[0] == "Right now, the tea timer,"  # "Right now," alone is too short
    assert all(len(p) <= 60 for p in said)
    assert " ".join(said) == long


def test_nothing_to_say_is_no_piece() -> None:
    assert spoken_pieces("   ") == []
