"""``appliance doctor``: one screen of checks, each green or red with the problem and the fix.

Each check (in the ``doctor_*`` modules) is an async function of a ``DoctorContext`` returning
one or more ``CheckResult`` (both in :mod:`appliance.system.doctor_context`). A check that raises
an :class:`ApplianceError` is red with that error's message and fix; one that crashes or hangs is
red too, so the screen is always complete. The exit code is non-zero when anything is red. INFO
lines (grey) are facts that need no action.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from appliance.errors import ApplianceError, ConfigError
from appliance.settings import SYSTEM_CONFIG, Settings, load_settings, user_config_path
from appliance.system.configfile import check_file
from appliance.system.doctor_context import Check, CheckResult, DoctorContext, Status

_LOGGER = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 120.0


def load_context(config: Path | None, *, quick: bool = False) -> DoctorContext:
    """Load the settings the daemon would use; a bad config becomes red results, not an error."""
    path = user_config_path(config)
    try:
        settings: Settings | None = load_settings(path)
    except ConfigError as err:
        return DoctorContext(path, None, _config_failures(path, err), quick=quick)
    where = f"{path} over the defaults" if path else f"defaults only (no {SYSTEM_CONFIG})"
    ok = CheckResult("config", Status.OK, f"valid: {where}")
    state = Path(os.environ.get("STATE_DIRECTORY", "/var/lib/appliance").split(":")[0])
    return DoctorContext(path, settings, [ok], quick=quick, state_dir=state)


def _config_failures(path: Path | None, err: ConfigError) -> list[CheckResult]:
    problems = check_file(path) if path is not None and path.is_file() else []
    if not problems:
        return [CheckResult("config", Status.FAIL, err.message, err.fix)]
    return [
        CheckResult("config", Status.FAIL, f"{path}:{p.line or '?'}: {p.message}", p.fix)
        for p in problems
    ]


async def check_config(ctx: DoctorContext) -> list[CheckResult]:
    return ctx.config_results


def needs_settings(check: Callable[[DoctorContext, Settings], Awaitable[list[CheckResult]]],
                   name: str) -> Check:
    """Wrap a check that needs valid settings: without them it is skipped (the config is red)."""

    async def run(ctx: DoctorContext) -> list[CheckResult]:
        if ctx.settings is None:
            return [CheckResult(name, Status.INFO, "not checked: the configuration is invalid")]
        return await check(ctx, ctx.settings)

    return run


def all_checks() -> dict[str, Check]:
    """Every check by name, in screen order."""
    from appliance.system import (
        doctor_audio,
        doctor_host,
        doctor_models,
        doctor_services,
        doctor_updates,
    )

    return {
        "config": check_config,
        "service": doctor_host.check_service,
        "models": needs_settings(doctor_models.check_models, "models"),
        "capture": needs_settings(doctor_audio.check_capture, "capture"),
        "playback": needs_settings(doctor_audio.check_playback, "playback"),
        "wake": needs_settings(doctor_models.check_wake_word_fires, "wake"),
        "mqtt": needs_settings(doctor_services.check_mqtt, "mqtt"),
        "esphome": needs_settings(doctor_services.check_esphome, "esphome"),
        "hardware": needs_settings(doctor_services.check_hardware, "hardware"),
        "disk": doctor_host.check_disk,
        "temperature": doctor_host.check_temperature,
        "throttling": doctor_host.check_throttling,
        "updates": needs_settings(doctor_updates.check_updates, "updates"),
    }


async def run_checks(ctx: DoctorContext, only: Sequence[str] = ()) -> list[CheckResult]:
    """Run the checks (all, or those named in ``only``) one after another."""
    results: list[CheckResult] = []
    for name, check in all_checks().items():
        if not only or name in only:
            results.extend(await _run_one(name, check, ctx))
    return results


async def _run_one(name: str, check: Check, ctx: DoctorContext) -> list[CheckResult]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check(ctx)
    except ApplianceError as err:
        return [CheckResult(name, Status.FAIL, err.message, err.fix)]
    except TimeoutError:
        return [CheckResult(name, Status.FAIL, f"no result in {CHECK_TIMEOUT_S:.0f} s",
                            f"run `appliance --debug doctor --only {name}` to see where it hangs")]
    except Exception as err:
        _LOGGER.debug("check %s crashed", name, exc_info=True)
        return [CheckResult(name, Status.FAIL, f"the check crashed: {err!r}",
                            "run `appliance --debug doctor` and report the traceback")]


def exit_code(results: Sequence[CheckResult]) -> int:
    return 1 if any(r.status is Status.FAIL for r in results) else 0


_SYMBOLS = {Status.OK: ("✓", "\033[32m"), Status.FAIL: ("✗", "\033[31m"),
            Status.INFO: ("•", "\033[2m")}
_PLAIN = {Status.OK: "[ OK ]", Status.FAIL: "[FAIL]", Status.INFO: "[INFO]"}
_RESET = "\033[0m"


def render(results: Sequence[CheckResult], *, color: bool) -> str:
    """The screen: one line per result, the fix under each red one, then a summary."""
    lines = [_render_line(r, color) for r in results]
    failed = sum(r.status is Status.FAIL for r in results)
    summary = "All checks passed." if not failed else (
        f"{failed} problem{'s' if failed > 1 else ''} found: see the fixes above.")
    return "\n".join([*lines, "", summary]) + "\n"


def _render_line(result: CheckResult, color: bool) -> str:
    if color:
        symbol, colour = _SYMBOLS[result.status]
        head = f"{colour}{symbol}{_RESET} {result.name:<11} {result.detail}"
    else:
        head = f"{_PLAIN[result.status]} {result.name:<11} {result.detail}"
    if result.fix and result.status is not Status.OK:
        head += f"\n{'':>{19 if not color else 14}}fix: {result.fix}"
    return head
