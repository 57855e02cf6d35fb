"""Doctor checks that call into other subsystems: the MQTT broker and the HAT profile devices."""

from __future__ import annotations

import asyncio
from typing import Any

from appliance.settings import Settings
from appliance.system.doctor_context import CheckResult, DoctorContext, Status

MQTT_TIMEOUT_S = 5.0


async def check_mqtt(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """Connect and log in to the configured broker once (``appliance.mqtt.connection``)."""
    mqtt: Any = getattr(settings, "mqtt", None)
    if mqtt is None:
        return [CheckResult("mqtt", Status.INFO, "this build has no MQTT support")]
    if not mqtt.enabled:
        return [CheckResult("mqtt", Status.INFO, "off ([mqtt] host is empty)")]
    from appliance.mqtt.connection import check_broker

    ok, message = await check_broker(mqtt, MQTT_TIMEOUT_S)
    detail, _, fix = message.partition("; fix: ")
    return [CheckResult("mqtt", Status.OK if ok else Status.FAIL, detail, fix)]


async def check_hardware(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """The HAT profile's devices (``appliance.hardware.profiles.check_profile``)."""
    hardware: Any = getattr(settings, "hardware", None)
    if hardware is None:
        return [CheckResult("hardware", Status.INFO, "this build has no button/LED support")]
    from appliance.hardware.profiles import check_profile

    checks: list[tuple[str, bool, str]] = await asyncio.to_thread(check_profile, hardware)
    return [
        CheckResult("hardware", Status.OK, f"{what}: {detail}") if ok
        else CheckResult("hardware", Status.FAIL, f"{what}: not ready", detail)
        for what, ok, detail in checks
    ]
