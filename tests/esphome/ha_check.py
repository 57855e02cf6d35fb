"""A real Home Assistant adds the speaker through its ESPHome integration: run in the Home
Assistant venv (``scripts/ha-venv``), never in the project's, by test_home_assistant.py.

    ha-venv/bin/python tests/esphome/ha_check.py HOST PORT KEY [MEDIA_URL]

Home Assistant runs in this process on a temporary config directory: its core, then the
``esphome`` integration with the integrations it depends on (``http`` on a free loopback port).
The config flow is the one a person runs in *Settings > Devices & services > Add integration >
ESPHome*: host and port, then the encryption key. Once the entry is loaded, what Home Assistant
made of the device is printed as one JSON object (``"entities"``: entity id -> state and
attributes; ``"device"``), then, with MEDIA_URL, an announcement (``assist_satellite.announce``)
and the mute switch turned on through Home Assistant's services, each printed as it finishes.
Each JSON line starts with ``HA `` so the test can tell them from Home Assistant's log.

Home Assistant's zeroconf is kept off the network: the network integration is set to the
loopback adapter only, so zeroconf gets no interface to send on (checked at the end).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from homeassistant import bootstrap, config_entries, core, loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.helpers import device_registry, entity_registry
from homeassistant.setup import async_setup_component

TIMEOUT_S = 60.0


def say(kind: str, **data: Any) -> None:
    print("HA " + json.dumps({"kind": kind, **data}, default=str), flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_only(config_dir: Path) -> None:
    """The network integration's stored choice: the loopback adapter alone."""
    storage = config_dir / ".storage"
    storage.mkdir()
    (storage / "core.network").write_text(json.dumps({
        "version": 1, "minor_version": 1, "key": "core.network",
        "data": {"configured_adapters": ["lo"]}}))


async def wait_for(what: str, condition: Any) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not condition():  # noqa: ASYNC110 - Home Assistant's state, polled
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"Home Assistant: still no {what} after {TIMEOUT_S} s") from None


def ffmpeg() -> str:
    """The ffmpeg that the venv's imageio-ffmpeg wheel ships (Home Assistant's ESPHome
    integration converts what the device is to play through ffmpeg), else the system's."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return "ffmpeg"
    return str(imageio_ffmpeg.get_ffmpeg_exe())


async def start(config_dir: Path) -> Any:
    """Home Assistant's core, as its bootstrap sets it up, without the default integrations."""
    hass = core.HomeAssistant(str(config_dir))
    loader.async_setup(hass)
    hass.config.skip_pip = True  # (everything is in the venv already)
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await bootstrap.async_load_base_functionality(hass)
    for domain in bootstrap.CORE_INTEGRATIONS:
        assert await async_setup_component(hass, domain, {}), domain
    http_port = free_port()
    await async_process_ha_core_config(hass, {
        "name": "Test home", "time_zone": "UTC", "unit_system": "metric",
        "internal_url": f"http://127.0.0.1:{http_port}"})
    config = {"http": {"server_host": ["127.0.0.1"], "server_port": http_port},
              "ffmpeg": {"ffmpeg_bin": ffmpeg()}}
    for domain in ("network", "http", "ffmpeg", "esphome"):
        assert await async_setup_component(hass, domain, config), domain
    await hass.async_start()
    return hass


async def add_device(hass: Any, host: str, port: int, key: str) -> Any:
    """The ESPHome config flow, step by step, as a person adding the device by host runs it."""
    flow = hass.config_entries.flow
    result = await flow.async_init("esphome", context={"source": "user"},
                                   data={"host": host, "port": port})
    say("flow", step=result.get("step_id"), type=str(result["type"]),
        errors=result.get("errors"))
    assert result.get("step_id") == "encryption_key", result
    result = await flow.async_configure(result["flow_id"], {"noise_psk": key})
    say("flow", type=str(result["type"]), title=result.get("title"),
        errors=result.get("errors"))
    assert str(result["type"]) in {"create_entry", "FlowResultType.CREATE_ENTRY"}, result
    entry = result["result"]
    await wait_for("loaded entry", lambda: entry.state is ConfigEntryState.LOADED)
    return entry


def made(hass: Any, entry: Any) -> dict[str, Any]:
    """The device and its entities as Home Assistant registered them, with their states."""
    entities = entity_registry.async_entries_for_config_entry(
        entity_registry.async_get(hass), entry.entry_id)
    devices = device_registry.async_entries_for_config_entry(
        device_registry.async_get(hass), entry.entry_id)
    out: dict[str, Any] = {}
    for item in entities:
        state = hass.states.get(item.entity_id)
        out[item.entity_id] = {
            "name": item.original_name, "unique_id": item.unique_id,
            "disabled": item.disabled_by is not None,
            "state": None if state is None else state.state,
            "attributes": {} if state is None else dict(state.attributes)}
    device = devices[0] if devices else None
    return {"entities": out, "device": None if device is None else {
        "name": device.name, "manufacturer": device.manufacturer, "model": device.model,
        "sw_version": device.sw_version, "connections": sorted(map(list, device.connections))}}


def entity(hass: Any, entry: Any, domain: str, name: str | None = None) -> str:
    for item in entity_registry.async_entries_for_config_entry(
            entity_registry.async_get(hass), entry.entry_id):
        if item.domain == domain and (name is None or item.original_name == name):
            return str(item.entity_id)
    raise AssertionError(f"Home Assistant made no {domain} entity {name or ''}")


async def announce_and_mute(hass: Any, entry: Any, media_url: str) -> None:
    satellite = entity(hass, entry, "assist_satellite")
    await hass.services.async_call(
        "assist_satellite", "announce",
        {"entity_id": satellite, "media_id": media_url},
        blocking=True)
    say("announced", entity_id=satellite, media_id=media_url)
    mute = entity(hass, entry, "switch", "Mute")
    await hass.services.async_call("switch", "turn_on", {"entity_id": mute}, blocking=True)
    await wait_for("mute on", lambda: hass.states.get(mute).state == "on")
    say("muted", entity_id=mute, state=hass.states.get(mute).state)


async def main(host: str, port: int, key: str, media_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="ha-config-") as tmp:
        config_dir = Path(tmp)
        loopback_only(config_dir)
        hass = await start(config_dir)
        try:
            say("started", version=core.__version__ if hasattr(core, "__version__") else None)
            entry = await add_device(hass, host, port, key)
            await wait_for("assist_satellite entity", lambda: any(
                e.startswith("assist_satellite.") and hass.states.get(e) is not None
                for e in made(hass, entry)["entities"]))
            # the device's states come after its entities (it sends them once Home Assistant
            # subscribes): the ones a person would look at first, known before they are shown
            await wait_for("states of the switch, select and number", lambda: all(
                v["state"] not in (None, "unknown")
                for e, v in made(hass, entry)["entities"].items()
                if e.split(".")[0] in {"switch", "select", "number"}))
            say("added", title=entry.title, unique_id=entry.unique_id, **made(hass, entry))
            if media_url:
                await announce_and_mute(hass, entry, media_url)
            zeroconf = hass.data.get("zeroconf")
            senders = [] if zeroconf is None else list(zeroconf.zeroconf.engine.senders)
            say("zeroconf", senders=len(senders))
            assert not senders, "Home Assistant's zeroconf could send on the network"
            assert await hass.config_entries.async_unload(entry.entry_id)
            say("unloaded")
        finally:
            await hass.async_stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    host_arg, port_arg, key_arg = sys.argv[1:4]
    asyncio.run(main(host_arg, int(port_arg), key_arg, sys.argv[4] if len(sys.argv) > 4 else None))
