"""Timers and alarms on an injected clock: they ring at the right time, stop, snooze, persist."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.intent.engine import IntentEngine
from appliance.skills.schedule import Now, Schedule, alarm_time, load_schedule
from appliance.skills.service import Skills

from .conftest import T0, RecordingHost
from .helpers import ask, next_user_event, settle


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("now", "args", "expected"), [
    ("2030-01-07 06:50", (7, 0, "", ""), "2030-01-07 07:00"),
    ("2030-01-07 10:00", (7, 0, "", ""), "2030-01-07 19:00"),  # the next 7 o'clock
    ("2030-01-07 22:00", (7, 30, "", ""), "2030-01-08 07:30"),
    ("2030-01-07 05:00", (6, 0, "", "tomorrow"), "2030-01-08 06:00"),  # morning first
    ("2030-01-07 05:00", (6, 0, "pm", "tomorrow"), "2030-01-08 18:00"),
    ("2030-01-07 05:00", (12, 0, "am", ""), "2030-01-08 00:00"),
    ("2030-01-07 08:00", (7, 0, "", "monday"), "2030-01-07 19:00"),  # today is a Monday
    ("2030-01-07 20:00", (7, 0, "am", "monday"), "2030-01-14 07:00"),
    ("2030-01-07 20:00", (18, 0, "", "wednesday"), "2030-01-09 18:00"),
])
def test_alarm_time(now: str, args: tuple[int, int, str, str], expected: str) -> None:
    assert alarm_time(at(now), *args) == at(expected)


@pytest.mark.parametrize("args", [(13, 0, "am", ""), (24, 0, "", ""), (7, 0, "am", "today")])
def test_alarm_time_impossible(args: tuple[int, int, str, str]) -> None:
    assert alarm_time(at("2030-01-07 08:00"), *args) is None


def test_missed_while_off_is_reported_not_rung() -> None:
    schedule = Schedule()
    now = Now(T0, 100.0)
    schedule.add_timer("pasta", 600, now)
    schedule.add_alarm(T0 + 3600)
    data = schedule.to_json(now)
    later = Now(T0 + 7200, 5.0)  # restarted two hours later (the monotonic clock restarted)
    loaded, missed = load_schedule(data, later, grace_s=120)
    assert {type(m).__name__ for m in missed} == {"Timer", "Alarm"}
    assert not loaded.timers and not loaded.alarms
    soon = Now(T0 + 300, 5.0)  # restarted five minutes later: the timer still has 5 min
    loaded, missed = load_schedule(data, soon, grace_s=120)
    assert not missed
    (timer,) = loaded.timers.values()
    assert timer.left_s(soon) == pytest.approx(300)


async def test_timer_rings_at_its_time_and_stops_by_voice(
    skills: Skills, engine: IntentEngine, clock: FakeClock, host: RecordingHost
) -> None:
    with host.events.subscribe() as sub:
        reply = await ask(skills, engine, "Set a pasta timer for ten minutes.")
        assert reply.text == "Pasta timer set for ten minutes."
        await settle()
        clock.advance(599)
        await settle()
        assert not skills.ringer.active and host.sounds == []
        clock.advance(1)
        ringing = await next_user_event(sub, "timer_ringing")
        assert ringing.data["kind"] == "timer"
        await settle()
        assert host.sounds  # a ring, not speech
        assert host.said == ["The pasta timer is done."]  # said once
        clock.advance(1.0)
        await settle()
        assert len(host.sounds) >= 2 and len(host.said) == 1
        reply = await ask(skills, engine, "Stop.")
        assert reply.text == ""  # stop says nothing
        stopped = await next_user_event(sub, "timer_stopped")
        assert stopped.data["reason"] == "stop"
    assert not skills.ringer.active


async def test_button_stop_and_ring_timeout(
    skills: Skills, engine: IntentEngine, clock: FakeClock, host: RecordingHost
) -> None:
    with host.events.subscribe() as sub:
        await ask(skills, engine, "set a timer for 30 seconds")
        await settle()
        clock.advance(30)
        await next_user_event(sub, "timer_ringing")
        skills.on_stop()  # what pipeline.stop() calls (a button press)
        assert (await next_user_event(sub, "timer_stopped")).data["reason"] == "stop"
        await ask(skills, engine, "set a timer for 1 minute")
        await settle()
        clock.advance(60)
        await next_user_event(sub, "timer_ringing")
        for _ in range(400):  # rings until ring_timeout_s (300 s)
            clock.advance(1.0)
            await settle()
            if not skills.ringer.active:
                break
        assert (await next_user_event(sub, "timer_stopped")).data["reason"] == "timeout"


async def test_the_only_timer_s_status_is_what_is_left(
    skills: Skills, engine: IntentEngine, clock: FakeClock
) -> None:
    """One timer: no need to say which (a shorter first sentence is also heard sooner)."""
    await ask(skills, engine, "Set a pasta timer for 8 minutes")
    clock.advance(75)
    reply = await ask(skills, engine, "How much time is left on the timer?")
    assert reply.text == "Six minutes and forty-five seconds left."
    reply = await ask(skills, engine, "How much time is left on the pasta timer?")
    assert reply.text == "Six minutes and forty-five seconds left."


async def test_what_more_words_could_not_change_follows_the_timers_and_alarms(
    skills: Skills, engine: IntentEngine, clock: FakeClock, host: RecordingHost
) -> None:
    """The skills' say for answering early: no timers, cancelling or asking after one does
    nothing; one, "the timer" is that one; two, which one matters; while one rings, "cancel
    the timer" stops it, so nothing about timers is moot. The same for alarms."""
    timers = {"TimerCancel", "TimerStatus"}
    moot = skills.moot()
    assert timers | {"TimerCancelAll", "AlarmCancel"} <= moot.idle and not moot.one_target
    await ask(skills, engine, "Set a pasta timer for 8 minutes")
    moot = skills.moot()
    assert timers <= moot.one_target and not timers & moot.idle
    await ask(skills, engine, "Set a timer for 10 minutes")
    moot = skills.moot()
    assert not timers & (moot.idle | moot.one_target)
    with host.events.subscribe() as sub:
        await settle()
        clock.advance(8 * 60)
        await next_user_event(sub, "timer_ringing")
    moot = skills.moot()  # the pasta timer rings; the other is the only one left
    assert not timers & (moot.idle | moot.one_target)
    await ask(skills, engine, "Stop.")
    assert timers <= skills.moot().one_target
    await ask(skills, engine, "Set an alarm for 7 am.")
    moot = skills.moot()
    assert "AlarmCancel" in moot.one_target and "AlarmCancel" not in moot.idle


async def test_several_timers_status_add_and_which_one(
    skills: Skills, engine: IntentEngine, clock: FakeClock
) -> None:
    await ask(skills, engine, "Set a pasta timer for 8 minutes")
    await ask(skills, engine, "Set a timer for 10 minutes")
    clock.advance(60)
    reply = await ask(skills, engine, "How much time is left?")
    assert reply.text == ("The pasta timer has seven minutes left and the ten minute timer has "
                          "nine minutes left.")
    reply = await ask(skills, engine, "Add 5 minutes to the pasta timer.")
    assert reply.text == "Added five minutes. The pasta timer has twelve minutes left."
    reply = await ask(skills, engine, "Cancel the timer.")
    assert reply.follow_up and reply.text.startswith("Which timer?")
    reply = await ask(skills, engine, "The pasta one.")  # only understood while asked
    assert reply.text == "Cancelled the pasta timer."
    assert engine.recognize("the pasta one") is None
    reply = await ask(skills, engine, "Cancel the timer.")  # one left: no question
    assert reply.text == "Cancelled the ten minute timer."
    assert (await ask(skills, engine, "Cancel all timers.")).text == "You have no timers."


async def test_alarm_rings_snoozes_and_lists(
    skills: Skills, engine: IntentEngine, clock: FakeClock, host: RecordingHost
) -> None:
    with host.events.subscribe() as sub:
        reply = await ask(skills, engine, "Wake me up at 7 a.m.")
        assert reply.text == "Alarm set for seven o'clock AM today."
        reply = await ask(skills, engine, "Set an alarm for tomorrow at 6.")
        assert reply.text == "Alarm set for six o'clock AM tomorrow."
        reply = await ask(skills, engine, "What alarms do I have?")
        assert reply.text == ("You have 2 alarms: seven o'clock AM today and six o'clock AM "
                              "tomorrow.")
        await settle()
        clock.advance(600)  # 07:00
        ringing = await next_user_event(sub, "timer_ringing")
        assert ringing.data["kind"] == "alarm"
        reply = await ask(skills, engine, "Snooze.")
        assert reply.text == "Snoozing for nine minutes."
        assert (await next_user_event(sub, "timer_stopped")).data["reason"] == "snooze"
        await settle()
        clock.advance(9 * 60)
        assert (await next_user_event(sub, "timer_ringing")).data["kind"] == "alarm"
        reply = await ask(skills, engine, "Turn off the alarm.")  # while ringing: stops it
        assert reply.text == ""
    reply = await ask(skills, engine, "Cancel my alarm.")
    assert reply.text == "Cancelled your alarm for six o'clock AM tomorrow."


async def test_state_survives_a_new_skills_object(
    tmp_path: Path, engine: IntentEngine, clock: FakeClock, host: RecordingHost
) -> None:
    from .conftest import skill_settings

    settings = skill_settings(tmp_path).skills
    first = Skills(host, settings, clock, default_volume=80)
    await ask(first, engine, "Set a timer for 10 minutes")
    await ask(first, engine, "Wake me up at 7:30")
    saved = json.loads((tmp_path / "schedule.json").read_text())
    assert saved["timers"][0]["due_wall"] == T0 + 600
    assert saved["alarms"][0]["due_wall"] == T0 + 40 * 60
    assert os.listdir(tmp_path) == ["schedule.json"]  # no temporary file left behind
    clock.advance(5 * 3600)  # off for five hours: both were missed
    second = Skills(host, settings, clock, default_volume=80)
    assert len(second.book.missed) == 2 and not second.book.schedule.timers
    await second._announce_missed()
    assert host.said == [
        "While I was off, the ten minute timer and your alarm for seven thirty AM went off."]
    assert second.book.missed == []


async def test_broken_state_file_starts_empty(
    tmp_path: Path, clock: FakeClock, host: RecordingHost
) -> None:
    from .conftest import skill_settings

    (tmp_path / "schedule.json").write_text("{not json")
    skills = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)
    assert not skills.book.schedule.timers
    assert (tmp_path / "schedule.json.bad").exists()


class SwallowingHost(RecordingHost):
    """``say`` like ``Pipeline.say``: returns normally when cancelled."""

    async def say(self, text: str) -> None:
        self.said.append(text)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


async def test_shutdown_while_announcing_a_ring(
    tmp_path: Path, engine: IntentEngine, clock: FakeClock
) -> None:
    from .conftest import skill_settings

    host = SwallowingHost()
    skills = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)
    task = asyncio.create_task(skills.run())
    await ask(skills, engine, "set a timer for 5 seconds")
    await settle()
    clock.advance(5)
    for _ in range(100):
        await settle()
        if host.said:
            break
    assert host.said == ["The five second timer is done."]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)  # the daemon's SIGTERM: everything ends
    assert task.done()
