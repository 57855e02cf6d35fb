"""``appliance listen FILE.wav [-o ANSWER.wav]``: the whole loop on a recording, stage by stage.

The recording goes through the same pipeline as the microphone (wake word, end of speech,
transcription, intent, speech); each stage is printed with the time it happened.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from appliance.audio.sink import WavSink
from appliance.audio.source import WavSource
from appliance.commands.common import settings_from
from appliance.daemon import load_pipeline
from appliance.events import (
    Event,
    EventBus,
    IntentNotRecognized,
    IntentRecognized,
    ListeningStarted,
    ResponseReady,
    SessionEnded,
    SpeechFinished,
    TranscriptReady,
    WakeDetected,
)
from appliance.pipeline import Pipeline
from appliance.settings import Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("listen", parents=[common],
                       help="run the whole loop on a recording and print each stage")
    p.add_argument("wav", type=Path, metavar="FILE.wav")
    p.add_argument("-o", "--output", type=Path, metavar="ANSWER.wav",
                   help="write the spoken answer to a WAV file")
    p.set_defaults(func=main)


def describe(event: Event) -> str | None:
    match event:
        case WakeDetected(wake_word=w, score=s):
            return f"wake        {w} (score {s:.2f})"
        case ListeningStarted(source=src):
            return f"listening   ({src})"
        case TranscriptReady(text=t):
            return f"transcript  {t!r}"
        case IntentRecognized(name=n, slots=sl):
            return f"intent      {n} {sl}"
        case IntentNotRecognized():
            return "intent      (none)"
        case ResponseReady(text=t):
            return f"answer      {t!r}"
        case SpeechFinished(cancelled=c):
            return "spoken" + (" (cancelled)" if c else "")
        case SessionEnded(reason=r) if r != "answered":
            return f"ended       {r}"
    return None


async def listen(pipeline: Pipeline, wav: Path, events: EventBus) -> list[str]:
    start = time.monotonic()
    lines = []
    with events.subscribe(1024) as sub:
        async with WavSource(wav, realtime=False) as source:
            await pipeline.run(source)
        while (event := sub.get_nowait()) is not None:
            text = describe(event)
            if text is not None:
                lines.append(f"{event.at - start:7.2f}s  {text}")
    t = pipeline.timing
    if t.first_audio:
        lines.append(
            f"timing      transcribe {t.transcribed - t.end_of_speech:.2f}s, "
            f"intent {t.recognized - t.transcribed:.3f}s, "
            f"first audio {t.first_audio - t.recognized:.2f}s; "
            f"end of speech -> first audio {t.first_audio - t.end_of_speech:.2f}s "
            "(plus the end-of-speech silence)"
        )
    return lines


async def _main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="appliance-listen-") as state:
        # A recording's "set a timer" must not land in the speaker's own schedule (the daemon
        # would announce it later): timers and alarms live in a throwaway folder here.
        settings = settings_from(args, {"listen": {"chime": False},
                                        "skills": {"state_dir": state}})
        return await _listen(args, settings)


async def _listen(args: argparse.Namespace, settings: Settings) -> int:
    events = EventBus()
    sink = WavSink(args.output)
    pipeline = await load_pipeline(settings, sink, events)
    try:
        for line in await listen(pipeline, args.wav, events):
            print(line)
    finally:
        await pipeline.close()
    if args.output is not None and sink.pcm().duration_s > 0:
        print(f"wrote {args.output} ({sink.pcm().duration_s:.1f} s)")
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
