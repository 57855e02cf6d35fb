"""Doctor checks that call into other subsystems: the MQTT broker and the HAT profile devices."""

from __future__ import annotations

import asyncio

from appliance.hardware.profiles import check_profile
from appliance.mqtt.connection import check_broker
from appliance.settings import Settings
from appliance.system.doctor_context import CheckResult, DoctorContext, Status

MQTT_TIMEOUT_S = 5.0
ESPHOME_TIMEOUT_S = 5.0


async def check_mqtt(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """Connect and log in to the configured broker once (``appliance.mqtt.connection``)."""
    if not settings.mqtt.enabled:
        return [CheckResult("mqtt", Status.INFO, "off ([mqtt] host is empty)")]
    ok, message = await check_broker(settings.mqtt, MQTT_TIMEOUT_S)
    detail, _, fix = message.partition("; fix: ")
    return [CheckResult("mqtt", Status.OK if ok else Status.FAIL, detail, fix)]


async def check_esphome(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """Connect to the running daemon's ESPHome API as Home Assistant does (its own client
    library, with the key) and read the device info."""
    cfg = settings.esphome
    if not cfg.enabled:
        return [CheckResult("esphome", Status.INFO, "off ([esphome] enabled = false)")]
    from aioesphomeapi.client import APIClient
    from aioesphomeapi.core import APIConnectionError

    host = "127.0.0.1" if cfg.address in ("", "0.0.0.0", "::") else cfg.address
    client = APIClient(host, cfg.port, None, noise_psk=cfg.encryption_key or None,
                       client_info="appliance doctor")
    try:
        async with asyncio.timeout(ESPHOME_TIMEOUT_S):
            await client.connect(login=True)
            info = await client.device_info()
    except (APIConnectionError, TimeoutError, OSError) as err:
        return [CheckResult(
            "esphome", Status.FAIL, f"the ESPHome API on {host}:{cfg.port} does not answer: "
            f"{type(err).__name__}: {err}"[:200],
            "is the daemon running (`systemctl status appliance`)? the log says why the port "
            "could not be opened (`journalctl -u appliance | grep -i esphome`)")]
    finally:
        await client.disconnect(force=True)
    how = "encrypted" if cfg.key else "NOT encrypted: anyone on the network may connect"
    who = "Home Assistant" if cfg.mode == "home-assistant" else "the speaker"
    detail = f"'{info.name}' answers on port {cfg.port} ({how}); turns answered by {who}"
    if cfg.key:
        return [CheckResult("esphome", Status.OK, detail)]
    return [CheckResult("esphome", Status.INFO, detail,
                        "set esphome.encryption_key (README: Home Assistant Assist satellite)")]


async def check_hardware(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """The HAT profile's devices (``appliance.hardware.profiles.check_profile``)."""
    checks = await asyncio.to_thread(check_profile, settings.hardware)
    return [
        CheckResult("hardware", Status.OK, f"{what}: {detail}") if ok
        else CheckResult("hardware", Status.FAIL, f"{what}: not ready", detail)
        for what, ok, detail in checks
    ]
