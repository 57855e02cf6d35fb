"""The microphone's PulseAudio source goes away and comes back, on the real test devices.

What PulseAudio 16.1 does (checked here, not assumed): unloading the ``mic`` null sink moves the
daemon's capture stream to the new default source, ``speaker.monitor`` (it would hear the
speaker; otherwise it delivers zeros). Loading a ``mic`` sink again does not move it back (both
are monitors, and no default source was configured), so the capture stays on the fallback
until it is reopened. A capture opened while ``mic.monitor`` is missing fails (arecord: "No such
entity"), which the daemon's reconnect loop retries.

The daemon's own microphone loop and source (``open_source("pulse", ...)``) run on a pipeline of
fake stages; the silence is reported after 1 s here instead of 10.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import numpy as np
import pytest

from appliance.audio.source import AudioSource, open_source
from appliance.daemon import microphone
from appliance.events import State
from appliance.pipeline import Pipeline
from tests.core.fakes import fake_pipeline, fake_settings
from tests.system.helpers import PulseTestDevices

pytestmark = pytest.mark.audio

AFTER_S = 1.0
MIC_ARGS = ("sink_name=mic", "rate=16000", "channels=1", "norewinds=1")  # as tests/conftest.py
NOISE_PEAK = 3000
TIMEOUT_S = 20.0


class Tap:
    """The daemon's source, recording every frame the pipeline was given."""

    def __init__(self, source: AudioSource, heard: list[bytes]) -> None:
        self.source = source
        self.name = source.name
        self.heard = heard

    async def __aenter__(self) -> Tap:
        await self.source.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.source.__aexit__(et, e, tb)

    async def frames(self) -> AsyncIterator[bytes]:
        async for frame in self.source.frames():
            self.heard.append(frame)
            yield frame


def pactl(pulse: PulseTestDevices, *args: str) -> str:
    return subprocess.run(["pactl", *args], env=pulse.env, check=True, capture_output=True,
                          text=True, timeout=10).stdout


def mic_module(pulse: PulseTestDevices) -> str | None:
    for line in pactl(pulse, "list", "short", "modules").splitlines():
        fields = line.split("\t")
        if fields[1] == "module-null-sink" and "sink_name=mic " in fields[2] + " ":
            return fields[0]
    return None


def capture_sources(pulse: PulseTestDevices) -> list[str]:
    """The source each capture stream (source output) records from."""
    names = {f[0]: f[1] for f in (line.split("\t") for line in
                                  pactl(pulse, "list", "short", "sources").splitlines())}
    return [names[line.split("\t")[1]]
            for line in pactl(pulse, "list", "short", "source-outputs").splitlines()]


@pytest.fixture
def restore_mic(pulse: PulseTestDevices) -> Iterator[None]:
    """The session's ``mic`` sink is there afterwards, whatever happens. (The default devices
    are left to PulseAudio: setting them would make them "configured", and PulseAudio then moves
    the stream back by itself. Every test names its devices.)"""
    yield
    if mic_module(pulse) is None:
        pactl(pulse, "load-module", "module-null-sink", *MIC_ARGS)


def play_noise(pulse: PulseTestDevices, folder: Path, seconds: float) -> subprocess.Popen[bytes]:
    noise = np.random.default_rng(1).integers(-NOISE_PEAK, NOISE_PEAK, int(seconds * 16000))
    raw = folder / "noise.raw"
    raw.write_bytes(noise.astype("<i2").tobytes())
    return subprocess.Popen(["pacat", "--playback", "--device=mic", "--format=s16le",
                             "--rate=16000", "--channels=1", "--raw", str(raw)], env=pulse.env)


async def until(what: str, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (the frames heard, the pipeline's state, pactl) until it holds."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not condition():  # noqa: ASYNC110 - nothing to wait on but polling
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


def loud(frames: list[bytes], since: int) -> bool:
    return any(np.abs(np.frombuffer(f, "<i2")).max() > NOISE_PEAK // 2 for f in frames[since:])


async def hear_noise(pulse: PulseTestDevices, folder: Path, frames: list[bytes]) -> None:
    mark = len(frames)
    player = play_noise(pulse, folder, seconds=1.0)
    try:
        await until("the noise played into 'mic' was heard", lambda: loud(frames, mark))
    finally:
        player.terminate()
        player.wait(10)


def source_messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name in ("appliance.audio.source", "appliance.daemon")]


def pipeline_on_fakes() -> Pipeline:
    settings = fake_settings()
    settings = replace(settings, audio=replace(settings.audio, input=replace(
        settings.audio.input, device="pulse", retry_initial_s=0.2, retry_max_s=0.5)))
    pipeline, _ = fake_pipeline(settings=settings)
    return pipeline


async def run_microphone(pipeline: Pipeline, frames: list[bytes]) -> asyncio.Task[None]:
    cfg = pipeline.settings.audio.input
    task = asyncio.create_task(microphone(pipeline, lambda: Tap(
        open_source(cfg.device, cfg.command, None, silence_after_s=AFTER_S), frames)),
        name="microphone")
    await until("the microphone opened", lambda: len(frames) > 0)
    return task


async def stop(task: asyncio.Task[None], pipeline: Pipeline) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pipeline.close()


async def test_a_reloaded_source_is_found_again_by_reopening_the_capture(
    pulse: PulseTestDevices, restore_mic: None, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    pipeline, frames = pipeline_on_fakes(), list[bytes]()
    task = await run_microphone(pipeline, frames)
    try:
        await hear_noise(pulse, tmp_path, frames)
        assert capture_sources(pulse) == ["mic.monitor"]
        caplog.clear()
        module = mic_module(pulse)
        assert module is not None
        pactl(pulse, "unload-module", module)
        pactl(pulse, "load-module", "module-null-sink", *MIC_ARGS)
        # PulseAudio moved the capture to the fallback and leaves it there
        assert capture_sources(pulse) == ["speaker.monitor"]
        await until("the silence was reported", lambda: len(source_messages(caplog)) >= 1)
        await until("the capture was reopened on mic.monitor",
                    lambda: capture_sources(pulse) == ["mic.monitor"])
        await hear_noise(pulse, tmp_path, frames)
        assert source_messages(caplog) == [
            ("WARNING", "the microphone 'pulse' has delivered only digital silence for 1 s: its "
                        "source may have gone (PulseAudio moved the capture to another source, "
                        "such as a monitor); reopening it (if it stays silent: `pactl list short "
                        "sources` shows the sources, `pactl set-default-source NAME` picks one)"),
            ("INFO", "the microphone 'pulse' hears sound again after 1 s of digital silence "
                     "(reopened once)"),
        ]
        assert pipeline.state is State.IDLE  # a reopen for silence is not an error
    finally:
        await stop(task, pipeline)


async def test_a_source_that_stays_away_is_retried_until_it_is_back(
    pulse: PulseTestDevices, restore_mic: None, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    pipeline, frames = pipeline_on_fakes(), list[bytes]()
    task = await run_microphone(pipeline, frames)
    try:
        await hear_noise(pulse, tmp_path, frames)
        caplog.clear()
        module = mic_module(pulse)
        assert module is not None
        pactl(pulse, "unload-module", module)
        assert capture_sources(pulse) == ["speaker.monitor"]
        # silent on the fallback: reopened; the new capture finds no mic.monitor and fails
        await until("the reopened capture failed", lambda: pipeline.state is State.ERROR)
        (warning, error) = source_messages(caplog)[:2]
        assert warning[0] == "WARNING"
        assert "'pulse' has delivered only digital silence for 1 s" in warning[1]
        assert error[0] == "ERROR"
        assert "capture device stopped: arecord -q -D pulse" in error[1]
        assert "PulseAudio: Unable to create stream: No such entity" in error[1]
        pactl(pulse, "load-module", "module-null-sink", *MIC_ARGS)
        await until("the microphone was opened again", lambda: pipeline.state is State.IDLE)
        assert capture_sources(pulse) == ["mic.monitor"]
        await hear_noise(pulse, tmp_path, frames)
    finally:
        await stop(task, pipeline)
