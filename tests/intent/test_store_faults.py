"""The schedule file when things go wrong: a file of the wrong shape, a save cut short by kill -9,
a state folder that cannot be written. The speaker always starts, and never claims what it did
not do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.clock import FakeClock
from appliance.intent.engine import IntentEngine
from appliance.skills.schedule import Now, Schedule, ScheduleError
from appliance.skills.service import Skills

from .conftest import T0, RecordingHost, skill_settings
from .helpers import ask, next_user_event, settle

LOST = "but I couldn't save it: it will be lost if I restart."

Edit = Callable[[dict[str, Any]], object]


def _set(key: str, value: object) -> Edit:
    return lambda d: d.update({key: value})


def _timer(key: str, value: object) -> Edit:
    return lambda d: d["timers"][0].update({key: value})


def _alarm(key: str, value: object) -> Edit:
    return lambda d: d["alarms"][0].update({key: value})


def _nested(depth: int) -> str:
    return '{"version": 1, "saved_wall": 0, "alarms": [], "timers": ' + (
        "[" * depth + "]" * depth) + "}"


# What a damaged schedule.json held, and the words the warning must name it by.
BAD_FILES: list[tuple[str, Edit | str, str]] = [
    ("not JSON", "{not json", "not JSON"),
    ("empty", "", "not JSON"),
    ("not UTF-8", "\udcff", "not JSON"),
    ("top-level list", "[]", "a list is not an object"),
    ("top-level null", "null", "None is not an object"),
    ("timers: [{}], nothing else", '{"version": 1, "timers": [{}]}', "missing alarms, saved_wall"),
    ("timers: [{}]", lambda d: d.update(timers=[{}]), "timers[0]: missing due_wall, duration_s"),
    ("timers a string", _set("timers", "ten minutes"), "timers: 'ten minutes' is not a list"),
    ("alarms an object", _set("alarms", {}), "alarms: an object is not a list"),
    ("a timer is a list", lambda d: d["timers"].append([]), "timers[1]: a list is not an object"),
    ("duration_s 'ten'", _timer("duration_s", "ten"), "timers[0].duration_s: 'ten'"),
    ("duration_s 600.5", _timer("duration_s", 600.5), "timers[0].duration_s: 600.5"),
    ("duration_s true", _timer("duration_s", True), "timers[0].duration_s: True"),
    ("duration_s negative", _timer("duration_s", -600), "timers[0].duration_s: -600"),
    ("duration_s zero", _timer("duration_s", 0), "timers[0].duration_s: 0 is not"),
    ("duration_s huge", _timer("duration_s", 10**30), "timers[0].duration_s: 1000000000000"),
    ("due_wall NaN", _timer("due_wall", math.nan), "timers[0].due_wall: nan is not a finite"),
    ("due_wall Infinity", _timer("due_wall", math.inf), "timers[0].due_wall: inf is not a fin"),
    ("due_wall -Infinity", _alarm("due_wall", -math.inf), "alarms[0].due_wall: -inf is not a"),
    ("due_wall 1e999", lambda d: json.dumps(d).replace(str(d["alarms"][0]["due_wall"]), "1e999"),
     "alarms[0].due_wall: inf is not a finite"),
    ("due_wall huge int", _alarm("due_wall", 10**400), "alarms[0].due_wall: 1000000000000"),
    ("due_wall 1e300", _alarm("due_wall", 1e300), "alarms[0].due_wall: 1e+300 is not a time"),
    ("due_wall negative", _timer("due_wall", -1.0), "timers[0].due_wall: -1.0 is not a time"),
    ("due_wall a string", _alarm("due_wall", "7:30"), "alarms[0].due_wall: '7:30' is not a num"),
    ("saved_wall NaN", _set("saved_wall", math.nan), "saved_wall: nan is not a finite number"),
    ("snoozed 'no'", _alarm("snoozed", "no"), "alarms[0].snoozed: 'no' is not true or false"),
    ("id a number", _timer("id", 7), "timers[0].id: 7 is not a text"),
    ("id empty", _alarm("id", ""), "alarms[0].id: '' is not a text"),
    ("id twice", lambda d: d["timers"].append(dict(d["timers"][0])), "timers[1].id: "),
    ("name a list", _timer("name", ["pasta"]), "timers[0].name: a list is not a text"),
    ("name very long", _timer("name", "x" * 5000), "timers[0].name: 'xxxxxxxxxx"),
    ("unknown key", _timer("colour", "red"), "timers[0]: unknown 'colour'"),
    ("version 2", _set("version", 2), "version: 2 is not 1"),
    ("version true", _set("version", True), "version: True is not 1"),
    ("version missing", lambda d: d.pop("version"), "the file: missing version"),
    ("nested 100", _nested(100), "timers[0]: a list is not an object"),
    ("nested 100000", _nested(100_000), "nested too deeply"),
]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def _saved_by_the_speaker(tmp: Path, host: RecordingHost, clock: FakeClock,
                                engine: IntentEngine) -> dict[str, Any]:
    """A schedule.json as the speaker writes it: a pasta timer and an alarm."""
    first = Skills(host, skill_settings(tmp).skills, clock, default_volume=80)
    await ask(first, engine, "Set a pasta timer for ten minutes.")
    await ask(first, engine, "Wake me up at 7:30")
    data: dict[str, Any] = json.loads((tmp / "schedule.json").read_text())
    return data


@contextlib.asynccontextmanager
async def running(skills: Skills) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(skills.run(), name="skills")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.mark.parametrize(("damage", "why"), [(d, w) for _, d, w in BAD_FILES],
                         ids=[name for name, _, _ in BAD_FILES])
async def test_a_damaged_file_is_set_aside_and_the_speaker_starts_empty(
    damage: Edit | str, why: str, tmp_path: Path, host: RecordingHost, clock: FakeClock,
    engine: IntentEngine, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedule.json"
    if isinstance(damage, str):
        text = damage
    else:
        data = await _saved_by_the_speaker(tmp_path, host, clock, engine)
        changed = damage(data)
        text = changed if isinstance(changed, str) else json.dumps(data)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    caplog.clear()

    skills = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)

    (warning,) = _warnings(caplog)
    assert str(path) in warning and why in warning, warning
    assert "moved to schedule.json.bad" in warning and "no timers or alarms" in warning
    assert (tmp_path / "schedule.json.bad").read_bytes() == text.encode("utf-8",
                                                                        "surrogateescape")
    assert not path.exists()
    assert not skills.book.schedule.timers and not skills.book.schedule.alarms
    assert skills.book.schedule.next_delay_s(skills.book.now()) is None  # nothing to spin on
    async with running(skills) as task:
        await settle()
        assert not task.done()
        reply = await ask(skills, engine, "Set a timer for ten minutes.")
        assert reply.text == "Timer set for ten minutes."
    saved = json.loads(path.read_text())
    assert [t["duration_s"] for t in saved["timers"]] == [600] and saved["alarms"] == []
    assert len(_warnings(caplog)) == 1


async def test_the_latest_bad_file_is_kept(
    tmp_path: Path, host: RecordingHost, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedule.json"
    for text in ("first", "[second]"):
        path.write_text(text)
        Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)
    assert (tmp_path / "schedule.json.bad").read_text() == "[second]"
    assert sorted(os.listdir(tmp_path)) == ["schedule.json.bad"]
    assert len(_warnings(caplog)) == 2  # one per bad file


async def test_a_valid_file_still_loads(
    tmp_path: Path, host: RecordingHost, clock: FakeClock, engine: IntentEngine,
    caplog: pytest.LogCaptureFixture
) -> None:
    saved = await _saved_by_the_speaker(tmp_path, host, clock, engine)
    assert set(saved) == {"version", "saved_wall", "timers", "alarms"}
    skills = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)
    (timer,) = skills.book.schedule.timers.values()
    assert (timer.name, timer.duration_s, timer.due_wall) == ("pasta", 600, T0 + 600)
    (alarm,) = skills.book.schedule.alarms.values()
    assert (alarm.due_wall, alarm.snoozed) == (T0 + 40 * 60, False)
    assert _warnings(caplog) == []
    assert not (tmp_path / "schedule.json.bad").exists()


@pytest.mark.parametrize(("add", "why"), [
    pytest.param(lambda s: s.add_alarm(math.nan), "the alarm's time: nan is not a finite number",
                 id="alarm at NaN"),
    pytest.param(lambda s: s.add_alarm(math.inf), "the alarm's time: inf is not a finite number",
                 id="alarm at Infinity"),
    pytest.param(lambda s: s.add_alarm(-5.0), "the alarm's time: -5.0 is not a time",
                 id="alarm before 1970"),
    pytest.param(lambda s: s.add_timer("", 600, Now(math.nan, 10.0)),
                 "the timer's end: nan is not a finite", id="timer on a NaN wall clock"),
    pytest.param(lambda s: s.add_timer("", 600, Now(T0, math.inf)),
                 "the timer's end: inf is not a finite", id="timer on an infinite clock"),
    pytest.param(lambda s: s.add_timer("", 0, Now(T0, 10.0)),
                 "duration_s: 0 is not a whole number", id="timer of 0 s"),
    pytest.param(lambda s: s.add_timer("", 10**9, Now(T0, 10.0)),
                 "duration_s: 1000000000 is not", id="timer of 30 years"),
])
def test_times_are_checked_when_added(add: Callable[[Schedule], object], why: str) -> None:
    schedule = Schedule()
    with pytest.raises(ScheduleError, match=why.replace("(", r"\(")):
        add(schedule)
    assert not schedule.timers and not schedule.alarms


def test_adding_time_is_checked_too() -> None:
    schedule = Schedule()
    timer = schedule.add_timer("pasta", 600, Now(T0, 10.0))
    with pytest.raises(ScheduleError, match="seconds: 0 is not"):
        schedule.add_time(timer, 0)
    with pytest.raises(ScheduleError, match="the timer's length: "):
        schedule.add_time(timer, 366 * 24 * 3600)
    assert schedule.timers[timer.id] == timer


# -- a save cut short ----------------------------------------------------------------------------

KILLED_MID_SAVE = """
import os, signal, sys
from pathlib import Path
from appliance.fsutil import atomic_write
atomic_write(Path(sys.argv[1]), "{half written",
             prepare=lambda tmp: os.kill(os.getpid(), signal.SIGKILL))
"""


async def test_saves_cut_short_by_kill_9_are_cleaned_up_at_start(
    tmp_path: Path, host: RecordingHost, clock: FakeClock, engine: IntentEngine,
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="appliance.skills.store")
    await _saved_by_the_speaker(tmp_path, host, clock, engine)
    for _ in range(2):  # the real atomic write, killed between writing and renaming
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED_MID_SAVE, str(tmp_path / "schedule.json"))
        assert await asyncio.wait_for(child.wait(), 60) == -signal.SIGKILL
    leftovers = sorted(p for p in os.listdir(tmp_path) if p.startswith(".schedule.json."))
    assert len(leftovers) == 2
    others = [".schedule.json.keep", ".schedule.json.abcdefghi", ".config.toml.abcdefgh",
              "notes.txt"]
    for name in others:
        (tmp_path / name).write_text("not ours")
    caplog.clear()

    skills = Skills(host, skill_settings(tmp_path).skills, clock, default_volume=80)

    assert sorted(os.listdir(tmp_path)) == sorted(["schedule.json", *others])
    assert [t.name for t in skills.book.schedule.timers.values()] == ["pasta"]  # old file intact
    removed = [r.getMessage() for r in caplog.records if "cut short" in r.getMessage()]
    assert len(removed) == 2 and all(any(n in m for n in leftovers) for m in removed)
    assert _warnings(caplog) == []


# -- a state folder that cannot be written -------------------------------------------------------

async def test_a_save_that_fails_is_told_and_logged_once(
    tmp_path: Path, host: RecordingHost, clock: FakeClock, engine: IntentEngine,
    caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state folder's parent should be")
    state = blocker / "state"  # nobody, root included, can make a folder under a file
    skills = Skills(host, skill_settings(state).skills, clock, default_volume=80)
    (unreadable,) = _warnings(caplog)
    assert f"cannot read {state / 'schedule.json'}" in unreadable
    caplog.clear()

    async with running(skills):
        with host.events.subscribe() as sub:
            reply = await ask(skills, engine, "Set a timer for ten minutes.")
            assert reply.text == f"Timer set for ten minutes, {LOST}"
            reply = await ask(skills, engine, "Add 5 minutes to the timer.")
            assert reply.text == ("Added five minutes. The fifteen minute timer has fifteen "
                                  "minutes left, but I couldn't save that: a restart will undo "
                                  "it.")
            reply = await ask(skills, engine, "Wake me up at 7 a.m.")
            assert reply.text == f"Alarm set for seven o'clock AM today, {LOST}"
            await settle()
            clock.advance(600)  # 07:00: it rings although it was never saved
            assert (await next_user_event(sub, "timer_ringing")).data["kind"] == "alarm"
            reply = await ask(skills, engine, "Snooze.")
            assert reply.text == f"Snoozing for nine minutes, {LOST}"
            reply = await ask(skills, engine, "Cancel the timer.")
            assert reply.text == ("Cancelled the fifteen minute timer, but I couldn't save that: "
                                  "it may come back if I restart.")
            reply = await ask(skills, engine, "Cancel my alarm.")
            assert reply.text.endswith(", but I couldn't save that: it may come back if I "
                                       "restart.")

    (warning,) = _warnings(caplog)  # once for the whole outage
    assert f"cannot save timers and alarms in {state}" in warning
    assert "Not a directory" in warning and "skills.state_dir" in warning


async def test_saving_works_again_when_the_folder_does(
    tmp_path: Path, host: RecordingHost, clock: FakeClock, engine: IntentEngine,
    caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    skills = Skills(host, skill_settings(blocker / "state").skills, clock, default_volume=80)
    reply = await ask(skills, engine, "Set a pasta timer for ten minutes.")
    assert reply.text == f"Pasta timer set for ten minutes, {LOST}"
    blocker.unlink()  # the folder can be made again
    reply = await ask(skills, engine, "Set a timer for five minutes.")
    assert reply.text == "Timer set for five minutes."
    saved = json.loads((blocker / "state" / "schedule.json").read_text())
    assert sorted(t["name"] for t in saved["timers"]) == ["", "pasta"]  # both, now saved
    assert sum("cannot save" in w for w in _warnings(caplog)) == 1
