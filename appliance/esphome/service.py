"""The daemon's ESPHome task: the API server, the satellite's entities and Home Assistant mode.

Off unless ``[esphome] enabled``. A port that cannot be bound (another program has it) is one
error line and a retry with capped backoff, never the daemon's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import __version__
from appliance.backoff import Backoff
from appliance.errors import ApplianceError
from appliance.esphome.chosen import ChosenMode
from appliance.esphome.device import Identity, Satellite
from appliance.esphome.settings import resolve_name
from appliance.esphome.voice import HaVoice
from appliance.pipeline import Pipeline
from appliance.settings import Settings

if TYPE_CHECKING:
    from appliance.esphome.server import ApiServer

_LOGGER = logging.getLogger(__name__)
SYS_NET = Path("/sys/class/net")
MACHINE_ID = Path("/etc/machine-id")


def device_mac(sys_net: Path = SYS_NET, machine_id: Path = MACHINE_ID) -> str:
    """The MAC Home Assistant knows the device by (its unique id): the first wired or wireless
    interface's, else one made from the machine id (stable, marked locally administered)."""
    try:
        names = sorted(p.name for p in sys_net.iterdir() if p.name != "lo")
    except OSError:
        names = []
    for name in names:
        try:
            mac = (sys_net / name / "address").read_text().strip().upper()
        except OSError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            return mac
    try:
        seed = machine_id.read_bytes()
    except OSError:
        seed = b"appliance"
    raw = bytearray(hashlib.sha256(seed).digest()[:6])
    raw[0] = (raw[0] | 0x02) & 0xFE  # locally administered, unicast
    return ":".join(f"{b:02X}" for b in raw)


async def _log_started(server: ApiServer, name: str, encrypted: bool) -> None:
    with contextlib.suppress(ApplianceError):
        await server.started()
        _LOGGER.info("ESPHome API: %s on port %d (%s)", name, server.port,
                     "encrypted" if encrypted else "not encrypted")


def identity(settings: Settings) -> Identity:
    cfg = settings.esphome
    return Identity(resolve_name(cfg), cfg.friendly_name or settings.pipeline.name,
                    device_mac(), __version__)


async def run_esphome(settings: Settings, pipeline: Pipeline) -> None:
    """Until cancelled; returns at once when ``[esphome]`` is off."""
    cfg = settings.esphome
    if not cfg.enabled:
        _LOGGER.info("ESPHome API is off ([esphome] enabled = false)")
        return
    from appliance.esphome.server import ApiServer  # (its imports only when it is on)

    voice = HaVoice(cfg, ChosenMode(Path(settings.skills.state_dir), cfg.mode))
    me = identity(settings)
    satellite = Satellite(pipeline, voice, me)
    pipeline.remote = voice
    backoff = Backoff(1.0, 60.0)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(satellite.follow_events(), name="esphome-events")
            while True:
                server = ApiServer(cfg, satellite.session, server_info=f"appliance {__version__}",
                                   mac=me.mac, friendly_name=me.friendly_name)
                try:
                    tg.create_task(_log_started(server, me.name, bool(cfg.key)),
                                   name="esphome-started")
                    await server.run()
                    return
                except ApplianceError as err:
                    if backoff.first_failure:
                        _LOGGER.error("%s; fix: %s", err.message, err.fix)
                    await pipeline.clock.sleep(backoff.next_delay())
    finally:
        if pipeline.remote is voice:
            pipeline.remote = None
        satellite.media.stop()
