"""``appliance run``: load the models once, open the microphone, and run until told to stop.

Each long-running part is a named task in one TaskGroup; SIGTERM/SIGINT cancel the group, and
everything is awaited before exit. A microphone that is missing, busy or unplugged puts the
assistant in the error state and is retried with capped backoff: never a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.audio.sink import AudioSink, open_sink
from appliance.audio.source import AudioSource, open_source
from appliance.backoff import Backoff
from appliance.errors import AudioDeviceError
from appliance.events import EventBus, State
from appliance.hardware import run_hardware
from appliance.intent.engine import IntentEngine
from appliance.intent.skills import CoreSkills
from appliance.pipeline import Pipeline
from appliance.settings import Settings
from appliance.speech import Speaker
from appliance.stt import Transcriber
from appliance.tts import Synthesizer
from appliance.vad import SileroVad
from appliance.wake import WakeWord

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioPaths:
    """``--audio-in`` / ``--audio-out``: run the daemon on recordings instead of devices."""

    audio_in: Path | None = None
    audio_out: Path | None = None


async def load_pipeline(settings: Settings, sink: AudioSink, events: EventBus) -> Pipeline:
    """Load every model (in parallel threads) and wire the pipeline."""
    wake_t = asyncio.to_thread(WakeWord, settings.wake)
    vad_t = asyncio.to_thread(SileroVad)
    stt_t = asyncio.to_thread(Transcriber, settings.stt)
    tts_t = asyncio.to_thread(Synthesizer, settings.tts)
    wake, vad, stt, tts = await asyncio.gather(wake_t, vad_t, stt_t, tts_t)
    intents = IntentEngine(settings.intent, wake.names)
    speaker = Speaker(tts, sink, rate_hz=settings.audio.output.rate_hz,
                      volume=settings.audio.output.volume)
    pipeline = Pipeline(settings, wake=wake, vad=vad, stt=stt, intents=intents,
                        speaker=speaker, events=events)
    pipeline.add_intent_handler(
        CoreSkills(settings.pipeline.name, lambda: intents.intent_names)
    )
    return pipeline


async def microphone(
    pipeline: Pipeline, settings: Settings, make_source: Callable[[], AudioSource]
) -> None:
    """Run the pipeline on the microphone, reopening it with backoff when it fails.

    Returns when the source ends (a file); a device never ends by itself.
    """
    cfg = settings.audio.input
    backoff = Backoff(cfg.retry_initial_s, cfg.retry_max_s)
    while True:
        try:
            source = make_source()
            async with source:
                await pipeline.run(source)
            return
        except AudioDeviceError as err:
            if pipeline.state is not State.ERROR:  # audio flowed since the last failure
                backoff.reset()
            if backoff.first_failure:
                _LOGGER.error("%s; fix: %s", err.message, err.fix)
            else:
                _LOGGER.debug("microphone still unavailable: %s", err.message)
            pipeline.fail(err)
            await asyncio.sleep(backoff.next_delay())


async def run_daemon(settings: Settings, paths: AudioPaths) -> int:
    events = EventBus()
    sink = open_sink(settings.audio.output.device, settings.audio.output.command, paths.audio_out)
    pipeline = await load_pipeline(settings, sink, events)
    _LOGGER.info("models loaded; wake words: %s", ", ".join(pipeline.wake.names))

    def make_source() -> AudioSource:
        return open_source(settings.audio.input.device, settings.audio.input.command,
                           paths.audio_in)

    try:
        async with asyncio.TaskGroup() as tg:
            mic = tg.create_task(microphone(pipeline, settings, make_source), name="microphone")
            tg.create_task(run_hardware(settings.hardware, pipeline), name="hardware")
            if paths.audio_in is not None:
                mic.add_done_callback(lambda _t: _cancel_group(tg))
    except* _Stop:
        pass
    finally:
        await pipeline.close()
    return 0


class _Stop(Exception):
    """Raised inside the task group to end it (the file source finished)."""


def _cancel_group(tg: asyncio.TaskGroup) -> None:
    async def stop() -> None:
        raise _Stop

    with contextlib.suppress(RuntimeError):
        tg.create_task(stop(), name="stop")


def run(settings: Settings, paths: AudioPaths) -> int:
    """Run the daemon until SIGTERM/SIGINT (or the end of ``--audio-in``); exit code 0."""

    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await run_daemon(settings, paths)
        except asyncio.CancelledError:
            _LOGGER.info("stopping")
            return 0

    return asyncio.run(main())
