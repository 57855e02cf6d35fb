"""Volume by voice, repeat, and the user's own commands (answer, MQTT message, program)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from appliance.clock import FakeClock
from appliance.controller import Recognition, Reply
from appliance.events import State
from appliance.intent.engine import IntentEngine
from appliance.settings import load_settings
from appliance.skills.custom import CustomCommands, LogPublisher, fill
from appliance.skills.service import Skills

from .conftest import RecordingHost
from .helpers import ask


async def test_volume_by_voice(skills: Skills, engine: IntentEngine, host: RecordingHost) -> None:
    assert (await ask(skills, engine, "Set the volume to 7.")).text == "Volume seven."
    assert host.volume == 70
    assert (await ask(skills, engine, "Volume 45%")).text == "Volume forty-five percent."
    assert (await ask(skills, engine, "Louder.")).text == "Volume fifty-five percent."
    assert (await ask(skills, engine, "Turn it down.")).text == "Volume forty-five percent."
    reply = await ask(skills, engine, "Mute.")
    assert reply.text == "" and host.volume == 0  # speaker mute; the microphone stays on
    assert not host.muted
    assert (await ask(skills, engine, "Unmute.")).text == "Volume forty-five percent."
    assert host.volume == 45


async def test_repeat_says_the_last_answer(
    skills: Skills, engine: IntentEngine, host: RecordingHost
) -> None:
    assert (await ask(skills, engine, "Say that again.")).text == "I haven't said anything yet."
    host.last_reply = Reply("It's seven o'clock AM.")
    assert (await ask(skills, engine, "Repeat that.")).text == "It's seven o'clock AM."


def command(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"intent": "FanOn", "sentences": [], "response": "",
                               "mqtt_topic": "", "mqtt_payload": "", "command": [],
                               "timeout_s": 5.0}
    return {**base, **fields}


def commands(tmp: Path, *cmds: dict[str, object]) -> CustomCommands:
    settings = load_settings(overrides={"skills": {"state_dir": str(tmp),
                                                   "commands": list(cmds)}})
    return CustomCommands(RecordingHost(), settings.skills.commands)


def test_fill() -> None:
    assert fill("Fan {speed} in the {room}", {"speed": 3}) == "Fan 3 in the "
    assert fill('{"state": "{state}"}', {"state": "ON"}) == '{"state": "ON"}'


async def test_response_and_mqtt_message(tmp_path: Path) -> None:
    custom = commands(tmp_path, command(response="Fan at {speed}.", mqtt_topic="home/fan/set",
                                        mqtt_payload='{"speed": {speed}}'))
    reply = custom.handle(Recognition("FanOn", {"speed": 3}))
    assert reply.text == "Fan at 3."
    await asyncio.wait_for(asyncio.gather(*custom._tasks), 5)
    assert isinstance(custom.publisher, LogPublisher)
    assert custom.publisher.published == [("home/fan/set", '{"speed": 3}')]


async def test_program_runs_with_slots(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    script = f"open({str(out)!r}, 'w').write(__import__('sys').argv[1])"
    custom = commands(tmp_path, command(command=[sys.executable, "-c", script, "{room}"]))
    assert custom.handle(Recognition("FanOn", {"room": "kitchen"})).text == ""
    await asyncio.wait_for(asyncio.gather(*custom._tasks), 10)
    assert out.read_text() == "kitchen"
    assert isinstance(custom.controller, RecordingHost) and custom.controller.said == []


@pytest.mark.parametrize(("argv", "timeout_s"), [
    ([sys.executable, "-c", "import sys; sys.exit(3)"], 5.0),
    (["/nonexistent/program"], 5.0),
])
async def test_failing_program_is_said_briefly(
    tmp_path: Path, argv: list[str], timeout_s: float
) -> None:
    custom = commands(tmp_path, command(command=argv, timeout_s=timeout_s))
    custom.handle(Recognition("FanOn"))
    await asyncio.wait_for(asyncio.gather(*custom._tasks), 10)
    assert isinstance(custom.controller, RecordingHost)
    assert custom.controller.said == ["Sorry, fan on failed."]


def gone(pid: int) -> None:
    """Returns once process ``pid`` has ended and been reaped."""
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.05)


async def test_hung_program_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); time.sleep(600)"
    custom = commands(tmp_path, command(command=[sys.executable, "-c", script], timeout_s=1.0))
    host = custom.controller
    assert isinstance(host, RecordingHost)
    host.set_state(State.SPEAKING)  # the apology waits until the answer has been spoken
    custom.handle(Recognition("FanOn"))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    await asyncio.wait_for(asyncio.to_thread(gone, pid), 20)  # killed at its 1 s timeout
    assert host.said == []  # not while the assistant is speaking
    host.set_state(State.IDLE)
    await asyncio.wait_for(asyncio.gather(*custom._tasks), 10)
    assert host.said == ["Sorry, fan on failed."]


async def test_own_command_end_to_end(tmp_path: Path, host: RecordingHost,
                                      clock: FakeClock) -> None:
    from appliance.intent.engine import make_engine

    settings = load_settings(overrides={"intent": {"sentences_dirs": []}, "skills": {
        "state_dir": str(tmp_path),
        "commands": [command(sentences=["(turn|switch) on the fan"], response="Fan on.")]}})
    skills = Skills(host, settings.skills, clock, default_volume=80)
    assert (await ask(skills, make_engine(settings), "Could you turn on the fan?")).text == (
        "Fan on.")
