"""`appliance doctor`'s updates line, on unattended-upgrades logs written here and an injected
clock (never the machine's)."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.settings import load_settings
from appliance.system.doctor import run_checks
from appliance.system.doctor_context import DoctorContext, Status
from appliance.system.doctor_updates import updates_verdict
from appliance.system.updates import UpdateRun, last_run, parse_last_run

NOW = datetime(2026, 3, 10, 9, 30)

ORIGINS = ("origin=Debian,codename=bookworm,label=Debian-Security, "
           "origin=Debian,codename=bookworm-security,label=Debian-Security")
# As unattended-upgrade 2.9 (bookworm) writes it: a quiet run, then one that installed two.
QUIET_RUN = f"""\
2026-03-01 06:12:03,411 INFO Starting unattended upgrades script
2026-03-01 06:12:03,412 INFO Allowed origins are: {ORIGINS}
2026-03-01 06:12:03,412 INFO Initial blacklist:
2026-03-01 06:12:03,413 INFO Initial whitelist (not strict):
2026-03-01 06:12:09,870 INFO No packages found that can be upgraded unattended and no \
pending auto-removals
"""
INSTALLING_RUN = f"""\
2026-03-08 06:31:40,002 INFO Starting unattended upgrades script
2026-03-08 06:31:40,003 INFO Allowed origins are: {ORIGINS}
2026-03-08 06:31:47,515 INFO Packages that will be upgraded: libssl3 openssl
2026-03-08 06:31:47,516 INFO Writing dpkg log to \
/var/log/unattended-upgrades/unattended-upgrades-dpkg.log
2026-03-08 06:33:02,190 INFO All upgrades installed
"""
# apt-daily.service's evening run: --download-only logs its start and nothing after.
DOWNLOAD_ONLY_RUN = f"""\
2026-03-09 19:02:55,300 INFO Starting unattended upgrades script
2026-03-09 19:02:55,301 INFO Allowed origins are: {ORIGINS}
2026-03-09 19:02:55,301 INFO Initial blacklist:
2026-03-09 19:02:55,302 INFO Initial whitelist (not strict):
"""
FAILED_RUN = """\
2026-03-09 06:05:11,700 INFO Starting unattended upgrades script
2026-03-09 06:05:12,020 WARNING dpkg --configure -a output:
Setting up libssl3:arm64 (3.0.15-1~deb12u1) ...
2026-03-09 06:05:14,101 ERROR Cache has broken packages, exiting
"""


def ctx_for(tmp_path: Path, log_text: str | None, *, installed: bool = True,
            config: str = "") -> DoctorContext:
    log = tmp_path / "log/unattended-upgrades/unattended-upgrades.log"
    log.parent.mkdir(parents=True)
    if log_text is not None:
        log.write_text(log_text)
    program = tmp_path / "usr/bin/unattended-upgrade"
    if installed:
        program.parent.mkdir(parents=True)
        program.write_text("#!/usr/bin/python3\n")
    path = tmp_path / "config.toml"
    path.write_text(config)
    clock = FakeClock(NOW.replace(tzinfo=UTC).timestamp())  # local time: UTC, not the machine's
    return DoctorContext(path, load_settings(path), [], systemd_dir=tmp_path / "no-systemd",
                         update_log=log, update_program=program, clock=clock)


def updates_line(ctx: DoctorContext) -> tuple[Status, str, str]:
    (result,) = asyncio.run(run_checks(ctx, only=["updates"]))
    assert result.name == "updates"
    return result.status, result.detail, result.fix


def test_a_fresh_image_has_never_run_it(tmp_path: Path) -> None:
    status, detail, _fix = updates_line(ctx_for(tmp_path, None))
    assert status is Status.INFO
    assert detail.startswith("security updates are on; never ran yet")


def test_the_last_run_is_named_with_what_it_installed(tmp_path: Path) -> None:
    status, detail, _fix = updates_line(ctx_for(tmp_path, QUIET_RUN + INSTALLING_RUN))
    assert status is Status.OK
    assert detail == ("security updates are on; last run 2026-03-08 06:31 (2 days ago): "
                      "installed libssl3 openssl")


def test_a_download_only_run_is_not_the_last_run(tmp_path: Path) -> None:
    status, detail, _fix = updates_line(ctx_for(tmp_path, INSTALLING_RUN + DOWNLOAD_ONLY_RUN))
    assert status is Status.OK
    assert "last run 2026-03-08 06:31 (2 days ago): installed libssl3 openssl" in detail


def test_a_run_with_nothing_to_install(tmp_path: Path) -> None:
    status, detail, _fix = updates_line(ctx_for(tmp_path, QUIET_RUN.replace("03-01", "03-10")))
    assert status is Status.OK
    assert detail.endswith("last run 2026-03-10 06:12 (under a day ago): nothing to install")


def test_a_run_older_than_two_weeks_is_a_warning_with_the_fix(tmp_path: Path) -> None:
    status, detail, fix = updates_line(ctx_for(tmp_path, QUIET_RUN.replace("03-01", "02-20")))
    assert status is Status.INFO
    assert detail == ("security updates are on; last run 2026-02-20 06:12 (18 days ago): "
                      "nothing to install")
    assert "network" in fix
    assert "apt-daily" in fix


def test_a_failed_run_is_red(tmp_path: Path) -> None:
    status, detail, fix = updates_line(ctx_for(tmp_path, INSTALLING_RUN + FAILED_RUN))
    assert status is Status.FAIL
    assert detail == ("security updates: the last run 2026-03-09 06:05 (1 day ago) failed: "
                      "Cache has broken packages, exiting")
    assert "unattended-upgrade -d" in fix


def test_off_is_a_warning_that_says_how_to_turn_it_on(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, QUIET_RUN, config="[updates]\nsecurity = false\n")
    status, detail, fix = updates_line(ctx)
    assert status is Status.INFO
    assert detail == ("security updates are off (last run 2026-03-01 06:12 (9 days ago): "
                      "nothing to install)")
    assert fix.startswith("sudo appliance config set updates.security true")


def test_without_unattended_upgrades_it_is_only_information(tmp_path: Path) -> None:
    status, detail, fix = updates_line(ctx_for(tmp_path, None, installed=False))
    assert status is Status.INFO
    assert detail.startswith("unattended-upgrades is not installed")
    assert fix == ""


def test_last_month_rotated_log_is_read_when_the_new_one_is_not_there_yet(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, None)
    with gzip.open(ctx.update_log.with_name(ctx.update_log.name + ".1.gz"), "wt") as fh:
        fh.write(INSTALLING_RUN)
    status, detail, _fix = updates_line(ctx)
    assert status is Status.OK
    assert "last run 2026-03-08 06:31" in detail


@pytest.mark.parametrize("timer", ["disabled", "masked"])
def test_a_timer_that_does_not_run_is_red(timer: str) -> None:
    run = UpdateRun(datetime(2026, 3, 8, 6, 31))
    result = updates_verdict(True, installed=True, timer=timer, run=run, now=NOW)
    assert result.status is Status.FAIL
    assert f"apt-daily-upgrade.timer is {timer}" in result.detail
    assert "systemctl enable --now apt-daily-upgrade.timer" in result.fix
    enabled = updates_verdict(True, installed=True, timer="enabled", run=run, now=NOW)
    assert enabled.status is Status.OK


def test_parse_keeps_the_first_error_and_skips_continuation_lines() -> None:
    run = parse_last_run(FAILED_RUN + "2026-03-09 06:05:15,000 ERROR error message: later\n")
    assert run == UpdateRun(datetime(2026, 3, 9, 6, 5, 11), (),
                            "Cache has broken packages, exiting")
    assert parse_last_run("") is None
    assert parse_last_run("garbage\n2026-03-09 06:05:11,700 INFO Writing dpkg log\n") is None


def test_an_unreadable_log_counts_as_no_run(tmp_path: Path) -> None:
    (tmp_path / "unattended-upgrades.log").mkdir()  # a directory: reading it fails
    assert last_run(tmp_path / "unattended-upgrades.log") is None
