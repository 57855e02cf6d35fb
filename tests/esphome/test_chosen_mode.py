"""The "Answered by" choice made in Home Assistant outlives a restart (as an ESPHome device's
select does), until the configuration file's own mode changes; a broken or unwritable file is
logged and never stops the speaker."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from appliance.esphome.chosen import FILE_NAME, ChosenMode
from appliance.esphome.device import ANSWERED_BY
from appliance.esphome.messages import pb

from .test_satellite import connect, make, running


async def choose_in_home_assistant(state_dir: Path, configured: str, label: str) -> str:
    """A speaker started on ``state_dir``: Home Assistant picks ``label``; the mode it had."""
    pipeline, _, satellite, _ = make(mode=configured,
                                     chosen=ChosenMode(state_dir, configured))
    started_in = satellite.voice.mode
    async with running(pipeline, satellite):
        _, session = await connect(satellite)
        await session.handle(pb.SelectCommandRequest(key=ANSWERED_BY, state=label))
    await pipeline.close()
    return started_in


async def started_mode(state_dir: Path, configured: str) -> tuple[str, str]:
    """A speaker started on ``state_dir``: its mode, and the select state it reports."""
    pipeline, _, satellite, _ = make(mode=configured, chosen=ChosenMode(state_dir, configured))
    async with running(pipeline, satellite):
        ha, _ = await connect(satellite)
        shown = [m.state for m in ha.sent if isinstance(m, pb.SelectStateResponse)
                 and m.key == ANSWERED_BY]
    await pipeline.close()
    return satellite.voice.mode, shown[-1]


async def test_the_choice_made_in_home_assistant_is_the_mode_after_a_restart(
        tmp_path: Path) -> None:
    assert await choose_in_home_assistant(tmp_path, "home-assistant", "Speaker") \
        == "home-assistant"
    assert await started_mode(tmp_path, "home-assistant") == ("local", "Speaker")
    # and back: the latest choice is the one kept
    await choose_in_home_assistant(tmp_path, "home-assistant", "Home Assistant")
    assert await started_mode(tmp_path, "home-assistant") == ("home-assistant",
                                                              "Home Assistant")


async def test_a_new_mode_in_the_configuration_file_wins_over_the_old_choice(
        tmp_path: Path) -> None:
    await choose_in_home_assistant(tmp_path, "home-assistant", "Speaker")
    # the user edits [esphome] mode = "local" -> "home-assistant"... here the other way round
    assert await started_mode(tmp_path, "local") == ("local", "Speaker")
    await choose_in_home_assistant(tmp_path, "local", "Home Assistant")
    assert await started_mode(tmp_path, "local") == ("home-assistant", "Home Assistant")


@pytest.mark.parametrize("content", ["{not json", json.dumps({"mode": "cloud"}), "[]"])
async def test_a_file_it_cannot_use_is_logged_and_the_configured_mode_used(
        tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    with caplog.at_level(logging.WARNING, "appliance.esphome.chosen"):
        assert await started_mode(tmp_path, "home-assistant") == ("home-assistant",
                                                                  "Home Assistant")
    (warning,) = [r for r in caplog.records if r.name == "appliance.esphome.chosen"]
    assert FILE_NAME in warning.getMessage() and "[esphome] mode" in warning.getMessage()
    # the next choice writes it again
    await choose_in_home_assistant(tmp_path, "home-assistant", "Speaker")
    assert await started_mode(tmp_path, "home-assistant") == ("local", "Speaker")


async def test_a_state_dir_it_cannot_write_still_changes_the_mode_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    chosen = ChosenMode(blocked, "home-assistant")
    with caplog.at_level(logging.WARNING, "appliance.esphome.chosen"):
        chosen.save("local")
        chosen.save("home-assistant")
    warnings = [r for r in caplog.records if r.name == "appliance.esphome.chosen"]
    assert len(warnings) == 1 and "lasts until a restart" in warnings[0].getMessage()
    assert chosen.load() == "home-assistant"
