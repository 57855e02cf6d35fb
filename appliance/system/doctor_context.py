"""What every ``appliance doctor`` check takes and returns.

A check is an async function of a :class:`DoctorContext` returning one or more
:class:`CheckResult`. The check modules (``doctor_audio``, ``doctor_host``, ``doctor_models``,
``doctor_services``, ``doctor_updates``) and :mod:`appliance.system.doctor`, which runs them, all
import this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from appliance.clock import Clock, SystemClock
from appliance.settings import Settings
from appliance.system.updates import UPDATE_LOG, UPDATE_PROGRAM


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class DoctorContext:
    """What the checks look at. Paths are fields so tests can point them elsewhere."""

    config_file: Path | None
    settings: Settings | None
    config_results: list[CheckResult]
    quick: bool = False
    state_dir: Path = Path("/var/lib/appliance")
    systemd_dir: Path = Path("/run/systemd/system")
    thermal_dir: Path = Path("/sys/class/thermal")
    throttled_file: Path = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
    meminfo_file: Path = Path("/proc/meminfo")
    update_log: Path = UPDATE_LOG
    update_program: Path = UPDATE_PROGRAM
    clock: Clock = field(default_factory=SystemClock)  # "now", for the age of the last update
    service: str = "appliance"
    # Models loaded by one check and reused by the next (the wake test needs the voice).
    loaded: dict[str, Any] = field(default_factory=dict)
    service_active: bool = False


Check = Callable[[DoctorContext], Awaitable[list[CheckResult]]]
