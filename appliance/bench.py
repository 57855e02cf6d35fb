"""Speed and memory of the installed models on this machine (``appliance bench``).

Every figure comes from the real code path: the wake engine on 80 ms frames, Whisper on a short
spoken command, Piper on an answer, and the whole pipeline fed in real time for the end of speech
-> first answer audio latency (which includes the end-of-speech silence, ``listen.end_silence_s``).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from appliance.audio.format import (
    FRAME_BYTES,
    FRAME_S,
    RATE_HZ,
    Int16Array,
    Pcm,
    resample,
    write_wav,
)
from appliance.audio.sink import WavSink
from appliance.audio.source import WavSource
from appliance.daemon import load_pipeline
from appliance.events import EventBus
from appliance.settings import Settings
from appliance.speaker import Speaker
from appliance.tts import Synthesizer
from appliance.wake import WakeWord

COMMAND = "Set a timer for ten minutes, please."
ANSWER = "It's 4:35 PM. Your pasta timer has nine minutes left."


def speech(tts: Synthesizer, text: str) -> Int16Array:
    audio = np.concatenate(list(tts.sentences(text)))
    return resample(audio, tts.rate_hz, RATE_HZ)


def bench_wake(settings: Settings, audio: Int16Array) -> dict[str, float]:
    wake = WakeWord(settings.wake)
    raw = audio.astype("<i2").tobytes()
    frames = [raw[i : i + FRAME_BYTES] for i in range(0, len(raw) - FRAME_BYTES, FRAME_BYTES)]
    frames = (frames * (1 + 250 // max(1, len(frames))))[:250]
    start = time.process_time()
    for n, frame in enumerate(frames):
        wake.engine.scores(frame)
        if n == 0:
            start = time.process_time()  # the first frame fills buffers
    per_frame_s = (time.process_time() - start) / (len(frames) - 1)
    return {"wake_us_per_frame": round(per_frame_s * 1e6),
            "wake_core_percent": round(100 * per_frame_s / FRAME_S, 2)}


def bench_stt(pipeline: Any, command: Int16Array) -> dict[str, float]:
    pipeline.stages.stt.transcribe(command)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        pipeline.stages.stt.transcribe(command)
        times.append(time.perf_counter() - start)
    latency = statistics.median(times)
    audio_s = len(command) / RATE_HZ
    return {"stt_command_s": round(audio_s, 2), "stt_latency_s": round(latency, 3),
            "stt_rtf": round(latency / audio_s, 3)}


def bench_tts(tts: Synthesizer) -> dict[str, float]:
    start = time.perf_counter()
    first = 0.0
    samples = 0
    for sentence in tts.sentences(ANSWER):
        first = first or time.perf_counter() - start
        samples += len(sentence)
    total = time.perf_counter() - start
    return {"tts_first_audio_s": round(first, 3),
            "tts_rtf": round(total / (samples / tts.rate_hz), 3)}


async def bench_loop(pipeline: Any, wav: Path, runs: int = 3) -> dict[str, float]:
    latencies, transcribed, spoken = [], [], []
    for _ in range(runs):
        async with WavSource(wav, realtime=True, tail_s=1.5) as source:
            await pipeline.run(source)
        t = pipeline.timing
        if t.first_audio and t.end_of_speech:
            latencies.append(t.first_audio - t.end_of_speech)
            transcribed.append(t.transcribed - t.end_of_speech)
            spoken.append(t.first_audio - t.recognized)
    if not latencies:
        return {"end_of_speech_to_first_audio_s": float("nan")}
    return {"end_of_speech_to_first_audio_s": round(statistics.median(latencies), 3),
            "end_of_speech_to_transcript_s": round(statistics.median(transcribed), 3),
            "intent_to_first_audio_s": round(statistics.median(spoken), 3),
            "end_silence_s": pipeline.settings.listen.end_silence_s}


async def _run(settings: Settings) -> dict[str, Any]:
    sink = WavSink(None, realtime=True)
    pipeline = await load_pipeline(settings, sink, EventBus())
    results: dict[str, Any] = {}
    try:
        player = pipeline.stages.player
        assert isinstance(player, Speaker)  # the real one, as load_pipeline builds it
        tts = player.tts
        command = speech(tts, COMMAND)
        wake_audio = speech(tts, "Hey Jarvis.")
        results |= bench_wake(settings, np.concatenate([wake_audio, command]))
        results |= bench_stt(pipeline, command)
        results |= bench_tts(tts)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "command.wav"
            gap = np.zeros(int(0.4 * RATE_HZ), np.int16)
            question = speech(tts, "What time is it?")
            write_wav(wav, Pcm(np.concatenate([gap, wake_audio, gap, question]), RATE_HZ))
            results |= await bench_loop(pipeline, wav)
    finally:
        await pipeline.close()
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["stt_model"] = settings.stt.model
    results["stt_threads"] = settings.stt.threads
    results["wake_engine"] = settings.wake.engine
    return results


def run_bench(settings: Settings) -> dict[str, Any]:
    from appliance.hardware import bench_animator

    with tempfile.TemporaryDirectory(prefix="appliance-bench-") as state:
        # not the speaker's own timers and alarms: none rings into the figures, none is used up
        skills = replace(settings.skills, state_dir=state)
        results = asyncio.run(_run(replace(settings, skills=skills)))
    animator = bench_animator(3.0)
    results["led_animator_core_percent"] = round(animator["cpu_percent"], 2)
    results["led_animator_fps"] = round(animator["fps"], 1)
    return results
