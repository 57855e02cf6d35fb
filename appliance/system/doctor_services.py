"""Doctor checks that call into other subsystems: the MQTT broker and the HAT profile devices."""

from __future__ import annotations

import asyncio

from appliance.hardware.profiles import check_profile
from appliance.mqtt.connection import check_broker
from appliance.settings import Settings
from appliance.system.doctor_context import CheckResult, DoctorContext, Status

MQTT_TIMEOUT_S = 5.0


async def check_mqtt(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """Connect and log in to the configured broker once (``appliance.mqtt.connection``)."""
    if not settings.mqtt.enabled:
        return [CheckResult("mqtt", Status.INFO, "off ([mqtt] host is empty)")]
    ok, message = await check_broker(settings.mqtt, MQTT_TIMEOUT_S)
    detail, _, fix = message.partition("; fix: ")
    return [CheckResult("mqtt", Status.OK if ok else Status.FAIL, detail, fix)]


async def check_hardware(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """The HAT profile's devices (``appliance.hardware.profiles.check_profile``)."""
    checks = await asyncio.to_thread(check_profile, settings.hardware)
    return [
        CheckResult("hardware", Status.OK, f"{what}: {detail}") if ok
        else CheckResult("hardware", Status.FAIL, f"{what}: not ready", detail)
        for what, ok, detail in checks
    ]
