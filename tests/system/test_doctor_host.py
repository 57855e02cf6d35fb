"""Doctor checks of the machine, on fake /sys and /run trees (the verdicts are pure)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from appliance.system.doctor_context import DoctorContext, Status
from appliance.system.doctor_host import (
    MIN_FREE_BYTES,
    check_disk,
    check_service,
    check_temperature,
    check_throttling,
    disk_verdict,
    parse_throttled,
    service_verdict,
    throttled_verdict,
)


def _ctx(tmp_path: Path) -> DoctorContext:
    return DoctorContext(None, None, [], state_dir=tmp_path / "state",
                         systemd_dir=tmp_path / "run/systemd/system",
                         thermal_dir=tmp_path / "thermal",
                         throttled_file=tmp_path / "get_throttled")


def _zone(root: Path, n: int, kind: str, millidegrees: int) -> None:
    zone = root / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(f"{millidegrees}\n")


def test_not_under_systemd_is_information(tmp_path: Path) -> None:
    (result,) = asyncio.run(check_service(_ctx(tmp_path)))
    assert result.status is Status.INFO
    assert "not under systemd" in result.detail


def test_service_states() -> None:
    assert service_verdict("appliance", "active").status is Status.OK
    assert service_verdict("appliance", "reloading").status is Status.INFO
    failed = service_verdict("appliance", "failed")
    assert failed.status is Status.FAIL
    assert "journalctl -u appliance" in failed.fix


@pytest.mark.parametrize(("millidegrees", "status"), [(48_312, Status.OK), (83_000, Status.FAIL)])
def test_cpu_temperature(tmp_path: Path, millidegrees: int, status: Status) -> None:
    ctx = _ctx(tmp_path)
    _zone(ctx.thermal_dir, 0, "acpitz", 30_000)
    _zone(ctx.thermal_dir, 1, "cpu-thermal", millidegrees)
    (result,) = asyncio.run(check_temperature(ctx))
    assert result.status is status
    assert f"CPU {millidegrees / 1000:.1f} °C (cpu-thermal)" in result.detail


def test_no_thermal_sensor(tmp_path: Path) -> None:
    (result,) = asyncio.run(check_temperature(_ctx(tmp_path)))
    assert result.status is Status.INFO


def test_throttling_bits() -> None:
    assert parse_throttled("throttled=0x50005") == 0x50005
    assert parse_throttled("50000\n") == 0x50000
    assert parse_throttled("error=2 error_msg=\"Command not registered\"") is None
    assert throttled_verdict(0).status is Status.OK
    now = throttled_verdict(0x50005)
    assert now.status is Status.FAIL
    assert now.detail.startswith("now: under-voltage, throttled")
    assert "power supply" in now.fix
    past = throttled_verdict(0x50000)
    assert past.status is Status.INFO
    assert past.detail.startswith("since boot: under-voltage, throttled")


def test_throttling_from_the_firmware_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    ctx.throttled_file.write_text("1\n")  # under-voltage now
    (result,) = asyncio.run(check_throttling(ctx))
    assert result.status is Status.FAIL
    assert "under-voltage" in result.detail


def test_disk_space(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (result,) = asyncio.run(check_disk(ctx))  # the state dir does not exist yet: its parent
    assert result.status in (Status.OK, Status.FAIL)
    assert str(ctx.state_dir) in result.detail
    low = disk_verdict(ctx.state_dir, MIN_FREE_BYTES - 1, 8 * 2**30)
    assert low.status is Status.FAIL
    assert "journalctl --vacuum-size" in low.fix
    assert disk_verdict(ctx.state_dir, MIN_FREE_BYTES, 8 * 2**30).status is Status.OK
