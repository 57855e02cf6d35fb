"""Digital silence on a live microphone: the watch (numbers, no clock), the reopen schedule, and
the capture process reopened by the source, with its log lines (real child processes)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.format import FRAME_S, FRAME_SAMPLES
from appliance.audio.silence import (
    Change,
    Reopen,
    ReopenOnSilence,
    SilenceWatch,
    SoundBack,
    digitally_silent,
)
from appliance.audio.source import CommandSource, open_source, silence_cause

ZEROS = bytes(FRAME_SAMPLES * 2)


def constant(value: int) -> bytes:
    return np.full(FRAME_SAMPLES, value, "<i2").tobytes()


def noise(peak: int = 1, seed: int = 0) -> bytes:
    """A frame as a very quiet real microphone delivers it: values within +/- ``peak``."""
    rng = np.random.default_rng(seed)
    return rng.integers(-peak, peak + 1, FRAME_SAMPLES).astype("<i2").tobytes()


def test_digital_silence_is_one_value_repeated() -> None:
    assert digitally_silent(ZEROS)
    assert digitally_silent(constant(-7))
    assert digitally_silent(constant(32767))
    assert digitally_silent(b"")
    assert not digitally_silent(noise(peak=1))
    one_click = bytearray(ZEROS)
    one_click[100] = 1  # a single sample of 1 LSB in 1280
    assert not digitally_silent(bytes(one_click))


def test_the_watch_reports_silence_after_ten_seconds_and_then_the_sound() -> None:
    watch = SilenceWatch(after_s=10.0)
    changes = [watch.feed(ZEROS, FRAME_S) for _ in range(124)]  # 9.92 s
    assert changes == [None] * 124
    assert watch.feed(ZEROS, FRAME_S) is Change.SILENT  # 125 x 80 ms = 10 s
    assert [watch.feed(constant(3), FRAME_S) for _ in range(1000)] == [None] * 1000
    assert watch.silent_s == pytest.approx(90.0)
    assert watch.feed(noise(), FRAME_S) is Change.SOUND
    assert watch.silent_s == 0.0
    assert [watch.feed(noise(seed=n), FRAME_S) for n in range(10)] == [None] * 10


def test_noise_before_the_limit_starts_the_count_again() -> None:
    watch = SilenceWatch(after_s=1.0)
    for _ in range(3):
        assert [watch.feed(ZEROS, 0.25) for _ in range(3)] == [None] * 3  # 0.75 s
        assert watch.feed(noise(), 0.25) is None  # not reported: no SOUND either
    assert [watch.feed(ZEROS, 0.25) for _ in range(4)] == [None] * 3 + [Change.SILENT]


def test_frame_durations_are_the_callers() -> None:
    watch = SilenceWatch(after_s=10.0)
    assert watch.feed(ZEROS, 9.0) is None
    assert watch.feed(ZEROS, 1.0) is Change.SILENT


def reopens(policy: ReopenOnSilence, frames: int) -> list[Reopen]:
    out = []
    for _ in range(frames):
        verdict = policy.feed(ZEROS, 1.0)
        assert not isinstance(verdict, SoundBack)
        if verdict is not None:
            out.append(verdict)
    return out


def test_a_capture_that_stays_silent_is_reopened_less_and_less_often() -> None:
    policy = ReopenOnSilence(after_s=10.0, max_s=60.0)
    got = reopens(policy, 400)
    # after 10 s, then 20, 40, 60, 60, ... more seconds of silence
    assert [r.silent_s for r in got] == [10, 30, 70, 130, 190, 250, 310, 370]
    assert [r.count for r in got] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r.next_s for r in got] == [20, 40, 60, 60, 60, 60, 60, 60]
    assert policy.feed(noise(), 1.0) == SoundBack(silent_s=400.0, reopens=8)
    # the next silence is a new one: the first reopen after 10 s again, and it warns (count 1)
    again = reopens(policy, 30)
    assert [(r.silent_s, r.count) for r in again] == [(10, 1), (30, 2)]


def test_sound_that_returns_before_the_first_reopen_is_not_news() -> None:
    policy = ReopenOnSilence(after_s=10.0)
    for _ in range(9):
        policy.feed(ZEROS, 1.0)
    assert policy.feed(noise(), 1.0) is None
    assert reopens(policy, 9) == []
    assert [r.silent_s for r in reopens(policy, 1)] == [10]


def test_eighty_millisecond_frames_reopen_at_ten_seconds() -> None:
    policy = ReopenOnSilence()  # the defaults: after 10 s, then 20, 40, 60, 60 ... s more
    verdicts = [policy.feed(ZEROS, FRAME_S) for _ in range(125)]
    assert verdicts[:124] == [None] * 124
    first = verdicts[124]
    assert isinstance(first, Reopen)
    assert first.silent_s == pytest.approx(10.0)
    assert (first.count, first.next_s) == (1, 20.0)
    later = [policy.feed(ZEROS, 1.0) for _ in range(200)]
    assert [r.next_s for r in later if isinstance(r, Reopen)] == [40.0, 60.0, 60.0, 60.0]


# -- the source: a real child process, restarted ---------------------------------------------

CHILD = r"""
import pathlib, sys
starts = pathlib.Path(sys.argv[1])
n = int(starts.read_text()) + 1 if starts.exists() else 1
starts.write_text(str(n))
silent_starts = int(sys.argv[2])
frame = bytes(2560) if n <= silent_starts else bytes(range(1, 256)) * 10 + bytes(10)
while True:
    sys.stdout.buffer.write(frame)
    sys.stdout.buffer.flush()
"""


def child(tmp_path: Path, silent_starts: int) -> tuple[list[str], Path]:
    """A capture command that delivers zeros for its first ``silent_starts`` starts, then
    noise; ``starts`` counts how often it was started."""
    starts = tmp_path / "starts"
    return [sys.executable, "-c", CHILD, str(starts), str(silent_starts)], starts


async def read(source: CommandSource, count: int) -> list[bytes]:
    out: list[bytes] = []
    async with asyncio.timeout(30), source:
        stream = source.frames()
        try:
            while len(out) < count:
                out.append(await anext(stream))
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
    return out


async def test_a_silent_capture_is_reopened_and_its_sound_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="appliance.audio.source")
    argv, starts = child(tmp_path, silent_starts=1)
    told: list[bool] = []
    source = CommandSource(argv, label="pulse", silence=ReopenOnSilence(after_s=2.0),
                           on_silence=told.append)
    frames = await read(source, 40)
    assert starts.read_text() == "2"
    assert told == [True, False]  # the status line: silent, then sound again
    assert [digitally_silent(f) for f in frames] == [True] * 25 + [False] * 15
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert records == [
        ("WARNING", "the microphone 'pulse' has delivered only digital silence for 2 s: its "
                    "source may have gone (PulseAudio moved the capture to another source, such "
                    "as a monitor); reopening it (if it stays silent: `pactl list short sources` "
                    "shows the sources, `pactl set-default-source NAME` picks one)"),
        ("INFO", "the microphone 'pulse' hears sound again after 2 s of digital silence "
                 "(reopened once)"),
    ]


async def test_a_capture_that_stays_silent_warns_once_and_backs_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="appliance.audio.source")
    argv, starts = child(tmp_path, silent_starts=1000)
    source = CommandSource(argv, label="plughw:CARD=Mic,DEV=0",
                           silence=ReopenOnSilence(after_s=0.8, max_s=1.6))
    await read(source, 10 + 20 + 20 + 20 + 5)  # reopens after 10, 20, 20, 20 frames
    assert starts.read_text() == "5"
    levels = [r.levelname for r in caplog.records]
    assert levels == ["WARNING", "DEBUG", "DEBUG", "DEBUG"]
    assert "'plughw:CARD=Mic,DEV=0' has delivered only digital silence for 1 s" in (
        caplog.records[0].getMessage())
    assert "`alsamixer`" in caplog.records[0].getMessage()
    assert "still digitally silent after 2 s" in caplog.records[1].getMessage()


async def test_without_a_watch_silence_is_just_frames(tmp_path: Path) -> None:
    argv, starts = child(tmp_path, silent_starts=1000)
    source = open_source("default", argv, None, silence_after_s=0)
    assert isinstance(source, CommandSource)
    frames = await read(source, 200)  # 16 s of zeros
    assert starts.read_text() == "1"
    assert all(digitally_silent(f) for f in frames)


def test_the_likely_cause_follows_the_device() -> None:
    for label in ("pulse", "parec --device=mic", "pipewire"):
        cause, fix = silence_cause(label)
        assert "PulseAudio moved the capture" in cause
        assert "pactl" in fix
    cause, fix = silence_cause("plughw:CARD=seeed2micvoicec,DEV=0")
    assert "mixer" in cause
    assert "alsamixer" in fix
