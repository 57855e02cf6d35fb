"""Lists said to the user name three items at most and count the rest (issue 16, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.intent.engine import IntentEngine
from appliance.skills.service import Skills
from appliance.skills.words import MAX_NAMED, join_words

from .conftest import RecordingHost, skill_settings
from .helpers import ask

NUMBERS = ["one", "two", "three", "four", "five", "six"]


@pytest.mark.parametrize(("items", "last", "said"), [
    ([], "and", ""),
    (["the tea timer"], "and", "the tea timer"),
    (["a", "b"], "and", "a and b"),
    (["a", "b", "c"], "or", "a, b or c"),
    (["a", "b", "c", "d"], "and", "a, b, c and one more"),
    ([f"t{i}" for i in range(25)], "or", "t0, t1, t2 or twenty-two more"),
])
def test_join_words(items: list[str], last: str, said: str) -> None:
    assert join_words(items, last) == said


def test_any_number_of_items_names_three_at_most() -> None:
    for n in range(60):
        items = [f"item{i}" for i in range(n)]
        said = join_words(items)
        named = [i for i in items if i in said.replace(",", " ").split()]
        assert named == items[:MAX_NAMED], said
        assert said.endswith(" more") == (n > MAX_NAMED), said


async def set_timers(skills: Skills, engine: IntentEngine, count: int) -> None:
    for minutes in range(1, count + 1):
        await ask(skills, engine, f"Set a timer for {minutes} minutes")


async def test_25_timers_left_is_a_short_answer(skills: Skills, engine: IntentEngine) -> None:
    await set_timers(skills, engine, 25)
    reply = await ask(skills, engine, "How much time is left?")
    assert reply.text == (
        "The one minute timer has one minute left, the two minute timer has two minutes left, "
        "the three minute timer has three minutes left and twenty-two more.")


async def test_adding_time_to_25_timers_is_a_short_answer(skills: Skills,
                                                         engine: IntentEngine) -> None:
    await set_timers(skills, engine, 25)
    question = (await ask(skills, engine, "Add 1 minute")).text
    assert question == ("Which timer? The one minute timer, the two minute timer, the three "
                        "minute timer or twenty-two more?")  # it was 544 characters
    reply = await ask(skills, engine, "All of them.")
    # Each is now a minute longer, and named by its new length.
    assert reply.text == (
        "Added one minute. The two minute timer has two minutes left, the three minute timer has "
        "three minutes left, the four minute timer has four minutes left and twenty-two more.")


async def test_many_alarms_are_listed_short(skills: Skills, engine: IntentEngine) -> None:
    for hour in range(1, 7):
        await ask(skills, engine, f"Wake me up at {NUMBERS[hour - 1]} PM")
    reply = await ask(skills, engine, "What alarms do I have?")
    assert reply.text.startswith("You have 6 alarms: one o'clock PM")
    assert reply.text.endswith(" and three more.")
    assert reply.text.count(",") == 2 and "four o'clock" not in reply.text


async def test_missed_while_off_names_three(tmp_path: Path, engine: IntentEngine,
                                            clock: FakeClock, host: RecordingHost) -> None:
    settings = skill_settings(tmp_path).skills
    first = Skills(host, settings, clock, default_volume=80)
    for minutes in range(1, 7):
        await ask(first, engine, f"Set a timer for {minutes} minutes")
    clock.advance(5 * 3600)  # off for five hours: all six were missed
    second = Skills(host, settings, clock, default_volume=80)
    await second._announce_missed()
    assert host.said == ["While I was off, the one minute timer, the two minute timer, the three "
                         "minute timer and three more went off."]
