"""The timers' scheduler is supervised: when it dies it is logged and started again, and a timer
still rings (fake stages, a fake clock: no model is loaded and no real time is waited)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.events import UserEvent
from appliance.skills.schedule import Item
from appliance.skills.service import Installed, install_skills, reinstall_skills
from tests.core.fakes import fake_pipeline, fake_settings

from .conftest import T0
from .helpers import handled, next_user_event, settle


async def test_a_crashed_scheduler_is_restarted_and_the_timer_still_rings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = fake_settings()
    settings = replace(settings, skills=replace(settings.skills, state_dir=str(tmp_path)))
    clock = FakeClock(T0)
    pipeline, fakes = fake_pipeline(settings=settings, clock=clock)
    installed = install_skills(pipeline, settings, clock)
    book = installed.skills.book
    real_pop_due = book.pop_due
    crashes: list[int] = []

    def pop_due_that_fails_once() -> list[Item]:
        if not crashes:
            crashes.append(1)
            raise RuntimeError("schedule bug")
        return real_pop_due()

    book.pop_due = pop_due_that_fails_once  # type: ignore[method-assign]
    try:
        with pipeline.events.subscribe() as sub:
            reply = await handled(installed.skills, "TimerSet", duration_s=60)
            assert "set" in reply.text
            await settle()
            assert crashes and not installed.scheduler.done()  # it died and waits to restart
            assert pipeline.supervisor.restarts == {"skills": 1}
            clock.advance(2.0)  # past the first restart delay (1 s +/- 20 %)
            await settle()
            clock.advance(60.0)
            ringing = await next_user_event(sub, "timer_ringing")
            await settle()
    finally:
        await pipeline.close()
    assert isinstance(ringing, UserEvent) and ringing.data["kind"] == "timer"
    assert fakes.player.sounds  # it rang on the speaker
    failed = [r for r in caplog.records if "skills failed; restarting" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert failed[0].exc_info is not None  # with its traceback


async def test_reinstalled_skills_keep_their_place_among_the_handlers(tmp_path: Path) -> None:
    settings = fake_settings()
    settings = replace(settings, skills=replace(settings.skills, state_dir=str(tmp_path)))
    pipeline, fakes = fake_pipeline(settings=settings)

    class Later:
        async def handle(self, recognition: object, session_id: str) -> None:
            return None

    first = install_skills(pipeline, settings, pipeline.clock)
    later = Later()
    pipeline.add_intent_handler(later)  # e.g. MQTT's Hermes handler, after the skills
    snoozier = replace(settings, skills=replace(settings.skills, snooze_min=3))
    second = await reinstall_skills(pipeline, snoozier)
    try:
        assert isinstance(second, Installed) and second is not first
        assert pipeline.handlers.chain == [second.skills, later]
        assert first.scheduler.done() and not second.scheduler.done()
        assert fakes.intents.contexts == [second.skills.conversation.context]
        assert pipeline.extensions == {"skills": second}
    finally:
        await pipeline.close()
    await asyncio.sleep(0)
    assert second.scheduler.done()
