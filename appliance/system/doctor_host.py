"""Doctor checks of the machine: the systemd service, disk space, CPU temperature, throttling."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

from appliance.system.doctor_context import CheckResult, DoctorContext, Status

MIN_FREE_BYTES = 200 * 1024 * 1024
HOT_C = 80.0  # a Pi 4 starts to throttle here (a Pi 5 at 85)
WARM_C = 70.0

# vcgencmd get_throttled bits: (bit, what, fix).
_THROTTLE_BITS = (
    (0, "under-voltage", "use a power supply that gives a steady 5.1 V (official PSU: 3 A for a "
        "Pi 4, 5 A for a Pi 5) and a short, thick cable"),
    (1, "ARM frequency capped", "improve cooling (heatsink, fan, airflow around the case)"),
    (2, "throttled", "improve cooling and check the power supply"),
    (3, "soft temperature limit", "improve cooling (heatsink, fan, airflow around the case)"),
)
_SINCE_BOOT_SHIFT = 16


async def run_command(*argv: str, timeout_s: float = 10.0) -> tuple[int, str]:
    """Run a short command; (exit code, stdout+stderr). Missing programs give (127, reason)."""
    if shutil.which(argv[0]) is None:
        return 127, f"{argv[0]}: not installed"
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return 124, f"{argv[0]}: no answer in {timeout_s:.0f} s"
    return proc.returncode or 0, out.decode(errors="replace").strip()


async def check_service(ctx: DoctorContext) -> list[CheckResult]:
    if not ctx.systemd_dir.is_dir():
        pid1 = _pid1_name()
        return [CheckResult("service", Status.INFO,
                            f"not under systemd (PID 1 is {pid1}): start it with `appliance run`")]
    _code, state = await run_command("systemctl", "is-active", ctx.service)
    ctx.service_active = state == "active"
    return [service_verdict(ctx.service, state)]


def _pid1_name() -> str:
    try:
        return Path("/proc/1/comm").read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def service_verdict(service: str, state: str) -> CheckResult:
    """``systemctl is-active`` output -> a result (pure)."""
    if state == "active":
        return CheckResult("service", Status.OK, f"{service}.service is active")
    if state in ("activating", "reloading", "deactivating"):
        return CheckResult("service", Status.INFO, f"{service}.service is {state}")
    return CheckResult(
        "service", Status.FAIL, f"{service}.service is {state or 'unknown'}",
        f"sudo systemctl enable --now {service}; `journalctl -u {service} -e` shows why it stopped",
    )


async def check_disk(ctx: DoctorContext) -> list[CheckResult]:
    folder = _existing(ctx.state_dir)
    usage = shutil.disk_usage(folder)
    return [disk_verdict(ctx.state_dir, usage.free, usage.total)]


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_verdict(state_dir: Path, free: int, total: int) -> CheckResult:
    text = f"{free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB (state directory {state_dir})"
    if free >= MIN_FREE_BYTES:
        return CheckResult("disk", Status.OK, text)
    return CheckResult(
        "disk", Status.FAIL, f"only {text}",
        "free space: `sudo journalctl --vacuum-size=50M`, `sudo apt clean`, and set "
        "debug.save_utterances = 0",
    )


async def check_temperature(ctx: DoctorContext) -> list[CheckResult]:
    reading = cpu_temperature(ctx.thermal_dir)
    if reading is None:
        return [CheckResult("temperature", Status.INFO, "no CPU temperature sensor found")]
    zone, celsius = reading
    return [temperature_verdict(zone, celsius)]


def cpu_temperature(thermal_dir: Path) -> tuple[str, float] | None:
    """(zone type, °C) of the CPU's thermal zone (``cpu-thermal`` on a Pi), else the first one."""
    zones: list[tuple[str, float]] = []
    for zone in sorted(thermal_dir.glob("thermal_zone*")):
        try:
            kind = (zone / "type").read_text().strip()
            zones.append((kind, int((zone / "temp").read_text().strip()) / 1000))
        except (OSError, ValueError):
            continue
    cpu = [z for z in zones if "cpu" in z[0].lower() or "soc" in z[0].lower()]
    return (cpu or zones)[0] if zones else None


def temperature_verdict(zone: str, celsius: float) -> CheckResult:
    text = f"CPU {celsius:.1f} °C ({zone})"
    if celsius >= HOT_C:
        return CheckResult("temperature", Status.FAIL, f"{text}: too hot, the CPU slows down",
                           "improve cooling: a heatsink or fan, and air around the case")
    return CheckResult("temperature", Status.OK, text + (": warm" if celsius >= WARM_C else ""))


async def check_throttling(ctx: DoctorContext) -> list[CheckResult]:
    code, out = await run_command("vcgencmd", "get_throttled")
    value = parse_throttled(out) if code == 0 else None
    if value is None:
        with contextlib.suppress(OSError):
            value = parse_throttled(ctx.throttled_file.read_text())
    if value is None:
        return [CheckResult("throttling", Status.INFO, "not a Raspberry Pi (no vcgencmd)")]
    return [throttled_verdict(value)]


def parse_throttled(text: str) -> int | None:
    """``throttled=0x50005`` (vcgencmd) or ``50005`` (sysfs, hex) -> the bit field."""
    value = text.strip().rsplit("=", 1)[-1]
    try:
        return int(value, 16)
    except ValueError:
        return None


def throttled_verdict(value: int) -> CheckResult:
    """Red for a problem now; grey for one that happened since boot."""
    now = [(what, fix) for bit, what, fix in _THROTTLE_BITS if value >> bit & 1]
    past = [(what, fix) for bit, what, fix in _THROTTLE_BITS
            if value >> (bit + _SINCE_BOOT_SHIFT) & 1]
    if now:
        return CheckResult("throttling", Status.FAIL,
                           f"now: {', '.join(w for w, _ in now)} (0x{value:x})", now[0][1])
    if past:
        return CheckResult("throttling", Status.INFO,
                           f"since boot: {', '.join(w for w, _ in past)} (0x{value:x})", past[0][1])
    return CheckResult("throttling", Status.OK, "no under-voltage or throttling since boot")
