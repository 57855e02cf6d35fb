"""A real Home Assistant adds the speaker: its ESPHome integration, in its own venv (made by
``scripts/ha-venv``, Python 3.13), runs the config flow against the real server and Satellite on
fake stages here (encrypted, loopback), and shows the Assist satellite entity and the device's
own; its announce action reaches the player and its Mute switch mutes the pipeline.

Home Assistant runs in a subprocess (tests/esphome/ha_check.py, which says what it saw as JSON
lines); this process is the device. Marked ``ha``. ``scripts/test`` makes the venv where the
project's venv is Python 3.13 (as in CI's Debian 13 root) and names it in ``HA_VENV``: there a
missing venv fails the test; elsewhere the test is skipped unless ``scripts/ha-venv`` made one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from appliance.esphome.connection import Limits
from appliance.esphome.device import Satellite
from appliance.esphome.server import ApiServer
from appliance.pipeline import Pipeline
from tests.core.fakes import Fakes

from .conftest import KEY, esphome_settings
from .test_satellite import make, running

ROOT = Path(__file__).resolve().parents[2]
# scripts/test names the venv it made (HA_VENV); without it, the one scripts/ha-venv makes by
# default beside the project's packages, if there is one.
HA_VENV = Path(os.environ.get("HA_VENV") or Path(sys.prefix) / "ha-venv")
HA_PYTHON = HA_VENV / "bin/python"
RUN_S = 240.0  # (a bound on a hung Home Assistant only, not a measure of anything)

pytestmark = [
    pytest.mark.ha,
    pytest.mark.skipif(not os.environ.get("HA_VENV") and not HA_PYTHON.exists(),
                       reason=f"no Home Assistant venv at {HA_VENV} (scripts/ha-venv)"),
]


@contextlib.asynccontextmanager
async def device(**esphome: Any) -> AsyncIterator[tuple[Pipeline, Fakes, Satellite, int]]:
    """The real server and Satellite on fake stages, encrypted with KEY, on a loopback port."""
    pipeline, fakes, satellite, _ = make("home-assistant", **esphome)
    settings = esphome_settings(mode="home-assistant", encryption_key=KEY,
                                name=satellite.identity.name)
    server = ApiServer(settings, satellite.session, server_info="appliance test",
                       mac=satellite.identity.mac, limits=Limits())
    task = asyncio.create_task(server.run(), name="esphome server")
    try:
        async with running(pipeline, satellite):
            await server.started()
            yield pipeline, fakes, satellite, server.port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def home_assistant(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    """ha_check.py in the Home Assistant venv: its exit code, JSON lines and log."""
    process = await asyncio.create_subprocess_exec(
        str(HA_PYTHON), str(Path(__file__).with_name("ha_check.py")), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": ""})
    try:
        async with asyncio.timeout(RUN_S):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = [json.loads(line[3:]) for line in out.decode().splitlines() if line.startswith("HA ")]
    assert process.returncode is not None
    return process.returncode, said, err.decode()


async def test_home_assistant_adds_the_speaker_and_shows_its_satellite(
        media_url: str) -> None:
    async with device() as (pipeline, fakes, _, port):
        assert not pipeline.muted
        code, said, log = await home_assistant("127.0.0.1", str(port), KEY,
                                               f"{media_url}/answer.wav")
        kinds = [s["kind"] for s in said]
        assert code == 0, f"{kinds}\n{log[-6000:]}"
        # the config flow a person runs: host and port, then the encryption key it asked for
        assert kinds == ["started", "flow", "flow", "added", "announced", "muted", "zeroconf",
                         "unloaded"], kinds
        assert said[1]["step"] == "encryption_key" and said[2]["title"] == "Kitchen"
        added = said[3]
        assert added["unique_id"] == "02:00:00:00:00:01"
        assert added["device"]["name"] == "Kitchen"
        entities = added["entities"]
        satellite = [v for e, v in entities.items() if e.startswith("assist_satellite.")]
        assert len(satellite) == 1 and satellite[0]["state"] == "idle", entities
        shown = {(e.split(".")[0], v["name"]): v["state"] for e, v in entities.items()}
        assert shown[("switch", "Mute")] == "off"
        assert shown[("select", "Answered by")] == "Home Assistant"
        assert shown[("media_player", "Speaker")] is not None
        assert {("number", "Wake word threshold"), ("sensor", "State"), ("sensor", "Heard"),
                ("sensor", "Answer")} <= shown.keys(), shown
        # its announce action played here (through its ffmpeg proxy), its Mute switch muted here
        rate = fakes.player.played[0][1]
        assert sum(len(samples) for samples, _ in fakes.player.played) >= 0.3 * rate
        assert pipeline.muted
