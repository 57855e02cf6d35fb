"""``appliance bench audio``: spoken commands through the real Whisper model and intent engine.

Each command in ``bench_data/audio_commands.yaml`` is synthesised at run time with two voices
(the configured Piper voice, and espeak-ng), plus the Piper set again with white noise added
(``NOISE_SNR_DB``). A command succeeds when the intent and its slots are right. Latency is the
time to transcribe and recognise one command (the rest of the loop is in ``appliance bench``).
``prompts`` compares Whisper with and without the vocabulary prompt (``skills.stt_prompt``),
``windows`` its encoder window (``stt.window_s``; 30 s is Whisper's own).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from appliance.audio.format import RATE_HZ, Int16Array, read_wav, resample
from appliance.errors import ApplianceError
from appliance.intent.bench import DATA_DIR, Case, bench_engine, load_cases
from appliance.settings import Settings
from appliance.stages import vocabulary_prompt
from appliance.stt import Transcriber
from appliance.tts import Synthesizer

NOISE_SNR_DB = 10.0
LEAD_S = 0.3  # silence around each command, as the endpointer leaves it


def piper_voice(settings: Settings) -> Callable[[str], Int16Array]:
    tts = Synthesizer(settings.tts)

    def speak(text: str) -> Int16Array:
        return resample(np.concatenate(list(tts.sentences(text))), tts.rate_hz, RATE_HZ)

    return speak


def espeak_voice(tmp: Path) -> Callable[[str], Int16Array]:
    if shutil.which("espeak-ng") is None:
        raise ApplianceError("espeak-ng is not installed", fix="apt install espeak-ng",
                             code="bench_data")

    def speak(text: str) -> Int16Array:
        wav = tmp / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text],
                       check=True, timeout=30)
        pcm = read_wav(wav)
        return resample(pcm.samples, pcm.rate_hz, RATE_HZ)

    return speak


def with_noise(samples: Int16Array, snr_db: float, seed: int) -> Int16Array:
    signal = samples.astype(np.float64)
    power = float(np.mean(signal**2)) or 1.0
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)),
                                               len(signal))
    return np.clip(signal + noise, -32768, 32767).astype(np.int16)


def padded(samples: Int16Array) -> Int16Array:
    gap = np.zeros(int(LEAD_S * RATE_HZ), np.int16)
    return np.concatenate([gap, samples, gap])


def synthesise(settings: Settings, cases: list[Case], tmp: Path) -> dict[str, list[Int16Array]]:
    piper, espeak = piper_voice(settings), espeak_voice(tmp)
    sets = {"piper": [padded(piper(c.text)) for c in cases],
            "espeak": [padded(espeak(c.text)) for c in cases]}
    sets[f"piper+noise{NOISE_SNR_DB:g}dB"] = [
        with_noise(a, NOISE_SNR_DB, seed=i) for i, a in enumerate(sets["piper"])]
    return sets


def run_set(stt: Transcriber, engine: Any, cases: list[Case],
            audio: list[Int16Array]) -> dict[str, Any]:
    ok, latencies, misses = 0, [], []
    for case, samples in zip(cases, audio, strict=True):
        start = time.perf_counter()
        transcript = stt.transcribe(samples)
        got = engine.recognize(transcript.text)
        if got is None and transcript.window_s is not None:  # as the pipeline does
            transcript = stt.transcribe(samples, full_window=True)
            got = engine.recognize(transcript.text)
        text = transcript.text
        latencies.append(time.perf_counter() - start)
        if got is not None and got.name == case.intent and got.slots == case.slots:
            ok += 1
        else:
            misses.append(f"{case.text!r} -> {text!r} -> {got.name if got else None}")
    return {"success_percent": round(100 * ok / len(cases), 1),
            "latency_s_median": round(statistics.median(latencies), 3),
            "latency_s_p90": round(float(np.percentile(latencies, 90)), 3),
            "latency_s_each": [round(x, 3) for x in latencies], "misses": misses}


def run_audio(settings: Settings, data_dir: Path | None = None,
              prompts: tuple[bool, ...] = (False,),
              windows: tuple[float, ...] = ()) -> dict[str, Any]:
    cases = load_cases((data_dir or DATA_DIR) / "audio_commands.yaml")
    engine = bench_engine(settings)
    stt = Transcriber(settings.stt)
    results: dict[str, Any] = {"commands": len(cases), "stt_model": settings.stt.model}
    with tempfile.TemporaryDirectory() as tmp:
        sets = synthesise(settings, cases, Path(tmp))
    stt.transcribe(sets["piper"][0])  # warm-up
    for window in windows or (settings.stt.window_s,):
        stt.settings = replace(settings.stt, window_s=window)
        for prompt in prompts:
            stt.initial_prompt = vocabulary_prompt(engine) if prompt else None
            results["prompt" if prompt else "no_prompt"] = stt.initial_prompt or ""
            for name, audio in sets.items():
                key = f"{name}{' prompt' if prompt else ''}"
                if len(windows) > 1:
                    key += f" window {window:g}s"
                results[key] = run_set(stt, engine, cases, audio)
    return results
