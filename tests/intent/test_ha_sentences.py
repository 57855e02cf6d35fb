"""Home Assistant's sentences (home-assistant-intents) as ours: intents, slots, what is left out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from appliance.intent import ha_sentences
from appliance.intent.engine import IntentEngine, make_engine
from appliance.settings import load_settings

# Shaped like the package's data, written here by hand (so each rule is seen on its own).
THEIRS: dict[str, Any] = {
    "language": "en",
    "skip_words": ["please", "can you"],
    "lists": {
        "volume_step": {"values": [{"in": "(up|increase)", "out": "up"},
                                   {"in": "(down|decrease)", "out": "down"}]},
    },
    "expansion_rules": {
        "timer_set": "(start|set)", "timer_cancel": "(cancel|stop)", "the": "(the|my)",
        "media": "(music|movie)", "here": "[in] here", "unused": "(never|used)",
    },
    "intents": {
        "HassStartTimer": {"data": [
            {"sentences": [
                "<timer_set> [a] timer for {timer_minutes:minutes}( |-)minute[s]",
                "<timer_set> [a] timer for {timer_minutes:minutes} and [a] "
                "{timer_half:seconds} minute[s]",
                "{timer_command:conversation_command} in {timer_minutes:minutes} minute[s]",
            ]},
            {"sentences": ["<timer_set> [a] {timer_name:name} timer for {timer_hours:hours} "
                           "hour[s]"]},
        ]},
        "HassCancelTimer": {"data": [
            {"sentences": ["<timer_cancel> [the] timer in [<the>] {area}"]},
            {"sentences": ["<timer_cancel> [the] {timer_minutes:start_minutes} minute timer"]},
        ]},
        "HassIncreaseTimer": {"data": [
            {"sentences": [
                "add {timer_minutes:minutes} minute[s] to [the] timer",
                "add {timer_minutes:minutes} minute[s] to [the] "
                "{timer_minutes:start_minutes} minute timer",
            ]},
        ]},
        "HassSetVolume": {"data": [
            {"sentences": ["set [the] volume to {volume:volume_level}[([ ]%)| percent]"],
             "requires_context": {"area": {"slot": True}}},
            {"sentences": ["set [the] {name} volume to {volume:volume_level}"],
             "requires_context": {"domain": ["media_player"]}},
        ]},
        "HassSetVolumeRelative": {"data": [
            {"sentences": ["[turn [the]] volume {volume_step}",
                           "volume up by {volume_step_up:volume_step}[%| percent]"],
             "requires_context": {"area": {"slot": True}}},
        ]},
        "HassMediaPlayerMute": {"data": [
            {"sentences": ["mute [[<the>] <media>] [<here>]"],
             "requires_context": {"area": {"slot": True}}},
        ]},
        "HassTurnOn": {"data": [{"sentences": ["turn on [the] {name}"]}]},
    },
}


def sentences(data: dict[str, Any], intent: str) -> list[str]:
    return [s for block in data["intents"].get(intent, {}).get("data", [])
            for s in block["sentences"]]


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return ha_sentences.convert(THEIRS)


def test_their_intents_get_our_names_and_ours_only(ours: dict[str, Any]) -> None:
    assert set(ours["intents"]) == {"TimerSet", "TimerCancel", "TimerAddTime", "VolumeSet",
                                    "VolumeUp", "VolumeDown", "VolumeMute"}


def test_timer_slots_come_out_as_ours(ours: dict[str, Any]) -> None:
    assert sentences(ours, "TimerSet") == [
        "<ha_timer_set> [a] timer for {minutes}( |-)minute[s]",
        "<ha_timer_set> [a] {name} timer for {hours} hour[s]",
    ]  # the "half" form (the normaliser writes digits) and the conversation command: left out


def test_a_timer_named_by_its_duration_only_where_our_skills_find_it_so(
    ours: dict[str, Any]
) -> None:
    assert sentences(ours, "TimerCancel") == ["<ha_timer_cancel> [the] {minutes} minute timer"]
    assert sentences(ours, "TimerAddTime") == ["add {minutes} minute[s] to [the] timer"]


def test_volume_percent_or_our_scale_of_ten(ours: dict[str, Any]) -> None:
    assert sentences(ours, "VolumeSet") == [
        "set [the] volume to ({volume_percent} percent|{volume})"]  # no {name} block


def test_relative_volume_is_split_by_its_word_and_steps_are_left_out(
    ours: dict[str, Any]
) -> None:
    assert sentences(ours, "VolumeUp") == ["[turn [the]] volume (up|increase)"]
    assert sentences(ours, "VolumeDown") == ["[turn [the]] volume (down|decrease)"]


def test_an_optional_part_we_do_not_have_is_cut(ours: dict[str, Any]) -> None:
    assert sentences(ours, "VolumeMute") == ["mute [<ha_here>]"]


def test_only_the_rules_used_are_imported_under_their_prefix(ours: dict[str, Any]) -> None:
    assert ours["expansion_rules"] == {
        "ha_timer_set": "(start|set)", "ha_timer_cancel": "(cancel|stop)", "ha_here": "[in] here"}
    assert "skip_words" not in ours and "lists" not in ours


def test_the_package_data_names_only_our_lists() -> None:
    data = ha_sentences.load("en")
    ours = {"hours", "minutes", "seconds", "name", "volume", "volume_percent"}
    for intent in data["intents"].values():
        for block in intent["data"]:
            assert set(block) == {"sentences"}  # no context, no fixed slots
            for text in block["sentences"]:
                assert set(re.findall(r"\{([^{}]+)\}", text)) <= ours, text
                assert all(r.startswith("ha_") for r in re.findall(r"<([^<>]+)>", text)), text
    assert ha_sentences.load("xx") == {"intents": {}}


@pytest.fixture(scope="module")
def without_ha() -> IntentEngine:
    patch = pytest.MonkeyPatch()
    patch.setattr(ha_sentences, "load", lambda _language: {"intents": {}})
    try:
        return make_engine(load_settings(overrides={"intent": {"sentences_dirs": []}}),
                           ("hey_jarvis",))
    finally:
        patch.undo()


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("What's the current time?", "GetTime", {}),
    ("Tell me the current date.", "GetDate", {}),
    ("How much time is left on the 10 minute timer?", "TimerStatus", {"duration_s": 600}),
    ("Status of my 5-minute timer.", "TimerStatus", {"duration_s": 300}),
    ("Add two minutes to the timer called pizza.", "TimerAddTime",
     {"name": "pizza", "duration_s": 120}),
    ("Set my timer named soup for 1 hour.", "TimerSet", {"name": "soup", "duration_s": 3600}),
    ("Volume increase.", "VolumeUp", {}),
    ("Mute in here.", "VolumeMute", {}),
    ("Unmute this room.", "VolumeUnmute", {}),
])
def test_their_sentences_work_on_normalised_transcripts(
    engine: IntentEngine, without_ha: IntentEngine, text: str, intent: str,
    slots: dict[str, Any]
) -> None:
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots, found.confidence) == (intent, slots,
                                                                                 1.0)
    alone = without_ha.recognize(text)  # theirs did it: ours alone at best guess (fuzzy)
    assert alone is None or (alone.name, alone.slots, alone.confidence) != (intent, slots, 1.0)


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("Set the volume to 7.", "VolumeSet", {"volume": 7}),  # ours: a scale of ten
    ("Set the volume to 70%.", "VolumeSet", {"volume_percent": 70}),
    ("Start a five minute timer.", "TimerSet", {"duration_s": 300}),
])
def test_numbers_in_words_or_digits_give_our_slots(
    engine: IntentEngine, text: str, intent: str, slots: dict[str, Any]
) -> None:
    found = engine.recognize(text)
    assert found is not None and (found.name, found.slots) == (intent, slots)


@pytest.mark.parametrize("text", [
    "Mute the music.", "Set the volume in the kitchen to 50.", "Volume up by 20 percent.",
    "Turn up the volume in the living room.", "Pause the timer.", "Cancel the kitchen timer in "
    "the kitchen.", "Turn on the lights.",
])
def test_what_we_cannot_honour_is_not_understood(engine: IntentEngine, text: str) -> None:
    assert engine.recognize(text) is None
