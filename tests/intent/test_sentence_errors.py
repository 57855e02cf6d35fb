"""A sentence naming a list or rule nobody defines: refused at start-up and by `config check`,
in one line naming the file (or settings key), the sentence and what is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from appliance.errors import IntentError
from appliance.intent.engine import make_engine
from appliance.settings import load_settings

COLOURS = """\
language: en
intents:
  SetColour:
    data:
      - sentences:
          - "make the light {colour}"
"""
COMMAND = """\
[intent]
sentences_dirs = []

[[skills.commands]]
intent = "FanOn"
sentences = ["turn on the {thing}"]
response = "Fan on."
mqtt_topic = ""
mqtt_payload = ""
command = []
timeout_s = 10.0
"""


def settings_for(sentences: Path) -> Any:
    return load_settings(overrides={"intent": {"sentences_dirs": [str(sentences)]}})


def error_of(sentences: Path) -> IntentError:
    with pytest.raises(IntentError) as info:
        make_engine(settings_for(sentences))
    return info.value


def test_an_undefined_list_names_file_line_sentence_and_list(tmp_path: Path) -> None:
    (tmp_path / "colours.yaml").write_text(COLOURS)
    err = error_of(tmp_path)
    assert err.message == (f"{tmp_path / 'colours.yaml'}:6: the sentence 'make the light "
                           "{colour}' names the list {colour}, which no sentence file defines")
    assert err.fix.startswith("add a 'colour' list under 'lists:' in a sentence file")
    assert "hours, minute, minutes, name" in err.fix  # the lists that exist


def test_an_undefined_rule_is_named_too(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(COLOURS.replace("{colour}", "<colour>"))
    err = error_of(tmp_path)
    assert err.message.endswith(": the sentence 'make the light <colour>' names the rule "
                                "<colour>, which no sentence file defines")
    assert err.fix.startswith("add 'colour' under 'expansion_rules:'")


def test_a_list_named_inside_a_rule_is_found(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        COLOURS.replace("{colour}", "<colour>") + 'expansion_rules:\n  colour: "{shade} one"\n')
    assert "names the list {shade}" in error_of(tmp_path).message


def test_a_list_from_another_file_wildcards_and_inline_ranges_are_fine(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(COLOURS.replace("{colour}", "{colour} [{1..3:level}]"))
    (tmp_path / "b.yaml").write_text("language: en\nintents: {}\nlists:\n  colour:\n"
                                     "    values: [red, green]\n")
    found = make_engine(settings_for(tmp_path)).recognize("make the light red")
    assert found is not None and (found.name, found.slots) == ("SetColour", {"colour": "red"})


def test_an_own_commands_sentence_names_the_settings_key() -> None:
    command = {"intent": "FanOn", "sentences": ["turn on the {thing}"], "response": "Fan on.",
               "mqtt_topic": "", "mqtt_payload": "", "command": [], "timeout_s": 5.0}
    settings = load_settings(overrides={"intent": {"sentences_dirs": []},
                                        "skills": {"commands": [command]}})
    with pytest.raises(IntentError) as info:
        make_engine(settings)
    assert info.value.message == ("skills.commands[0].sentences: the sentence 'turn on the "
                                  "{thing}' names the list {thing}, which no sentence file "
                                  "defines")


def config_with_colours(tmp_path: Path) -> Path:
    """A config whose sentence directory holds COLOURS (naming a list nobody defines)."""
    (tmp_path / "sentences").mkdir()
    (tmp_path / "sentences" / "colours.yaml").write_text(COLOURS)
    config = tmp_path / "config.toml"
    config.write_text(f'[intent]\nsentences_dirs = ["{tmp_path / "sentences"}"]\n')
    return config


def test_appliance_intent_prints_the_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_colours(tmp_path)
    assert main(["--config", str(config), "intent", "make the light red"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"appliance: error [intent_failed]: {tmp_path / 'sentences' / 'colours.yaml'}:6: the "
        "sentence 'make the light {colour}' names the list {colour}, which no sentence file "
        "defines")
    assert "Traceback" not in err


def test_config_check_refuses_a_sentence_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_colours(tmp_path)
    assert main(["config", "check", str(config)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"{tmp_path / 'sentences' / 'colours.yaml'}:6: the sentence 'make the "
                        "light {colour}' names the list {colour}, which no sentence file "
                        "defines")
    assert lines[1].startswith("    fix: add a 'colour' list under 'lists:'")
    assert lines[2] == f"1 problem in the sentences of {config}"


def test_config_check_refuses_an_own_command_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(COMMAND)
    assert main(["config", "check", str(config)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"{config}:6: skills.commands[0].sentences: the sentence 'turn on the "
                     "{thing}' names the list {thing}, which no sentence file defines")


def test_config_check_passes_good_sentences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(COMMAND.replace("{thing}", "fan"))
    assert main(["config", "check", str(config)]) == 0
    assert capsys.readouterr().out == f"{config}: valid\n"
