"""SIGHUP reload through the daemon on fake stages: every section reported as reloaded is
applied, and a reload that fails keeps the running configuration and says so (no model is
loaded: the sections changed here rebuild none)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.audio.sink import WavSink
from appliance.daemon import AudioPaths, Daemon
from appliance.settings import load_settings
from appliance.skills.service import install_skills
from appliance.system.sdnotify import Notifier
from tests.core.fakes import Fakes, fake_pipeline


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[str] = []

    def send(self, message: str) -> None:
        self.sent.append(message)


@pytest.fixture
def root_level() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


def daemon_on_fakes(config: Path, tmp_path: Path) -> tuple[Daemon, Fakes, RecordingNotifier]:
    config.write_text(f'[skills]\nstate_dir = "{tmp_path / "state"}"\n')
    settings = load_settings(config)
    daemon = Daemon(settings, AudioPaths(), config)
    notifier = daemon.notifier = RecordingNotifier()
    daemon.sink = WavSink(None)
    daemon.pipeline, fakes = fake_pipeline(settings=settings)
    install_skills(daemon.pipeline, settings, daemon.pipeline.clock)
    return daemon, fakes, notifier


async def test_listen_logging_and_skills_changes_are_applied(
    tmp_path: Path, root_level: None,
) -> None:
    config = tmp_path / "config.toml"
    daemon, fakes, notifier = daemon_on_fakes(config, tmp_path)
    before = daemon.pipeline.extensions["skills"]
    config.write_text(config.read_text() + "snooze_min = 3\n"
                      "[listen]\npreroll_s = 0.8\n[logging]\nlevel = \"debug\"\n")
    try:
        await daemon._reload()
        assert notifier.sent[-1] == "READY=1\nSTATUS=reloaded: listen, logging, skills"
        assert daemon.pipeline.settings.listen.preroll_s == 0.8
        assert daemon.pipeline._ring.maxlen == 10
        assert logging.getLogger().level == logging.DEBUG
        after = daemon.pipeline.extensions["skills"]
        assert after is not before
        assert after.skills.ringer.settings.snooze_min == 3  # type: ignore[attr-defined]
        assert daemon.pipeline.stages.wake is fakes.wake  # no model was loaded again
    finally:
        await daemon.pipeline.close()


@pytest.mark.parametrize(("content", "why"), [
    ("[listen\n", "config"),  # not TOML
    ("[listen]\npreroll_s = 7\n", "listen.preroll_s"),  # out of range
    ('[stt]\nmodel = "/nowhere/whisper"\n', "stt.model"),  # a model that cannot load
])
async def test_a_failed_reload_keeps_the_running_configuration_and_says_so(
    tmp_path: Path, content: str, why: str,
) -> None:
    config = tmp_path / "config.toml"
    daemon, fakes, notifier = daemon_on_fakes(config, tmp_path)
    running = daemon.settings
    config.write_text(content)
    try:
        await daemon._reload()
        assert daemon.settings is running and daemon.pipeline.settings is running
        assert daemon.pipeline.stages.stt is fakes.stt
        status = notifier.sent[-1]
        assert status.startswith("READY=1\nSTATUS=reload failed: ") and why in status, status
    finally:
        await daemon.pipeline.close()


async def test_the_status_line_says_while_the_microphone_is_digitally_silent(
    tmp_path: Path,
) -> None:
    daemon, _fakes, notifier = daemon_on_fakes(tmp_path / "config.toml", tmp_path)
    try:
        daemon.pipeline.ready()
        daemon._microphone_silent(True)
        daemon._microphone_silent(False)
    finally:
        await daemon.pipeline.close()
    device = daemon.settings.audio.input.device
    assert notifier.sent == [
        f"STATUS=the microphone '{device}' hears only digital silence: reopening it",
        "STATUS=listening for the wake word",
    ]
