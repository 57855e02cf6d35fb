"""``appliance run``: load the models once, open the microphone, and run until told to stop.

Each long-running part is a named task in one TaskGroup: the microphone loop, the systemd status
line and watchdog, and the services (LEDs/buttons, MQTT). SIGTERM/SIGINT cancel the group and
everything is awaited before exit. SIGHUP re-reads the configuration and rebuilds only what
changed. A microphone that is missing, busy or unplugged puts the assistant in the error state and
is retried with capped backoff: never a crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.audio.sink import AudioSink, open_sink
from appliance.audio.source import AudioSource, open_source
from appliance.backoff import Backoff
from appliance.clock import Clock, default_clock
from appliance.errors import ApplianceError, AudioDeviceError
from appliance.events import EventBus, State, StateChanged
from appliance.hardware import run_hardware
from appliance.logs import set_level
from appliance.pipeline import Pipeline
from appliance.settings import Settings, load_settings
from appliance.skills.core import CoreSkills
from appliance.skills.service import install_skills, reinstall_skills
from appliance.stages import build_stages
from appliance.system.reload import diff_settings
from appliance.system.sdnotify import Notifier, run_watchdog, state_status, status_line

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioPaths:
    """``--audio-in`` / ``--audio-out``: run the daemon on recordings instead of devices."""

    audio_in: Path | None = None
    audio_out: Path | None = None


async def load_pipeline(settings: Settings, sink: AudioSink, events: EventBus,
                        clock: Clock | None = None) -> Pipeline:
    """Load every model (in parallel threads) and wire the pipeline and its skills. ``clock``
    (default: the system's) tells the time for the answers, timers and alarms."""
    clock = clock or default_clock()
    stages = await build_stages(settings, sink)
    pipeline = Pipeline(settings, stages, events=events, clock=clock)
    pipeline.add_intent_handler(  # the names follow a reload of the sentences
        CoreSkills(settings.pipeline.name, lambda: pipeline.stages.intents.intent_names,
                   now=clock.now))
    install_skills(pipeline, settings, clock)  # timers, alarms, volume, stop, own commands
    return pipeline


async def microphone(pipeline: Pipeline, make_source: Callable[[], AudioSource]) -> None:
    """Run the pipeline on the microphone, reopening it with backoff when it fails.

    Returns when the source ends (a file); a device never ends by itself.
    """
    cfg = pipeline.settings.audio.input
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


async def services(settings: Settings, pipeline: Pipeline) -> None:
    """What runs beside the voice loop: LEDs and buttons, MQTT, the ESPHome API (Home
    Assistant's satellite). Restarted on reload."""
    from appliance.esphome.service import run_esphome
    from appliance.mqtt.service import run_mqtt

    async with asyncio.TaskGroup() as tg:
        tg.create_task(run_hardware(settings.hardware, pipeline, pipeline.clock), name="hardware")
        tg.create_task(run_mqtt(settings.mqtt, pipeline), name="mqtt")
        tg.create_task(run_esphome(settings, pipeline), name="esphome")


async def systemd_status(pipeline: Pipeline, notifier: Notifier) -> None:
    """READY=1 once models are loaded and the microphone was tried; STATUS= for every change.

    READY is also sent when the microphone is missing at start: the daemon is up and retrying,
    and systemd restarting it would not bring the device back.
    """
    ready = False
    with pipeline.events.subscribe() as sub:
        async for event in sub:
            if not isinstance(event, StateChanged):
                continue
            if not ready and event.old is State.STARTING:
                notifier.ready(status_line(event))
                ready = True
            else:
                notifier.status(status_line(event))


class Daemon:
    def __init__(self, settings: Settings, paths: AudioPaths, config: Path | None,
                 debug: bool = False) -> None:
        self.settings = settings
        self.debug = debug
        self.paths = paths
        self.config = config
        self.notifier = Notifier()
        self._tg: asyncio.TaskGroup | None = None
        self._mic: asyncio.Task[None] | None = None
        self._services: asyncio.Task[None] | None = None
        self._reloading: asyncio.Task[None] | None = None

    def _source(self) -> AudioSource:
        cfg = self.pipeline.settings.audio.input
        return open_source(cfg.device, cfg.command, self.paths.audio_in,
                           on_silence=self._microphone_silent)

    def _microphone_silent(self, silent: bool) -> None:
        """``systemctl status`` says while the microphone delivers only digital silence."""
        p = self.pipeline
        self.notifier.status(
            f"the microphone '{p.settings.audio.input.device}' hears only digital silence: "
            "reopening it" if silent else state_status(p.state))

    async def run(self) -> int:
        out = self.settings.audio.output
        sink = open_sink(out.device, out.command, self.paths.audio_out)
        self.sink = sink
        self.pipeline = await load_pipeline(self.settings, sink, EventBus())
        _LOGGER.info("models loaded; wake words: %s", ", ".join(self.pipeline.wake_words))
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(systemd_status(self.pipeline, self.notifier), name="systemd")
                tg.create_task(run_watchdog(self.notifier, self.pipeline.healthy), name="watchdog")
                self._start_mic()
                self._services = tg.create_task(services(self.settings, self.pipeline),
                                                name="services")
        except* _FileEnded:
            pass
        finally:
            self.notifier.stopping()
            await self.pipeline.close()
        return 0

    def _start_mic(self) -> None:
        assert self._tg is not None
        self._mic = self._tg.create_task(microphone(self.pipeline, self._source),
                                         name="microphone")
        if self.paths.audio_in is not None:
            self._mic.add_done_callback(self._file_ended)

    def _file_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and self._tg is not None:
            self._tg.create_task(_raise_file_ended(), name="file-ended")

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; rebuild only what changed; keep the rest."""
        if self._tg is None or (self._reloading and not self._reloading.done()):
            return
        self._reloading = self._tg.create_task(self._reload(), name="reload")

    async def _reload(self) -> None:
        self.notifier.reloading()
        try:
            new = load_settings(self.config)
            changed = diff_settings(self.settings, new)
            await self._apply(new, changed)
        except ApplianceError as err:
            _LOGGER.error("reload failed, keeping the running configuration: %s", err)
            self.notifier.ready(f"reload failed: {err.message}")
            return
        except Exception as err:  # any failure: the running configuration stays
            _LOGGER.error("reload failed, keeping the running configuration: %s: %s",
                          type(err).__name__, err, exc_info=err)
            self.notifier.ready(f"reload failed: {type(err).__name__}: {err}")
            return
        _LOGGER.info("reloaded; changed: %s", ", ".join(sorted(changed)) or "nothing")
        self.notifier.ready(f"reloaded: {', '.join(sorted(changed)) or 'no changes'}")

    async def _apply(self, new: Settings, changed: set[str]) -> None:
        """Everything reported as reloaded is: stages through the pipeline (which keeps what the
        user chose at run time), the skills, the log level, the microphone and the services."""
        p, old = self.pipeline, self.settings
        stage_changes = set(changed)
        if new.audio.output != old.audio.output:
            out = new.audio.output
            self.sink = open_sink(out.device, out.command, self.paths.audio_out)
            stage_changes.add("audio.output")
        stages = await build_stages(new, self.sink, previous=p.stages, changed=stage_changes)
        p.reload(new, stages)
        if "skills" in changed:
            await reinstall_skills(p, new)
        if "logging" in changed:
            set_level(self.debug, new.logging.level)
        self.settings = new
        if new.audio.input != old.audio.input and self._mic is not None:
            await _cancel(self._mic)
            self._start_mic()
        if changed & {"hardware", "mqtt", "esphome"} and self._services is not None \
                and self._tg:
            await _cancel(self._services)
            self._services = self._tg.create_task(services(new, p), name="services")


class _FileEnded(Exception):
    """The ``--audio-in`` recording has been played and answered: the daemon ends."""


async def _raise_file_ended() -> None:
    raise _FileEnded


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiomqtt may register a write callback for a socket paho has just closed (the broker went
    away): asyncio then logs EBADF with a traceback. The reconnect loop already handles the
    outage, so that one case is a debug line; everything else goes to the default handler."""
    err = context.get("exception")
    handle = repr(context.get("handle", ""))
    if isinstance(err, OSError) and err.errno == errno.EBADF and (
            "add_writer" in handle or "add_reader" in handle):
        _LOGGER.debug("socket closed under a pending callback (MQTT reconnecting): %s", err)
        return
    loop.default_exception_handler(context)


def run(settings: Settings, paths: AudioPaths, config: Path | None = None, *,
        debug: bool = False) -> int:
    """Run the daemon until SIGTERM/SIGINT (or the end of ``--audio-in``); exit code 0."""

    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None
        daemon = Daemon(settings, paths, config, debug)
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_loop_exception)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        loop.add_signal_handler(signal.SIGHUP, daemon.reload)
        try:
            return await daemon.run()
        except asyncio.CancelledError:
            _LOGGER.info("stopped")
            return 0

    return asyncio.run(main())
