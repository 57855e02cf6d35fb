"""Doctor check of the security updates: on or off, and when unattended-upgrades last ran."""

from __future__ import annotations

from datetime import datetime, timedelta

from appliance.settings import Settings
from appliance.system.doctor_context import CheckResult, DoctorContext, Status
from appliance.system.doctor_host import run_command
from appliance.system.updates import UpdateRun, last_run

TIMER = "apt-daily-upgrade.timer"
STALE_AFTER = timedelta(days=14)  # it runs daily: two weeks without a run is not a missed day
# `systemctl is-enabled` answers that mean the timer starts by itself.
_TIMER_RUNS = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")


async def check_updates(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    installed = ctx.update_program.exists()
    timer = None
    if installed and settings.updates.security and ctx.systemd_dir.is_dir():
        _code, out = await run_command("systemctl", "is-enabled", TIMER)
        timer = out.splitlines()[0].strip() if out.strip() else "unknown"
    run = last_run(ctx.update_log)
    now = ctx.clock.now().replace(tzinfo=None)  # the log is in local time, without a zone
    return [updates_verdict(settings.updates.security, installed=installed, timer=timer,
                            run=run, now=now)]


def updates_verdict(security: bool, *, installed: bool, timer: str | None,
                    run: UpdateRun | None, now: datetime) -> CheckResult:
    """The one line (pure): ``timer`` is ``systemctl is-enabled``'s answer, None if not asked."""
    last = f"last run {describe_run(run, now)}" if run else "never ran"
    if not security:
        return CheckResult("updates", Status.INFO, f"security updates are off ({last})",
                           "sudo appliance config set updates.security true (Debian's "
                           "security fixes, looked for daily)")
    if not installed:
        return CheckResult("updates", Status.INFO, "unattended-upgrades is not installed: this "
                           "system's updates are not the speaker's to install (the SD-card "
                           "image has it)")
    if timer is not None and timer not in _TIMER_RUNS:
        return CheckResult("updates", Status.FAIL, f"security updates are on but {TIMER} is "
                           f"{timer}: they never run ({last})",
                           f"sudo systemctl unmask {TIMER}; sudo systemctl enable --now {TIMER}")
    if run is None:
        return CheckResult("updates", Status.INFO, "security updates are on; never ran yet (a "
                           "new image: the first run is within a day of the first boot)")
    if run.error:
        return CheckResult("updates", Status.FAIL, f"security updates: the {last} failed: "
                           f"{run.error}", "see /var/log/unattended-upgrades/; "
                           "`sudo unattended-upgrade -d` runs it now and shows why")
    if now - run.started > STALE_AFTER:
        return CheckResult("updates", Status.INFO, f"security updates are on; {last}",
                           f"they run daily ({TIMER}) and need Debian's security mirror: check "
                           "the network and `systemctl list-timers 'apt-daily*'`")
    return CheckResult("updates", Status.OK, f"security updates are on; {last}")


def describe_run(run: UpdateRun, now: datetime) -> str:
    """``2026-03-01 06:20 (2 days ago): installed openssl libssl3`` (pure)."""
    days = (now - run.started).days
    ago = "under a day ago" if days <= 0 else "1 day ago" if days == 1 else f"{days} days ago"
    text = f"{run.started:%Y-%m-%d %H:%M} ({ago})"
    if run.error:
        return text
    if not run.packages:
        return text + ": nothing to install"
    names = " ".join(run.packages[:3]) + (f" and {len(run.packages) - 3} more"
                                          if len(run.packages) > 3 else "")
    return f"{text}: installed {names}"
